"""The reliability diagram (explorer/figures/calibration.py)."""

import numpy as np
import pytest

from explorer import figures as F
from explorer.core.errors import ArgumentError
from explorer.measure.calibration import ReliabilityBins, reliability_bins
from figure_data import assert_clean, hand_bands, hand_bins


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


# With bands: the interval on each bin's accuracy, the consistency band, sparse bins faded


def traces(fig):
    """name → trace of the figure's named traces."""
    return {trace.name: trace for trace in fig.data if trace.name}


def finite(values):
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def test_without_bands_the_diagram_is_as_before():
    assert F.reliability_diagram(hand_bins(), bands=None).to_json() == F.reliability_diagram(hand_bins()).to_json()
    with_bands = F.reliability_diagram(hand_bins(), bands=hand_bands())
    assert [t.name for t in with_bands.data[:4]] == [t.name for t in F.reliability_diagram(hand_bins()).data]
    assert_clean(with_bands)


def test_the_interval_of_each_non_empty_bin_is_drawn_from_low_to_high_at_its_centre():
    bands = hand_bands()
    interval = traces(F.reliability_diagram(hand_bins(), bands=bands))["90% interval on accuracy"]
    x, y = finite(interval.x), finite(interval.y)
    for centre, low, high in zip([0.375, 0.625, 0.875], bands.low[1:], bands.high[1:]):
        at = np.isclose(x, centre)  # the vertical line: two points at the centre
        np.testing.assert_allclose(sorted(y[at]), [low, high])
    assert np.nanmin(x) > 0.25 and np.isfinite(y).sum() == 3 * 6  # a line and two caps per non-empty bin
    assert interval.hoverinfo == "skip" and interval.yaxis == "y"


def test_the_consistency_band_is_a_step_over_the_non_empty_bins_only():
    bands = hand_bands()
    band = next(t for t in F.reliability_diagram(hand_bins(), bands=bands).data if getattr(t, "fill", None) == "toself")
    assert band.name == "where a calibrated model's bins fall (90%)" and band.hoverinfo == "skip"
    x, y = finite(band.x), finite(band.y)
    assert np.nanmin(x) == 0.25 and np.nanmax(x) == 1.0  # the empty bin [0, 0.25) has no band
    for lo, hi, low, high in zip([0.25, 0.5, 0.75], [0.5, 0.75, 1.0], bands.consistency_low[1:],
                                 bands.consistency_high[1:]):
        inside = (x >= lo) & (x <= hi)
        assert {low, high} <= set(y[inside])  # each bin's step: flat at its low and high ends
    assert np.isnan(x).sum() == 1  # one run of non-empty bins: one polygon


def test_an_empty_bin_between_others_splits_the_band():
    bins = ReliabilityBins(**dict(vars(hand_bins()), count=np.array([3, 0, 5, 2]),
                                  accuracy=np.array([0.5, np.nan, 0.6, 1.0]),
                                  confidence=np.array([0.2, np.nan, 0.6, 0.9])))
    nan = np.nan
    bands = hand_bands(low=np.array([0.1, nan, 0.3, 0.6]), high=np.array([0.9, nan, 0.9, 1.0]),
                       consistency_low=np.array([0.0, nan, 0.2, 0.5]), consistency_high=np.array([0.6, nan, 0.9, 1.0]))
    fig = F.reliability_diagram(bins, bands=bands)
    band = next(t for t in fig.data if getattr(t, "fill", None) == "toself")
    x = finite(band.x)
    assert np.isnan(x).sum() == 2 and not ((x > 0.25) & (x < 0.5)).any()
    assert_clean(fig)


def test_sparse_bins_are_faded_in_both_panels_named_in_the_legend_and_the_hover():
    fig = F.reliability_diagram(hand_bins(), bands=hand_bands())  # bins 1 and 3 sparse (bin 0 empty)
    accuracy, gap, _, count = fig.data[:4]
    for bar in (accuracy, gap, count):
        np.testing.assert_allclose(bar.marker.opacity, [0.35, 1.0, 0.35])
    entry = traces(fig)["fewer than 4 examples (faded)"]
    assert entry.showlegend is not False and entry.hoverinfo == "skip"
    assert ["too few" in text for text in accuracy.hovertext] == [True, False, True]
    assert "%{hovertext}" in accuracy.hovertemplate


