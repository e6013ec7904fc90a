"""The engine's distribution functions are scipy.stats's, bit for bit, on a grid with edges.

ketamine_meta.stats.distributions calls the special functions that scipy.stats calls, to
spare every workflow process the import of scipy.stats; equality (not closeness) is what
keeps every committed result unchanged.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from ketamine_meta.stats import distributions

X = np.array([-np.inf, -40.0, -3.2, -1.0, -1e-12, 0.0, 1e-12, 0.5, 1.96, 7.5, 60.0, np.inf])
Q = np.array([0.0, 1e-300, 1e-12, 0.001, 0.025, 0.5, 0.8, 0.975, 1 - 1e-12, 1.0])
DF = np.array([1.0, 2.0, 3.0, 7.5, 29.0, 1000.0, np.inf])
CASES = [
    ("norm_cdf", stats.norm.cdf, (X,)),
    ("norm_sf", stats.norm.sf, (X,)),
    ("norm_ppf", stats.norm.ppf, (Q,)),
    ("t_sf", stats.t.sf, (X[:, None], DF)),
    ("t_ppf", stats.t.ppf, (Q[:, None], DF)),
    ("t_isf", stats.t.isf, (Q[:, None], DF)),
    ("chi2_cdf", stats.chi2.cdf, (np.abs(X)[:, None], DF[:-1])),
    ("chi2_sf", stats.chi2.sf, (np.abs(X)[:, None], DF[:-1])),
    ("chi2_ppf", stats.chi2.ppf, (Q[:, None], DF[:-1])),
    ("chi2_isf", stats.chi2.isf, (Q[:, None], DF[:-1])),
    ("f_sf", stats.f.sf, (np.abs(X)[:, None], DF[:-1], DF[1:-1, None, None])),
]


@pytest.mark.parametrize(("name", "reference", "args"), CASES, ids=[c[0] for c in CASES])
def test_equals_scipy_stats_bit_for_bit(name, reference, args):
    np.testing.assert_array_equal(getattr(distributions, name)(*args), reference(*args))


@pytest.mark.parametrize(("name", "reference", "args"), CASES, ids=[c[0] for c in CASES])
def test_a_scalar_gives_a_scalar(name, reference, args):
    first = [np.ravel(a)[3] for a in args]
    got = getattr(distributions, name)(*first)
    assert np.ndim(got) == 0 and got == reference(*first)


def test_every_function_of_the_module_is_checked():
    public = {n for n in vars(distributions) if n.split("_")[0] in {"norm", "t", "chi2", "f"}}
    assert public == {c[0] for c in CASES}
