"""The calibration/refinement bars (explorer/figures/calibration.py: decomposition_figure), and the
calibration figures as PNGs."""

import numpy as np
import pytest

from explorer import figures as F
from explorer.core.errors import ArgumentError
from explorer.figures.calibration import WIDTH
from explorer.figures.static import browser, write_pngs
from figure_data import Parts, assert_clean, hand_bands, hand_bins, hand_smooth
from test_static import png_size

PARTS = {"Model A": Parts(0.65, 0.09, 0.56), "Model A + isotonic": Parts(0.57, 0.005, 0.565),
         "Model B": Parts(0.6, 0.02, 0.58)}


def test_one_stacked_bar_per_row_refinement_first_then_calibration_then_the_total():
    fig = F.decomposition_figure(PARTS)
    refinement, calibration, total = fig.data
    for trace in (refinement, calibration, total):
        assert list(trace.y) == list(PARTS)
    np.testing.assert_allclose(refinement.x, [p.refinement for p in PARTS.values()])
    np.testing.assert_allclose(calibration.x, [p.calibration for p in PARTS.values()])
    np.testing.assert_allclose(total.x, [p.score for p in PARTS.values()])
    assert list(total.text) == [" 0.650", " 0.570", " 0.600"]
    assert fig.layout.barmode == "relative" and fig.layout.yaxis.autorange == "reversed"  # first row on top
    assert refinement.orientation == calibration.orientation == "h"
    assert_clean(fig)


def test_the_hover_says_what_each_part_means_in_nats_and_its_share():
    refinement, calibration, total = F.decomposition_figure(PARTS, score="NLL").data
    assert "recalibration cannot remove it" in refinement.hovertemplate and "cannot remove" in refinement.name
    assert "recalibration map could remove" in calibration.hovertemplate
    for trace in (refinement, calibration, total):
        assert "%{x:.4f} nats" in trace.hovertemplate
    np.testing.assert_allclose(calibration.customdata, [0.09 / 0.65, 0.005 / 0.57, 0.02 / 0.6])
    assert "%{customdata:.0%} of it" in calibration.hovertemplate


def test_the_brier_score_has_no_unit():
    fig = F.decomposition_figure({"A": Parts(0.3, 0.05, 0.25)}, score="Brier")
    assert fig.layout.xaxis.title.text == "Brier (no unit)" and fig.layout.title.text.startswith("Brier")
    assert "nats" not in fig.data[0].hovertemplate and "%{x:.4f} (" in fig.data[0].hovertemplate


def test_a_negative_estimate_of_a_part_is_drawn_left_of_zero():
    fig = F.decomposition_figure({"A": Parts(0.5, -0.01, 0.51)})
    assert fig.data[1].x[0] == -0.01 and fig.layout.xaxis.range[0] < -0.01


def test_a_title_replaces_the_default_one():
    assert F.decomposition_figure(PARTS).layout.title.text == "NLL: calibration and refinement"
    assert F.decomposition_figure(PARTS, title="Model A, test split").layout.title.text == "Model A, test split"


@pytest.mark.parametrize("parts, score, match", [
    ({}, "NLL", "parts must name at least one"),
    (PARTS, "ECE", "unknown score 'ECE'; choose one of NLL, Brier"),
    ({"A": Parts(0.7, 0.09, 0.56)}, "NLL", r"parts\['A'\]: score 0.7 must equal calibration \+ refinement = 0.65"),
    ({"A": Parts(float("nan"), 0.09, 0.56)}, "NLL", r"parts\['A'\].score must be a finite number"),
    ({"A": Parts(0.65, "0.09", 0.56)}, "NLL", r"parts\['A'\].calibration must be a number"),
])
def test_inconsistent_parts_are_refused(parts, score, match):
    with pytest.raises(ArgumentError, match=match):
        F.decomposition_figure(parts, score)


FIGURES = {
    "reliability": lambda: F.reliability_diagram(hand_bins(), bands=hand_bands()),
    "smooth": lambda: F.smooth_reliability_diagram(hand_smooth()),
    "decomposition": lambda: F.decomposition_figure(PARTS),
}


@pytest.mark.parametrize("name", FIGURES)
def test_every_calibration_figure_sets_the_size_a_png_export_needs(name):
    fig = FIGURES[name]()
    assert fig.layout.width == WIDTH and fig.layout.height >= 400


@pytest.mark.skipif(browser() is None, reason="no Chrome or Chromium for plotly's export (apt-get install chromium)")
def test_the_calibration_figures_export_as_pngs_of_their_size(tmp_path):
    figures = {tmp_path / f"{name}.png": build() for name, build in FIGURES.items()}
    for path in write_pngs(figures):
        assert png_size(path) == (figures[path].layout.width, figures[path].layout.height)
