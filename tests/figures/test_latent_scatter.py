"""The latent map (explorer/figures/latents.py)."""

import numpy as np
import pytest

from explorer import figures as F
from figure_data import CLASSES, points_and_labels


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


def test_past_ten_classes_the_colours_repeat_and_the_marker_tells_them_apart():
    labels = np.arange(20).repeat(2)
    points = np.random.default_rng(0).normal(size=(40, 2))
    fig = F.latent_scatter(points, labels, [f"c{k}" for k in range(20)])
    markers = {(trace.marker.color, trace.marker.symbol) for trace in fig.data}
    assert len(markers) == 20
    assert fig.data[3].marker.color == fig.data[13].marker.color
    assert (fig.data[3].marker.symbol, fig.data[13].marker.symbol) == ("circle", "diamond")
