"""The latent map (explorer/figures/latents.py)."""

import numpy as np
import pytest

from explorer import figures as F
from explorer.core.errors import ArgumentError
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
    (dict(labels=np.zeros(29, dtype=int)), r"labels must have shape \(N,\) = \(30,\), got \(29,\)"),
    (dict(labels=np.full(30, 3)), r"labels must lie in \[0, 3\), got 3 at index 0"),
    (dict(labels=np.zeros(30)), r"labels must be a 1-D array of integers in \[0, 3\), got dtype float64"),
    (dict(labels=np.zeros((30, 1), dtype=int)), r"labels must have shape \(N,\) = \(30,\), got \(30, 1\)"),
    (dict(color=np.zeros(29)), r"color must have shape \(30,\)"),
    (dict(color=np.zeros(29, dtype=bool)), r"color must have shape \(30,\)"),
    (dict(hover_text=["a"]), "hover_text"),
    (dict(prior_points=np.zeros((5, 2))), "prior_labels must be given"),
    (dict(prior_points=np.zeros((5, 2)), prior_labels=np.zeros(4, dtype=int)), "prior_labels"),
    (dict(prior_points=np.zeros((3, 2)), prior_labels=np.array([0, 1, 5])),
     r"prior_labels must lie in \[0, 3\), got 5 at index 2"),
    (dict(density_points=np.zeros((3, 2)), density_labels=np.array([0, -1, 2])),
     r"density_labels must lie in \[0, 3\), got -1 at index 1"),
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


def test_a_large_map_is_drawn_with_webgl_from_numpy_arrays_and_small_ones_as_svg():
    rng = np.random.default_rng(0)
    n = F.latents.WEBGL_FROM
    points, labels = rng.normal(size=(n, 2)), rng.integers(0, 3, n)
    prior = rng.normal(size=(30, 2))
    large = F.latent_scatter(points, labels, CLASSES, prior_points=prior, prior_labels=np.arange(30) % 3)
    assert {t.type for t in large.data} == {"scattergl"}
    for trace in large.data[1:]:
        assert isinstance(trace.customdata, np.ndarray) and isinstance(trace.x, np.ndarray)
        assert trace.text is None  # no string per point: one template names the class and the index
        assert trace.hovertemplate.startswith(trace.name + "<br>") and "index %{customdata}" in trace.hovertemplate
        assert trace.marker.size == 3
    np.testing.assert_array_equal(np.sort(np.concatenate([t.customdata for t in large.data[1:]])), np.arange(n))
    small = F.latent_scatter(points[: n - 1], labels[: n - 1], CLASSES)
    assert {t.type for t in small.data} == {"scatter"} and small.data[0].marker.size == 7


def test_density_image_bins_points_in_their_class_colour_with_log_opacity():
    from explorer.figures.latents import density_image

    points = np.array([[0.05, 0.95]] * 9 + [[0.95, 0.05]] + [[0.5, 0.5], [0.5, 0.5]])
    labels = np.array([0] * 9 + [1] + [0, 2])
    image = density_image(points, labels, 3, (0.0, 1.0), (0.0, 1.0), pixels=10)
    assert image.shape == (10, 10, 4) and image.dtype == np.uint8
    rgb = [np.array([int(F.PALETTE[c][i:i + 2], 16) for i in (1, 3, 5)]) for c in range(3)]
    np.testing.assert_array_equal(image[0, 0, :3], rgb[0])  # top left: y grows upwards
    np.testing.assert_array_equal(image[9, 9, :3], rgb[1])
    np.testing.assert_allclose(image[5, 5, :3], (rgb[0] + rgb[2]) / 2, atol=0.5)  # two classes share a pixel
    assert image[0, 0, 3] == 255 > image[5, 5, 3] > image[9, 9, 3] > 0  # 9 > 2 > 1 points
    assert (image[..., 3] > 0).sum() == 3  # the empty pixels are transparent


def test_a_map_with_a_density_image_draws_it_under_the_markers_as_a_png():
    import base64
    import zlib

    rng = np.random.default_rng(0)
    everything, labels = rng.normal(size=(3000, 2)), rng.integers(0, 3, 3000)
    fig = F.latent_scatter(everything[:100], labels[:100], CLASSES, density_points=everything, density_labels=labels)
    (image,) = fig.layout.images
    assert image.layer == "below" and image.xref == "x" and image.sizing == "stretch"
    png = base64.b64decode(image.source.split(",", 1)[1])
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert (width, height) == (F.latents.DENSITY_PIXELS,) * 2
    idat = png[png.index(b"IDAT") + 4:]
    assert len(zlib.decompressobj().decompress(idat)) == height * (1 + 4 * width)  # a filter byte per row
    assert list(fig.layout.xaxis.range) == [everything[:, 0].min(), everything[:, 0].max()]
    with pytest.raises(ValueError, match="density_labels"):
        F.latent_scatter(everything[:100], labels[:100], CLASSES, density_points=everything)


