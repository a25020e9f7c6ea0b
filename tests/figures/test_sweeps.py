"""Means ± standard deviations against swept settings (explorer/figures/sweeps.py)."""

import math

import pytest

from explorer.figures.sweeps import PANEL_HEIGHT, PANEL_WIDTH, SweepPanel, sweep_panels
from figure_data import assert_clean


def panel(title="robust accuracy, PGD", log_x=False, **methods):
    """A panel over three settings; methods[name] = (means, stds)."""
    methods = methods or {"softmax": ([0.9, 0.5, 0.1], [0.01, 0.02, 0.0]), "vc": ([0.8, float("nan"), 0.2],
                                                                                  [0.03, 0.0, 0.01])}
    return SweepPanel(title, "ε (pixels in [0, 1])", "robust accuracy", [0.05, 0.1, 0.2],
                      means={m: means for m, (means, _) in methods.items()},
                      stds={m: stds for m, (_, stds) in methods.items()}, log_x=log_x)


def test_one_subplot_per_panel_with_error_bars_and_one_legend_entry_per_method():
    fig = sweep_panels([panel("a"), panel("b", log_x=True), panel("c"), panel("d")], "mnist d=16")
    assert_clean(fig)
    assert [a.text for a in fig.layout.annotations] == ["a", "b", "c", "d"]
    assert fig.layout.title.text == "mnist d=16"
    assert len(fig.data) == 8 and [t.name for t in fig.data[:2]] == ["softmax", "vc"]
    assert [t.showlegend for t in fig.data] == [True, True] + [False] * 6
    assert {t.line.color for t in fig.data if t.name == "vc"} == {fig.data[1].line.color} != {fig.data[0].line.color}
    assert fig.data[1].y == (0.8, None, 0.2)  # NaN: a gap
    assert fig.data[0].error_y.array == (0.01, 0.02, 0.0) and fig.data[0].error_y.visible
    assert fig.layout.xaxis2.type == "log" and fig.layout.xaxis.type == "linear"
    assert fig.layout.xaxis2.tickvals == (0.05, 0.1, 0.2)
    # four panels: two rows of two, sized for a static export
    assert fig.layout.xaxis3.anchor == "y3" and fig.layout.height == 120 + 2 * PANEL_HEIGHT
    assert fig.layout.width == 2 * PANEL_WIDTH + 160


def test_five_panels_wrap_after_three():
    fig = sweep_panels([panel(str(i)) for i in range(5)], "t")
    assert fig.layout.width == 3 * PANEL_WIDTH + 160 and fig.layout.height == 120 + 2 * PANEL_HEIGHT
    assert math.isclose(fig.layout.xaxis4.domain[0], 0.0)  # the fourth panel starts the second row


@pytest.mark.parametrize("panels, match", [
    ([], "panels is empty"),
    ([panel(vc=([0.5, 0.6], [0.0, 0.0]))], r"panels\[0\]\.means\['vc'\] has 2 values but x has 3"),
    ([panel(vc=([0.5, 0.6, 0.7], [0.0, -0.1, 0.0]))], r"stds\['vc'\] must be ≥ 0"),
    ([panel(vc=([0.5, "high", 0.7], [0.0, 0.0, 0.0]))], r"means\['vc'\]\[1\] must be a number"),
    ([SweepPanel("a", "x", "y", [0.0, 1.0], {"vc": [1, 2]}, {"vc": [0, 0]}, log_x=True)], "> 0 on a log axis"),
    ([SweepPanel("a", "x", "y", [1.0, 2.0], {"vc": [1, 2]}, {"softmax": [0, 0]})], "means of .* but stds of"),
    ([SweepPanel("a", "x", "y", [1.0, 2.0], {}, {})], r"panels\[0\]\.means must name at least one series"),
])
def test_bad_panels_are_refused_naming_the_argument(panels, match):
    with pytest.raises(ValueError, match=match):
        sweep_panels(panels, "t")
