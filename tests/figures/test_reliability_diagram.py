"""The reliability diagram (explorer/figures/calibration.py)."""

import numpy as np
import pytest

from explorer import figures as F
from explorer.measure.calibration import ReliabilityBins, reliability_bins
from figure_data import hand_bins


def test_reliability_diagram_draws_the_non_empty_bins():
    bins = hand_bins()
    fig = F.reliability_diagram(bins)
    accuracy, gap, diagonal, count = fig.data
    filled = bins.count > 0
    np.testing.assert_allclose(accuracy.x, [0.375, 0.625, 0.875])
    np.testing.assert_allclose(accuracy.y, bins.accuracy[filled])
    np.testing.assert_allclose(gap.base.astype(float) + gap.y, bins.confidence[filled])  # accuracy → confidence
    assert list(diagonal.x) == [0, 1] and list(diagonal.y) == [0, 1]
    assert count.yaxis == "y2" and count.y.sum() == 10 and len(count.x) == 3


def test_reliability_diagram_counts_every_sample():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(4), size=200)
    fig = F.reliability_diagram(reliability_bins(probs, rng.integers(0, 4, 200), n_bins=15))
    assert fig.data[-1].y.sum() == 200


@pytest.mark.parametrize("field, value, match", [
    ("count", np.array([1, 2]), "bins.count"),
    ("accuracy", np.array([0.5, 0.5, 0.5]), "bins.accuracy"),
    ("confidence", np.array([np.nan, 0.4, 1.6, 0.9]), "bins.confidence"),
    ("count", np.zeros(4, dtype=int), "empty"),
])
def test_reliability_diagram_rejects_inconsistent_bins(field, value, match):
    fields = dict(vars(hand_bins()), **{field: value})
    with pytest.raises(ValueError, match=match):
        F.reliability_diagram(ReliabilityBins(**fields))