@pytest.mark.parametrize("color", [None, "correct", "confidence"])
def test_a_highlight_rings_its_points_on_top_and_fades_the_rest(color):
    points, labels = points_and_labels()
    color = {None: None, "correct": np.arange(30) % 4 != 0, "confidence": np.linspace(0.2, 1.0, 30)}[color]
    rows = np.array([2, 5, 11, 29])
    plain = F.latent_scatter(points, labels, CLASSES, color=color)
    fig = F.latent_scatter(points, labels, CLASSES, color=color, highlight=rows[::-1])
    *rest, ring = fig.data
    under = [t for t in rest if t.customdata is not None]
    keys = [t for t in rest if t.customdata is None]  # legend entries without points
    assert len(under) == len(plain.data)  # the same traces, their legend keys, and the rings on top
    assert ring.name == "highlighted (4)" and ring.marker.symbol == "circle-open" and ring.marker.color == "#000000"
    np.testing.assert_array_equal(ring.customdata, rows)  # a click on a ring maps back to its example
    np.testing.assert_array_equal(np.column_stack([ring.x, ring.y]), points[rows])
    for before, after in zip(plain.data, under):
        np.testing.assert_array_equal(after.customdata, before.customdata)  # every point still drawn
        bright = np.isin(after.customdata, rows)
        opacity = np.asarray(after.marker.opacity)
        assert (opacity[~bright] == F.latents.FADED).all()
        assert (opacity[bright] == (before.marker.opacity or 1.0)).all()  # highlighted: as before
    # the legend shows each entry unfaded, grouped with its points so a click on it still hides them
    legend = [t for t in plain.data if t.showlegend is not False]
    assert [k.name for k in keys] == [t.name for t in legend] and all(t.showlegend is False for t in under)
    for key, before in zip(keys, legend):
        assert key.marker.opacity == before.marker.opacity and key.marker.color == before.marker.color
        assert key.legendgroup == next(t.legendgroup for t in under if t.name == key.name)
        assert list(key.x) == [None]


def test_a_highlight_takes_a_legend_name_may_be_empty_and_works_with_webgl():
    rng = np.random.default_rng(0)
    n = F.latents.WEBGL_FROM
    points, labels = rng.normal(size=(n, 2)), rng.integers(0, 3, n)
    fig = F.latent_scatter(points, labels, CLASSES, highlight=np.arange(0, n, 7),
                           highlight_name="bin [0.9, 1.0]: 900 test points (715 drawn)")
    ring = fig.data[-1]
    assert ring.type == "scattergl" and ring.name == "bin [0.9, 1.0]: 900 test points (715 drawn)"
    assert len(ring.customdata) == len(range(0, n, 7))
    assert ring.hovertemplate.startswith("highlighted<br>")  # not the class of the first trace
    points, labels = points_and_labels()
    (*rest, ring) = F.latent_scatter(points, labels, CLASSES, highlight=[]).data
    under = [t for t in rest if t.customdata is not None]
    assert len(ring.x) == 0 and all((np.asarray(t.marker.opacity) == F.latents.FADED).all() for t in under)


def test_a_highlight_fades_the_density_image():
    rng = np.random.default_rng(0)
    everything, labels = rng.normal(size=(300, 2)), rng.integers(0, 3, 300)
    common = dict(density_points=everything, density_labels=labels)
    assert F.latent_scatter(everything[:50], labels[:50], CLASSES, **common).layout.images[0].opacity == 1
    assert F.latent_scatter(everything[:50], labels[:50], CLASSES, highlight=[1], **common).layout.images[0].opacity < 1


@pytest.mark.parametrize("highlight, match", [
    (np.array([0, 30]), r"integers in \[0, 30\), got values in \[0, 30\]"),
    (np.array([-1]), r"\[0, 30\)"),
    (np.array([0.0, 1.0]), "integer row indices"),
    (np.ones(30, dtype=bool), "integer row indices"),
    (np.zeros((2, 2), dtype=int), "integer row indices"),
])
def test_a_bad_highlight_is_refused(highlight, match):
    points, labels = points_and_labels()
    with pytest.raises(ValueError, match=match):
        F.latent_scatter(points, labels, CLASSES, highlight=highlight)


