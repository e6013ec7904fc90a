"""How a fitted model is named in figures, captions and report pages.

No matplotlib here: the report's pages (report_pages) name the model without drawing.
"""

from __future__ import annotations

from ketamine_meta.stats.tau2 import COMMON_EFFECT_METHODS

#: How each inference method is named in figures and captions.
TEST_NAMES = {
    "knha": "Hartung-Knapp confidence intervals",
    "adhoc": "ad hoc Hartung-Knapp confidence intervals (never narrower than Wald)",
    "z": "Wald z confidence intervals",
}


def model_text(method: str, test: str) -> str:
    """``τ² by REML, Hartung-Knapp confidence intervals``: the fitted model, in words.

    A common-effect model (metafor's EE, FE) estimates no τ²: ``inverse-variance weights``.
    """
    if method in COMMON_EFFECT_METHODS:
        return f"inverse-variance weights, {TEST_NAMES.get(test, test)}"
    return f"τ² by {method}, {TEST_NAMES.get(test, test)}"


def fitted_model_text(method: str, test: str) -> str:
    """``random-effects model, τ² by REML, ...``: the kind of model, then :func:`model_text`."""
    kind = "common-effect" if method in COMMON_EFFECT_METHODS else "random-effects"
    return f"{kind} model, {model_text(method, test)}"


def p_text(p: float) -> str:
    """``p = 0.042``, or ``p < 0.001`` where three decimals would print ``p = 0.000``."""
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def hours_text(hours: float) -> str:
    """A time after the first dose as figures print it: ``24 h`` below two days, else ``28 d``."""
    return f"{hours:g} h" if hours < 48 else f"{hours / 24:g} d"
