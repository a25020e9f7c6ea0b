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


def test_every_bar_carries_its_bin_index_so_a_click_names_the_bin():
    bins = hand_bins()  # bin 0 is empty: the bars are bins 1, 2, 3
    accuracy, gap, _, count = F.reliability_diagram(bins).data
    for bar in (accuracy, gap, count):
        np.testing.assert_array_equal(np.asarray(bar.customdata)[:, 0], [1, 2, 3])
        assert bar.hoverinfo != "skip"  # a trace that skips hover takes no clicks
    # the hover reads the bin's edges and count from the columns after the index
    np.testing.assert_allclose(np.asarray(accuracy.customdata)[:, 1:3], [[0.25, 0.5], [0.5, 0.75], [0.75, 1.0]])
    np.testing.assert_array_equal(np.asarray(accuracy.customdata)[:, 4], bins.count[1:])
    assert "customdata[4]} samples" in accuracy.hovertemplate


def test_a_chosen_bin_is_outlined_and_an_empty_or_missing_one_refused():
    accuracy, _, _, count = F.reliability_diagram(hand_bins(), highlight_bin=2).data
    for bar in (accuracy, count):
        assert list(bar.marker.line.color) == ["white", "#000000", "white"]  # bars of bins 1, 2, 3
        assert list(bar.marker.line.width) == [1, 4, 1]
    plain = F.reliability_diagram(hand_bins()).data[0]
    assert set(plain.marker.line.color) == {"white"}
    for b in (0, 4, -1):  # bin 0 is empty
        with pytest.raises(ValueError, match="highlight_bin"):
            F.reliability_diagram(hand_bins(), highlight_bin=b)
