"""Back-transformations by metafor's names (:mod:`ketamine_meta.stats.transforms`)."""

from __future__ import annotations

import numpy as np
import pytest

from ketamine_meta.stats.effect_sizes import proportion_freeman_tukey, proportion_logit
from ketamine_meta.stats.transforms import BACK_TRANSFORMS, back_transform, inverse_arcsine


def test_each_undoes_its_measure():
    logit, _ = proportion_logit(np.array([3.0, 10.0]), np.array([20.0, 40.0]))
    assert back_transform("ilogit", logit) == pytest.approx([3 / 20, 10 / 40], rel=1e-14)
    assert back_transform("exp", np.log([0.5, 2.0])) == pytest.approx([0.5, 2.0], rel=1e-14)
    assert back_transform("ztor", np.arctanh([-0.3, 0.8])) == pytest.approx([-0.3, 0.8])
    assert back_transform("iarcsin", np.arcsin(np.sqrt([0.2, 0.9]))) == pytest.approx([0.2, 0.9])
    sizes = np.array([50.0, 50.0, 50.0])
    pft, _ = proportion_freeman_tukey(np.array([10.0, 25.0]), 50.0)
    # Miller's inversion is approximate; at the harmonic mean size it is close to exact.
    assert back_transform("ipft.hm", pft, sizes) == pytest.approx([0.2, 0.5], abs=2e-3)


def test_the_arcsine_is_clipped_to_proportions_as_metafor_does():
    assert inverse_arcsine([-0.1, 0.0, np.pi / 2, 2.0]).tolist() == [0.0, 0.0, 1.0, 1.0]


def test_unknown_names_and_missing_sizes_are_refused():
    assert sorted(BACK_TRANSFORMS) == ["exp", "iarcsin", "ilogit", "ipft.hm", "ztor"]
    with pytest.raises(ValueError, match="unknown transformation 'log'"):
        back_transform("log", [1.0])
    with pytest.raises(ValueError, match=r"ipft\.hm needs the study sizes"):
        back_transform("ipft.hm", [0.5])
