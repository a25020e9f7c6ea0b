"""The smoothed reliability diagram (explorer/figures/calibration.py: smooth_reliability_diagram)."""

import numpy as np
import pytest

from explorer import figures as F
from explorer.core.errors import ArgumentError
from figure_data import assert_clean, hand_smooth


def finite(values):
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def test_the_curve_its_band_the_diagonal_and_the_density_below():
    smooth = hand_smooth()
    fig = F.smooth_reliability_diagram(smooth)
    band, diagonal, curve, density = fig.data
    np.testing.assert_allclose(curve.x, smooth.grid)
    np.testing.assert_allclose(finite(curve.y), smooth.accuracy)
    assert list(diagonal.x) == [0, 1] and list(diagonal.y) == [0, 1]
    # the band: one closed polygon, along high and back along low
    x, y = finite(band.x), finite(band.y)
    np.testing.assert_allclose(y[:11], smooth.high)
    np.testing.assert_allclose(y[11:22], smooth.low[::-1])
    np.testing.assert_allclose(x[:22], np.r_[smooth.grid, smooth.grid[::-1]])
    assert band.fill == "toself" and band.name == "95% band (200 bootstrap resamples)"
    np.testing.assert_allclose(density.y, smooth.density)
    assert density.yaxis == "y2" and curve.yaxis == "y"
    assert_clean(fig)


def test_smece_and_the_bandwidth_are_in_the_subtitle_and_the_band_in_the_hover():
    fig = F.smooth_reliability_diagram(hand_smooth(smooth_ece=0.0423, bandwidth=0.0311), title="Model A")
    assert fig.layout.title.text == "Model A"
    assert fig.layout.title.subtitle.text == "smECE = 0.042, kernel bandwidth σ = 0.031"
    curve = fig.data[2]
    np.testing.assert_allclose(np.asarray(curve.customdata, dtype=float)[:, :2],
                               np.column_stack([hand_smooth().low, hand_smooth().high]))
    assert "95% band %{customdata[0]:.3f} to %{customdata[1]:.3f}" in curve.hovertemplate
    assert "per unit confidence" in curve.hovertemplate
    assert F.smooth_reliability_diagram(hand_smooth()).layout.title.text == "Smoothed reliability diagram"


def test_where_the_curve_is_unknown_it_is_a_gap_and_the_band_splits():
    smooth = hand_smooth()
    accuracy, low, high = (np.where(np.arange(11) == 5, np.nan, v) for v in (smooth.accuracy, smooth.low, smooth.high))
    fig = F.smooth_reliability_diagram(hand_smooth(accuracy=accuracy, low=low, high=high))
    band, _, curve, _ = fig.data
    assert curve.y[5] is None and sum(v is None for v in curve.y) == 1
    assert sum(v is None for v in band.x) == 2  # two polygons, grid points 0-4 and 6-10
    assert 0.5 not in finite(band.x)
    assert_clean(fig)


def test_rounding_just_outside_the_range_is_drawn_clipped():
    smooth = hand_smooth()
    fig = F.smooth_reliability_diagram(hand_smooth(high=np.r_[smooth.high[:-1], 1 + 1e-12],
                                                   density=smooth.density - 1e-12))
    band, _, _, density = fig.data
    assert max(finite(band.y)) == 1.0 and min(density.y) == 0.0


@pytest.mark.parametrize("changes, match", [
    (dict(grid=np.linspace(1, 0, 11)), "smooth.grid must be at least 2 strictly increasing"),
    (dict(grid=np.linspace(0, 1.1, 11)), r"smooth.grid must lie in \[0, 1\]"),
    (dict(grid=np.r_[np.linspace(0, 0.9, 10), np.nan]), "smooth.grid must be finite"),
    (dict(accuracy=np.zeros(10)), r"smooth.accuracy must have shape \(11,\) to match smooth.grid"),
    (dict(accuracy=np.r_[np.zeros(10), np.inf]), "smooth.accuracy must be finite or NaN \\(a gap\\), got inf"),
    (dict(accuracy=np.full(11, np.nan)), "NaN everywhere"),
    (dict(high=np.full(11, 1.5)), r"smooth.high must lie in \[0, 1\]"),
    (dict(high=np.r_[np.full(10, 0.9), 1 + 1e-6]), r"smooth.high must lie in \[0, 1\]"),
    (dict(low=np.full(11, 0.9)), "smooth.low must be ≤ smooth.high, got 0.9 > 0.05 at grid point 0"),
    (dict(density=np.r_[np.ones(10), np.nan]), "smooth.density must be finite, got nan"),
    (dict(density=np.ones(12)), r"smooth.density must have shape \(11,\) to match smooth.grid"),
    (dict(density=-np.ones(11)), "smooth.density must be ≥ 0"),
    (dict(level=1.0), r"smooth.level must lie in \(0, 1\)"),
    (dict(n_resamples=0), "smooth.n_resamples must be an integer ≥ 1"),
    (dict(bandwidth=0.0), "smooth.bandwidth must be > 0"),
    (dict(smooth_ece=float("nan")), "smooth.smooth_ece must be a finite number"),
    (dict(smooth_ece="0.1"), "smooth.smooth_ece must be a number"),
])
def test_inconsistent_curves_are_refused_naming_the_field(changes, match):
    with pytest.raises(ArgumentError, match=match):
        F.smooth_reliability_diagram(hand_smooth(**changes))
