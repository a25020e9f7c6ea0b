"""Tests for explorer.figures.selective: the risk-coverage curve with its band, coverage per class, set sizes."""

import numpy as np
import pytest

from explorer.core.errors import ArgumentError
from explorer.figures import coverage_bars, risk_coverage_figure, set_size_histogram
from figure_data import assert_clean


def test_risk_coverage_draws_a_line_per_model_and_its_band():
    coverage = np.arange(1, 11) / 10
    risk = np.linspace(0, 0.1, 10)
    grid = np.array([0.5, 1.0])
    fig = risk_coverage_figure({"A": (coverage, risk), "B": (coverage, risk / 2)},
                               bands={"A": (grid, [0.01, 0.05], [0.04, 0.12])})
    kinds = [(t.name, t.fill) for t in fig.data]
    assert kinds == [("A band", "toself"), ("A", None), ("B", None)]
    np.testing.assert_allclose(fig.data[0].y, [0.04, 0.12, 0.05, 0.01])  # high along, low back
    np.testing.assert_allclose(fig.data[2].y, risk / 2)
    assert fig.layout.title.text == "Risk–coverage" and fig.data[1].line.color != fig.data[2].line.color
    assert_clean(fig)


def test_coverage_bars_carry_binomial_errors_and_the_level():
    fig = coverage_bars({"A": ([0.9, 0.8, np.nan], [0.01, 0.02, np.nan])}, 0.9, ["a", "b", "c"])
    bar = fig.data[0]
    assert list(bar.x) == ["a", "b", "c"] and list(bar.error_y.array[:2]) == [0.01, 0.02]
    assert fig.layout.shapes[0].y0 == 0.9 and "1 − α = 0.9" in fig.layout.annotations[0].text
    assert bar.y[2] is None  # a class without examples has no bar
    assert_clean(fig)


def test_set_size_histogram_shows_shares():
    fig = set_size_histogram({"A": np.array([1, 3, 0, 0]), "B": np.array([0, 2, 2, 0])})
    np.testing.assert_allclose(fig.data[0].y, [0.25, 0.75, 0])  # no set holds 3 classes: not drawn
    assert list(fig.data[1].x) == [0, 1, 2]
    assert_clean(fig)


@pytest.mark.parametrize("build", [
    lambda: risk_coverage_figure({}),
    lambda: risk_coverage_figure({"A": ([0.5, 1.0], [0.1])}),
    lambda: risk_coverage_figure({"A": ([0.5, 1.0], [0.1, 1.5])}),
    lambda: coverage_bars({"A": ([0.9], [0.1])}, 1.2),
    lambda: coverage_bars({"A": ([0.9, 0.8], [0.1])}, 0.9),
    lambda: set_size_histogram({"A": np.array([-1, 2])}),
])
def test_rejects_bad_arguments(build):
    with pytest.raises(ArgumentError):
        build()
