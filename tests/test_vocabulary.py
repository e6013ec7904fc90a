"""Display names of the package's codes (:mod:`ketamine_meta.evidence.vocabulary`)."""

from __future__ import annotations

from ketamine_meta.evidence.vocabulary import ENANTIOMER_NAMES, ROUTE_NAMES, code_of
from ketamine_meta.figures.plotting import ROUTE_NAMES as FIGURE_ROUTE_NAMES


def test_a_printed_name_gives_its_code_in_any_case():
    assert code_of("intranasal") == "IN"
    assert code_of("INTRAVENOUS") == "IV"
    assert code_of("Racemic Ketamine") == "racemic"
    assert code_of("esketamine") == "esketamine"


def test_other_text_is_left_as_it_is():
    assert code_of("Murrough2013") == "Murrough2013"
    assert code_of("iv") == "iv"


def test_the_figures_print_these_names():
    assert FIGURE_ROUTE_NAMES is ROUTE_NAMES
    assert set(ENANTIOMER_NAMES) == {"racemic", "esketamine", "arketamine"}
