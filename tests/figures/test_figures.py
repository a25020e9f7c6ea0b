"""Tests for explorer.figures: each builder draws the data it is given, serialises, and rejects bad input."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest

from explorer import figures as F
from explorer.measure.calibration import ReliabilityBins, reliability_bins

ROOT = Path(__file__).resolve().parents[2]
CLASSES = ["zero", "one", "two"]


def numbers(obj):
    """Every number in a nested plotly JSON structure (trace data, None skipped)."""
    if isinstance(obj, dict):
        for value in obj.values():
            yield from numbers(value)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            yield from numbers(value)
    elif isinstance(obj, np.ndarray) and obj.dtype.kind in "fiu":
        yield from obj.ravel().tolist()
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        yield obj


def assert_clean(fig):
    """A Figure whose trace data hold no NaN or infinity and that serialises to JSON."""
    assert isinstance(fig, go.Figure)
    assert np.isfinite(list(numbers([trace.to_plotly_json() for trace in fig.data]))).all()
    json.loads(fig.to_json())
    assert fig.layout.font.size >= 16


def hand_bins():
    """Four bins on [0, 1], the first empty (NaN statistics), 10 samples in all."""
    nan = float("nan")
    return ReliabilityBins(edges=np.linspace(0, 1, 5), confidence=np.array([nan, 0.4, 0.6, 0.9]),
                           accuracy=np.array([nan, 1 / 3, 0.6, 1.0]), count=np.array([0, 3, 5, 2]))


def points_and_labels(n=30, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 2)), np.arange(n) % len(CLASSES)


HISTORY = [  # a softmax-like history: no kl_estimate, no disc_accuracy; one class absent at epoch 2
    {"epoch": 1, "loss": 1.2, "cross_entropy": 1.2, "prior_nll": 3.0, "val_accuracy": 0.7,
     "val_ece": 0.05, "val_nll": 0.9, "latent_norm": [1.0, 2.0, 3.0], "seconds": 0.5},
    {"epoch": 2, "loss": 0.8, "cross_entropy": 0.8, "prior_nll": 3.5, "val_accuracy": 0.8,
     "val_ece": 0.04, "val_nll": 0.7, "latent_norm": [1.5, float("nan"), 4.0], "seconds": 0.5},
]


def test_importing_figures_loads_neither_streamlit_nor_torch():
    code = "import sys, explorer.figures; print(sorted({m.split('.')[0] for m in sys.modules}))"
    loaded = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert not {"streamlit", "torch"} & set(eval(loaded.stdout))


# ---------------------------------------------------------------------------------------------------
# Every builder: serialisable, no NaN in the trace data, projector-sized fonts


@pytest.mark.parametrize("build", [
    lambda: F.reliability_diagram(hand_bins()),
    lambda: F.confidence_histogram({"A": np.array([0.5, 1.0]), "B": np.array([0.9])}),
    lambda: F.norm_histogram({"A": np.array([1.0, 2.0]), "B": np.array([3.0])}),
    lambda: F.score_histograms(np.array([0.9, 0.8]), np.array([0.2, 0.5]), "max probability", auroc=0.9),
    lambda: F.chi2_histogram(np.array([0.5, 1.0, 3.0]), d=1, ks=0.2),
    lambda: F.latent_scatter(*points_and_labels(), CLASSES, ellipses=[(0, 1, np.eye(2))], note="z itself"),
    lambda: F.training_curves(HISTORY),
    lambda: F.accuracy_vs([0, 0.1], {"A": [0.9, float("nan")]}, "ε (pixels)"),
    lambda: F.image_row([np.zeros((4, 4)), np.ones((4, 4, 3))], ["clean", "adversarial"]),
    lambda: F.probability_bars({"A before": np.array([0.2, 0.3, 0.5])}, CLASSES),
], ids=["reliability", "confidence", "norm", "score", "chi2", "latent", "training", "accuracy_vs",
        "image_row", "probability_bars"])
def test_builder_returns_a_clean_figure(build):
    assert_clean(build())


# ---------------------------------------------------------------------------------------------------
# Calibration


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


# ---------------------------------------------------------------------------------------------------
# Histograms


def test_confidence_histogram_bars_are_fractions_including_confidence_one():
    confidences = {"A: softmax": np.array([0.1, 0.55, 1.0, 1.0]), "B: vc": np.array([0.3, 0.999])}
    fig = F.confidence_histogram(confidences, n_bins=10)
    assert [trace.name for trace in fig.data] == list(confidences)
    for trace in fig.data:
        assert len(trace.x) == 10
        assert trace.y.sum() == pytest.approx(1.0)
    assert fig.data[0].y[-1] == pytest.approx(0.5)  # 1.0 lands in the closed last bin


@pytest.mark.parametrize("confidences, match", [
    ({}, "at least one"),
    ({"A": np.array([0.5, 1.2])}, r"confidences\['A'\] must lie in \[0, 1\]"),
    ({"A": np.ones((2, 2))}, r"confidences\['A'\] must have shape \(N,\)"),
])
def test_confidence_histogram_rejects_bad_input(confidences, match):
    with pytest.raises(ValueError, match=match):
        F.confidence_histogram(confidences)


def test_norm_and_score_histograms_share_bins_between_series():
    fig = F.norm_histogram({"A": np.array([0.0, 1.0, 2.0]), "B": np.array([5.0, 10.0])}, n_bins=8)
    np.testing.assert_array_equal(fig.data[0].x, fig.data[1].x)
    assert [trace.y.sum() for trace in fig.data] == pytest.approx([1.0, 1.0])
    fig = F.score_histograms(np.array([0.9, 0.95]), np.array([0.2, 0.6, 0.7]), "max probability", auroc=0.875)
    assert "AUROC = 0.875" in fig.layout.title.text
    assert [trace.name for trace in fig.data] == ["in-distribution", "out-of-distribution"]
    with pytest.raises(ValueError, match="n_bins"):
        F.norm_histogram({"A": np.array([1.0])}, n_bins=0)


@pytest.mark.parametrize("d", [2, 3, 8])
def test_chi2_density_curve_integrates_to_one(d):
    curve = F.chi2_histogram(np.array([0.5, 1.0]), d=d, x_max=40.0).data[1]
    assert curve.x[0] == 0 and np.trapezoid(curve.y, curve.x) == pytest.approx(1.0, abs=5e-3)


def test_chi2_density_curve_drops_the_infinite_point_of_one_dimension():
    curve = F.chi2_histogram(np.array([0.5, 1.0]), d=1, x_max=40.0).data[1]
    assert curve.x[0] > 0 and np.isfinite(curve.y).all()


def test_chi2_histogram_bars_are_densities_over_all_points():
    r2 = np.array([0.5, 1.5, 2.5, 100.0])
    fig = F.chi2_histogram(r2, d=2, ks=0.4321, x_max=4.0, n_bins=4)
    bars = fig.data[0]
    assert np.sum(bars.y * bars.width) == pytest.approx(0.75)  # the point beyond x_max is not shown
    assert "1 of 4 beyond the axis" in bars.name
    assert "KS = 0.432" in fig.layout.title.text


@pytest.mark.parametrize("kwargs, match", [
    (dict(r2=np.array([-1.0, 2.0]), d=2), "r2 must be >= 0"),
    (dict(r2=np.array([1.0, np.inf]), d=2), "r2 must be finite"),
    (dict(r2=np.array([1.0]), d=0), "d must be an integer >= 1"),
])
def test_chi2_histogram_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        F.chi2_histogram(**kwargs)


# ---------------------------------------------------------------------------------------------------
# Latent scatter


def test_latent_scatter_by_class_maps_customdata_back_to_points():
    points, labels = points_and_labels()
    fig = F.latent_scatter(points, labels, CLASSES)
    assert [trace.name for trace in fig.data] == CLASSES
    np.testing.assert_array_equal(np.sort(np.concatenate([t.customdata for t in fig.data])), np.arange(30))
    for k, trace in enumerate(fig.data):
        np.testing.assert_array_equal(labels[trace.customdata], k)
        np.testing.assert_array_equal(np.column_stack([trace.x, trace.y]), points[trace.customdata])
        assert trace.marker.color == F.PALETTE[k]
    assert fig.layout.yaxis.scaleanchor == "x" and fig.layout.yaxis.scaleratio == 1


def test_latent_scatter_by_continuous_value_and_by_correctness():
    points, labels = points_and_labels()
    confidence = np.linspace(0.2, 1.0, 30)
    (trace,) = F.latent_scatter(points, labels, CLASSES, color=confidence, color_label="confidence").data
    np.testing.assert_array_equal(trace.customdata, np.arange(30))
    np.testing.assert_array_equal(trace.marker.color, confidence)
    assert trace.marker.colorbar.title.text == "confidence"

    correct = np.arange(30) % 4 != 0
    fig = F.latent_scatter(points, labels, CLASSES, color=correct, color_label="prediction")
    assert [t.name for t in fig.data] == ["correct", "wrong"]
    np.testing.assert_array_equal(fig.data[1].customdata, np.flatnonzero(~correct))


def test_latent_scatter_overlays_ellipses_prior_samples_and_note():
    points, labels = points_and_labels()
    circle = np.column_stack([np.cos(np.linspace(0, 2 * np.pi, 20)), np.sin(np.linspace(0, 2 * np.pi, 20))])
    ellipses = [(0, 1, circle), (0, 2, 2 * circle[:-1]), (2, 1, circle)]
    prior = np.random.default_rng(1).normal(size=(12, 2))
    fig = F.latent_scatter(points, labels, CLASSES, ellipses=ellipses, prior_points=prior,
                           prior_labels=np.arange(12) % 3, hover_text=[f"#{i}" for i in range(30)],
                           note="d = 2: z itself, no projection")
    assert len(fig.data) == 1 + len(CLASSES) + len(ellipses)
    assert fig.data[0].name == "prior samples" and fig.data[0].marker.color[1] == F.PALETTE[1]
    one_sigma, two_sigma, other = fig.data[-3:]
    assert (one_sigma.line.dash, two_sigma.line.dash) == ("solid", "dash")
    assert (two_sigma.x[0], two_sigma.y[0]) == (two_sigma.x[-1], two_sigma.y[-1])  # closed
    assert other.line.color == F.PALETTE[2]
    assert fig.layout.annotations[0].text == "d = 2: z itself, no projection"
    assert "#3" in fig.data[1].text[1]  # class "zero" holds points 0, 3, 6, ...


@pytest.mark.parametrize("kwargs, match", [
    (dict(points=np.zeros((30, 3))), r"points must have shape \(N, 2\)"),
    (dict(labels=np.zeros(29, dtype=int)), r"labels must have shape \(30,\)"),
    (dict(labels=np.full(30, 3)), r"labels must be integers in \[0, 3\)"),
    (dict(color=np.zeros(29)), r"color must have shape \(30,\)"),
    (dict(color=np.zeros(29, dtype=bool)), r"color must have shape \(30,\)"),
    (dict(hover_text=["a"]), "hover_text"),
    (dict(prior_points=np.zeros((5, 2))), "prior_labels must be given"),
    (dict(prior_points=np.zeros((5, 2)), prior_labels=np.zeros(4, dtype=int)), "prior_labels"),
    (dict(ellipses=[(7, 1, np.eye(2))]), "ellipse class index"),
])
def test_latent_scatter_rejects_bad_input(kwargs, match):
    points, labels = points_and_labels()
    args = dict(points=points, labels=labels, class_names=CLASSES) | kwargs
    with pytest.raises(ValueError, match=match):
        F.latent_scatter(**args)


# ---------------------------------------------------------------------------------------------------
# Training and sweeps


def test_training_curves_skip_missing_keys_and_draw_one_norm_line_per_class():
    fig = F.training_curves(HISTORY, class_names=CLASSES)
    titles = [a.text for a in fig.layout.annotations]
    assert titles == [F.TRAINING_PANELS[k] for k in
                      ("loss", "cross_entropy", "prior_nll", "val_accuracy", "val_ece", "val_nll", "latent_norm")]
    norms = [trace for trace in fig.data if trace.name in CLASSES]
    assert len(norms) == 3 and len(fig.data) == 6 + 3
    assert norms[1].y == (2.0, None)  # NaN becomes a gap
    assert fig.data[0].x == (1, 2) and fig.data[0].y == (1.2, 0.8)


@pytest.mark.parametrize("history, match", [
    ([], "history is empty"),
    ([{"seconds": 1.0}], "none of the keys"),
    ([{"loss": "high"}], r"history\[0\]\['loss'\] must be a number"),
    ([{"latent_norm": 3.0}], "latent_norm values must be lists"),
])
def test_training_curves_reject_bad_history(history, match):
    with pytest.raises(ValueError, match=match):
        F.training_curves(history)


def test_accuracy_vs_draws_one_line_per_series():
    fig = F.accuracy_vs([0.01, 0.1, 1.0], {"A": [0.5, 0.6, 0.9], "B": [0.6, None, 0.95]},
                        "training fraction", log_x=True)
    assert [trace.y for trace in fig.data] == [(0.5, 0.6, 0.9), (0.6, None, 0.95)]
    assert fig.layout.xaxis.type == "log" and fig.layout.yaxis.title.text == "accuracy"
    with pytest.raises(ValueError, match=r"series\['A'\] has 2 values but x_values has 3"):
        F.accuracy_vs([1, 2, 3], {"A": [0.5, 0.6]}, "severity")
    with pytest.raises(ValueError, match="> 0 on a log axis"):
        F.accuracy_vs([0, 1], {"A": [0.5, 0.6]}, "ε", log_x=True)


# ---------------------------------------------------------------------------------------------------
# Single examples


def test_image_row_draws_each_image_as_rgb_without_axes():
    grey, rgb = np.linspace(0, 1, 12).reshape(3, 4), np.full((3, 4, 3), 0.25)
    fig = F.image_row([grey, rgb], ["clean", "adversarial"])
    assert [a.text for a in fig.layout.annotations] == ["clean", "adversarial"]
    np.testing.assert_array_equal(fig.data[0].z, np.round(255 * np.repeat(grey[..., None], 3, axis=2)))
    np.testing.assert_array_equal(fig.data[1].z, 64)  # 0.25 of 255, rounded
    assert fig.layout.xaxis.visible is False and fig.layout.yaxis2.visible is False


@pytest.mark.parametrize("images, titles, match", [
    ([np.zeros((3, 4))], ["a", "b"], "one title per image"),
    ([np.zeros((3, 4, 2))], ["a"], r"images\[0\] must have shape"),
    ([np.zeros(4)], ["a"], r"images\[0\] must have shape"),
    ([np.full((3, 4), 2.0)], ["a"], r"images\[0\] must lie in \[0, 1\]"),
])
def test_image_row_rejects_bad_images(images, titles, match):
    with pytest.raises(ValueError, match=match):
        F.image_row(images, titles)


def test_probability_bars_group_the_given_probabilities():
    probs = {"A before": np.array([0.7, 0.2, 0.1]), "A after": np.array([0.1, 0.1, 0.8])}
    fig = F.probability_bars(probs, CLASSES)
    assert fig.layout.barmode == "group"
    for trace, (name, p) in zip(fig.data, probs.items()):
        assert trace.name == name and list(trace.x) == CLASSES
        np.testing.assert_array_equal(trace.y, p)
    with pytest.raises(ValueError, match=r"probs\['A'\] must have shape \(3,\)"):
        F.probability_bars({"A": np.array([0.5, 0.5])}, CLASSES)