def test_latent_replay_has_one_frame_per_epoch_on_fixed_axes():
    points, labels = points_and_labels()
    snapshots = np.stack([points * (1 + epoch) for epoch in range(4)])  # (4, 30, 2): growing spokes
    fig = F.latent_replay(snapshots, labels, CLASSES, title="replay")
    assert len(fig.frames) == 4 and [f.name for f in fig.frames] == ["0", "1", "2", "3"]
    for epoch, frame in enumerate(fig.frames):
        for k, trace in enumerate(frame.data):
            np.testing.assert_array_equal(np.column_stack([trace.x, trace.y]), snapshots[epoch][labels == k])
    np.testing.assert_array_equal(np.column_stack([fig.data[0].x, fig.data[0].y]), snapshots[3][labels == 0])
    (x0, x1), (y0, y1) = fig.layout.xaxis.range, fig.layout.yaxis.range
    assert x0 < snapshots[..., 0].min() and x1 > snapshots[..., 0].max()
    assert y0 < snapshots[..., 1].min() and y1 > snapshots[..., 1].max()
    assert fig.layout.sliders[0].active == 3 and len(fig.layout.sliders[0].steps) == 4
    with pytest.raises(ValueError):
        F.latent_replay(points, labels, CLASSES)  # (N, 2): not a sequence of epochs
    with pytest.raises(ArgumentError, match=r"labels must have shape \(N,\) = \(30,\), got \(29,\)"):
        F.latent_replay(snapshots, labels[:29], CLASSES)


def test_a_signed_value_is_drawn_on_a_diverging_scale_symmetric_about_zero():
    points, labels = np.random.default_rng(0).normal(size=(6, 2)), np.zeros(6, dtype=int)
    gap = np.array([-0.1, 0.3, 0.0, 0.05, -0.2, 0.1])
    fig = F.latent_scatter(points, labels, CLASSES, color=gap, color_label="gap", diverging=True)
    marker = fig.data[0].marker
    assert (marker.cmin, marker.cmax) == (-0.3, 0.3)  # symmetric: 0 is the middle of the scale
    assert [tuple(stop) for stop in marker.colorscale] == list(F.latents.DIVERGING)
    sequential = F.latent_scatter(points, labels, CLASSES, color=gap, color_label="gap").data[0].marker
    assert (sequential.cmin, sequential.cmax) == (-0.2, 0.3)


def test_faded_points_keep_their_colour_at_low_opacity():
    points, labels = np.random.default_rng(0).normal(size=(4, 2)), np.zeros(4, dtype=int)
    faded = np.array([True, False, False, True])
    fig = F.latent_scatter(points, labels, CLASSES, color=np.array([0.1, -0.2, 0.3, 0.0]), diverging=True,
                           faded=faded)
    np.testing.assert_allclose(fig.data[0].marker.opacity, [F.latents.FADED, 0.8, 0.8, F.latents.FADED])
    np.testing.assert_allclose(fig.data[0].marker.color, [0.1, -0.2, 0.3, 0.0])
    with pytest.raises(ValueError, match=r"faded must be a \(4,\) bool mask"):
        F.latent_scatter(points, labels, CLASSES, faded=np.array([0, 1, 0, 1]))


def test_faded_points_coloured_by_class_keep_an_unfaded_legend_entry_per_class():
    points, labels = points_and_labels()
    faded = np.arange(30) % 2 == 0
    fig = F.latent_scatter(points, labels, CLASSES, faded=faded)
    drawn = [t for t in fig.data if t.customdata is not None]
    keys = [t for t in fig.data if t.customdata is None]
    assert all(t.showlegend is False for t in drawn)  # the faded traces' own symbols would be dim
    assert [k.name for k in keys] == CLASSES and all(k.showlegend is not False for k in keys)
    for key, trace in zip(keys, drawn):
        assert key.legendgroup == trace.legendgroup and key.marker.color == trace.marker.color
        assert np.ndim(key.marker.opacity) == 0  # one unfaded opacity, not the points' array


@pytest.mark.parametrize("color", [None, "correct", "value"])
def test_abstained_points_are_grey_in_their_own_trace_under_every_colouring(color):
    rng = np.random.default_rng(0)
    points, labels = rng.normal(size=(8, 2)), np.array([0, 1, 2, 0, 1, 2, 0, 1])
    abstained = np.array([False, True, False, False, True, False, False, True])
    values = np.linspace(-1, 1, 8)
    colours = {None: None, "correct": labels == 0, "value": values}[color]
    fig = F.latent_scatter(points, labels, CLASSES, color=colours, abstained=abstained, abstained_name="abstained")
    grey = next(t for t in fig.data if t.name == "abstained (3 drawn)")
    assert grey.marker.color == F.latents.GREY and list(grey.customdata) == [1, 4, 7]
    others = [i for t in fig.data if t is not grey for i in t.customdata]
    assert sorted(others) == [0, 2, 3, 5, 6]  # each point once, the abstained in grey alone
    if color == "value":
        coloured = next(t for t in fig.data if t is not grey)
        np.testing.assert_allclose(coloured.marker.color, values[~abstained])


