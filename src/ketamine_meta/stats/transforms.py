"""Back-transformations of pooled values to the scale a reader knows (metafor's ``transf``).

A ratio is pooled as its logarithm, a proportion as its logit or double arcsine, a
correlation as Fisher's z; the estimate and the bounds of its intervals are then carried back
(metafor ``predict(res, transf = exp)``). Standard errors and test statistics are not: they
belong to the scale the model was fitted on.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from ketamine_meta.stats.effect_sizes import inverse_freeman_tukey

FloatArray = NDArray[np.float64]


def inverse_arcsine(z: ArrayLike) -> FloatArray:
    r"""Proportion from the arcsine square-root scale: :math:`\sin^2 z`, within [0, 1].

    metafor ``transf.iarcsin``: 0 below 0 and 1 above :math:`\pi/2`.
    """
    z = np.asarray(z, dtype=float)
    return np.where(z < 0, 0.0, np.where(z > np.pi / 2, 1.0, np.sin(z) ** 2))


#: Back-transformations by metafor's names (``transf.ilogit`` is ``ilogit`` here). Each takes
#: the values and the study sizes (only ``ipft.hm`` uses them: their harmonic mean).
BACK_TRANSFORMS: dict[str, Callable[[ArrayLike, ArrayLike | None], FloatArray]] = {
    "exp": lambda z, n: np.exp(np.asarray(z, dtype=float)),
    "ilogit": lambda z, n: special.expit(np.asarray(z, dtype=float)),
    "ztor": lambda z, n: np.tanh(np.asarray(z, dtype=float)),
    "iarcsin": lambda z, n: inverse_arcsine(z),
    "ipft.hm": lambda z, n: inverse_freeman_tukey(z, n),
}
#: Transformations that need the study sizes.
NEEDS_SIZES = frozenset({"ipft.hm"})


def back_transform(name: str, values: ArrayLike, sizes: ArrayLike | None = None) -> FloatArray:
    """``values`` carried back by the transformation ``name`` (one of :data:`BACK_TRANSFORMS`).

    Raises
    ------
    ValueError
        For an unknown name, or ``ipft.hm`` without the study sizes.
    """
    if name not in BACK_TRANSFORMS:
        raise ValueError(f"unknown transformation {name!r}; choose from {sorted(BACK_TRANSFORMS)}")
    if name in NEEDS_SIZES and sizes is None:
        raise ValueError(f"{name} needs the study sizes (their harmonic mean)")
    return BACK_TRANSFORMS[name](values, sizes)