def test_without_a_sparse_bin_nothing_is_faded_and_the_legend_says_nothing_of_it():
    fig = F.reliability_diagram(hand_bins(), bands=hand_bands(sparse=np.array([True, False, False, False])))
    np.testing.assert_allclose(fig.data[0].marker.opacity, [1.0, 1.0, 1.0])  # bin 0 is empty, not drawn
    assert not any("fewer than" in (trace.name or "") for trace in fig.data)
    assert "too few" not in "".join(fig.data[0].hovertext)


def test_the_accuracy_hover_gives_the_interval_and_the_band_with_their_level():
    bands = hand_bands()
    accuracy = F.reliability_diagram(hand_bins(), bands=bands).data[0]
    data = np.asarray(accuracy.customdata, dtype=float)
    np.testing.assert_array_equal(data[:, 0], [1, 2, 3])  # a click still names the bin
    for column, values in zip(range(5, 9), (bands.low, bands.high, bands.consistency_low, bands.consistency_high)):
        np.testing.assert_allclose(data[:, column], values[1:])
    assert "90% interval on accuracy %{customdata[5]" in accuracy.hovertemplate
    assert "a calibrated model's accuracy: %{customdata[7]" in accuracy.hovertemplate
    assert "customdata[4]} samples" in accuracy.hovertemplate


def test_bands_from_real_bins_keep_every_sample_and_the_highlight():
    rng = np.random.default_rng(1)
    probs = rng.dirichlet(np.ones(3) * 0.5, size=300)
    bins = reliability_bins(probs, rng.integers(0, 3, 300), n_bins=10)
    empty = bins.count == 0
    spread = np.where(empty, np.nan, 0.1)
    accuracy = np.where(empty, np.nan, bins.accuracy)
    confidence = np.where(empty, np.nan, bins.confidence)
    bands = hand_bands(low=np.clip(accuracy - spread, 0, 1), high=np.clip(accuracy + spread, 0, 1),
                       consistency_low=np.clip(confidence - spread, 0, 1),
                       consistency_high=np.clip(confidence + spread, 0, 1), sparse=bins.count < 20, min_count=20)
    chosen = int(np.argmax(bins.count))
    fig = F.reliability_diagram(bins, bands=bands, highlight_bin=chosen)
    assert fig.data[3].y.sum() == 300 and "#000000" in list(fig.data[0].marker.line.color)
    assert_clean(fig)


@pytest.mark.parametrize("changes, match", [
    (dict(low=np.array([np.nan, 0.1, 0.2])), r"bands.low must have shape \(4,\)"),
    (dict(high=np.array([np.nan, np.nan, 0.9, 1.0])), "bands.high of non-empty bins must be finite"),
    (dict(consistency_high=np.array([np.nan, 0.8, np.inf, 1.0])), "bands.consistency_high"),
    (dict(consistency_low=np.array([np.nan, -0.1, 0.2, 0.5])), r"bands.consistency_low must lie in \[0, 1\]"),
    (dict(low=np.array([np.nan, 0.8, 0.3, 0.6])), "bands.low must be ≤ bands.high, got 0.8 > 0.75 at bin 1"),
    (dict(sparse=np.array([0, 1, 0, 1])), "bands.sparse must be a bool array"),
    (dict(sparse=np.array([True, False])), r"bands.sparse .* shape \(4,\)"),
    (dict(level=95), r"bands.level must lie in \(0, 1\)"),
    (dict(level=float("nan")), "bands.level must be a finite number"),
    (dict(min_count=0), "bands.min_count must be an integer ≥ 1"),
    (dict(min_count=2.5), "bands.min_count"),
])
def test_inconsistent_bands_are_refused_naming_the_field(changes, match):
    with pytest.raises(ArgumentError, match=match):
        F.reliability_diagram(hand_bins(), bands=hand_bands(**changes))


def test_nan_in_the_bands_of_an_empty_bin_is_not_drawn_whatever_it_holds():
    garbage = hand_bands(low=np.array([0.9, 0.05, 0.3, 0.6]), high=np.array([0.1, 0.75, 0.9, 1.0]))
    assert F.reliability_diagram(hand_bins(), bands=garbage).to_json() == \
        F.reliability_diagram(hand_bins(), bands=hand_bands()).to_json()  # bin 0 is empty: its values are ignored