def test_a_value_density_image_takes_the_mean_colour_of_its_values_and_greys_abstentions():
    from explorer.figures.latents import DIVERGING, GREY, colour_image, scale_colors

    assert scale_colors(np.array([-2.0, 0.0, 1.0]), [list(s) for s in DIVERGING], (-1.0, 1.0)).tolist() == [
        [0x21, 0x66, 0xAC], [0xF7, 0xF7, 0xF7], [0xB2, 0x18, 0x2B]]  # clipped at the ends, white at 0
    viridis = scale_colors(np.array([0.0, 1.0]), "Viridis", (0.0, 1.0))
    np.testing.assert_allclose(viridis, [[0x44, 0x01, 0x54], [0xFD, 0xE7, 0x25]])
    points = np.array([[0.05, 0.95], [0.05, 0.95], [0.95, 0.05]])
    rgb = np.array([[0.0, 0.0, 0.0], [200.0, 100.0, 50.0], [1.0, 2.0, 3.0]])
    image = colour_image(points, rgb, (0.0, 1.0), (0.0, 1.0), pixels=10)
    np.testing.assert_array_equal(image[0, 0, :3], [100, 50, 25])  # the mean of its two points
    np.testing.assert_array_equal(image[9, 9, :3], [1, 2, 3])
    rng = np.random.default_rng(0)
    everything = rng.normal(size=(3000, 2))
    values = np.where(everything[:, 0] > 0, 1.0, -1.0)
    fig = F.latent_scatter(everything[:50], np.zeros(50, dtype=int), CLASSES, color=values[:50], diverging=True,
                           density_points=everything, density_labels=np.zeros(3000, dtype=int),
                           density_values=values, density_abstained=everything[:, 1] > 1.5)
    drawn = _decoded(fig.layout.images[0].source)
    (x0, x1), (y0, y1) = fig.layout.xaxis.range, fig.layout.yaxis.range
    column, row = np.meshgrid((np.arange(drawn.shape[1]) + 0.5) / drawn.shape[1] * (x1 - x0) + x0,
                              y1 - (np.arange(drawn.shape[0]) + 0.5) / drawn.shape[0] * (y1 - y0))
    seen = drawn[..., 3] > 0
    right, left, top = seen & (column > 0.2) & (row < 1.4), seen & (column < -0.2) & (row < 1.4), seen & (row > 1.6)
    assert (drawn[right, 0].astype(int) - drawn[right, 2] > 100).all()  # red: a value of +1
    assert (drawn[left, 2].astype(int) - drawn[left, 0] > 100).all()  # blue: −1
    np.testing.assert_array_equal(drawn[top, :3], np.full((top.sum(), 3), int(GREY[1:3], 16)))


def _decoded(source: str) -> np.ndarray:
    """A PNG data URI of an (H, W, 4) image as latents._png writes it (filter type 0 on every row)."""
    import base64
    import zlib

    png = base64.b64decode(source.split(",", 1)[1])
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    raw = zlib.decompressobj().decompress(png[png.index(b"IDAT") + 4:])
    return np.frombuffer(raw, dtype=np.uint8).reshape(height, 1 + 4 * width)[:, 1:].reshape(height, width, 4)


def test_beside_a_colour_bar_the_legend_goes_above_the_plot():
    points, labels = np.random.default_rng(0).normal(size=(4, 2)), np.zeros(4, dtype=int)
    values = np.array([0.1, 0.2, 0.3, 0.4])
    alone = F.latent_scatter(points, labels, CLASSES, color=values)
    assert alone.layout.legend.orientation is None  # no legend entry: nothing to move
    with_prior = F.latent_scatter(points, labels, CLASSES, color=values, prior_points=points, prior_labels=labels)
    assert with_prior.layout.legend.orientation == "h" and with_prior.layout.legend.yanchor == "bottom"
    by_class = F.latent_scatter(points, labels, CLASSES, prior_points=points, prior_labels=labels)
    assert by_class.layout.legend.orientation is None  # no colour bar: the legend stays at the side
