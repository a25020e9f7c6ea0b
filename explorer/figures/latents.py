"""The latent map: 2-D latents (or a projection of them), with class Gaussians and prior samples overlaid."""

from __future__ import annotations

import base64
import struct
import textwrap
import zlib
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from explorer.core._validation import check_labels
from explorer.core.errors import ArgumentError
from explorer.figures import _style as base


WEBGL_FROM = 5000
"""Maps of at least this many points are drawn with WebGL (``Scattergl``), smaller ones as SVG."""
DENSITY_PIXELS = 500
"""Width and height, in pixels, of the density image drawn under a map's markers."""
FADED = 0.15
"""Marker opacity of the points a highlight leaves out, or a ``faded`` mask names: still there to hover,
clearly behind."""
DIVERGING = ((0.0, "#2166AC"), (0.25, "#67A9CF"), (0.5, "#F7F7F7"), (0.75, "#EF8A62"), (1.0, "#B2182B"))
"""Colour scale of a signed value centred on 0 (ColorBrewer's RdBu, colour-blind safe): blue below 0,
near-white at 0, red above."""
GREY = "#BBBBBB"
"""Colour of the points an ``abstained`` mask names (a model's abstentions at a coverage)."""


def latent_scatter(points, labels, class_names: Sequence[str], color=None, color_label: str = "class",
                   ellipses: Sequence[tuple[int, float, np.ndarray]] | None = None, prior_points=None,
                   prior_labels=None, hover_text: Sequence[str] | None = None, note: str | None = None,
                   title: str = "", axis_titles: tuple[str, str] = ("z₁", "z₂"),
                   axis_range: tuple[tuple[float, float], tuple[float, float]] | None = None,
                   density_points=None, density_labels=None, highlight=None,
                   highlight_name: str | None = None, diverging: bool = False, faded=None, abstained=None,
                   abstained_name: str = "abstained", density_values=None, density_abstained=None) -> go.Figure:
    """Scatter of 2-D latents (or a 2-D projection of them), optionally with the class priors' contours
    and samples overlaid.

    Colouring: by class (``color=None``: one legend entry per class, clicking it hides the class),
    by correctness (``color`` a bool array: "correct" circles, "wrong" crosses) or by a continuous
    value (``color`` a float array, e.g. confidence, on a colour bar titled ``color_label``). The
    axes have equal scale, so a Gaussian with equal variances looks round.

    Every data-point trace carries ``customdata`` = the point's row index in ``points``, so a
    selection or click event (``points[i]["customdata"]``) maps back to the example. From
    :data:`WEBGL_FROM` points on, points and prior samples are drawn with WebGL (``Scattergl``),
    which stays responsive up to about 10⁵ points where SVG markers stall the browser; fewer are
    drawn as SVG, which every browser renders without a graphics context. Arrays go to plotly as
    numpy arrays.

    Args:
        points: (N, 2) coordinates.
        labels: (N,) integer classes in [0, K).
        class_names: (K,) names, in class order; class k is drawn in ``PALETTE[k % 10]`` with the
            marker ``SYMBOLS[k // 10]`` (classes k and k + 10 share a colour).
        color: None, or (N,) bool correctness, or (N,) finite numbers.
        color_label: legend or colour-bar title.
        ellipses: (class index, n_std, (P, 2) boundary points) per contour, drawn as a closed line in
            the class colour: solid at n_std ≤ 1, dashed at 2, dotted beyond.
        prior_points: (M, 2) samples of the class priors, drawn faint and small, under the data.
        prior_labels: (M,) their classes; required with ``prior_points``.
        hover_text: (N,) extra text per point for the hover label, on maps below :data:`WEBGL_FROM` points;
            larger maps name the class (when coloured by class) and the index, from one template per trace.
        note: how the points were placed (e.g. "UMAP fitted on latents ∪ prior samples"), written under
            the plot; use "<br>" for line breaks.
        axis_titles: x and y axis titles, e.g. ("UMAP 1", "UMAP 2") for a projection.
        axis_range: ((x0, x1), (y0, y1)) to show, e.g. around the ellipses when the latents reach far
            beyond them; default: everything.
        density_points: (M, 2) points drawn as one image under the markers (:func:`density_image`),
            for more points than a browser draws as markers: ``points`` are then a sample of them,
            which keeps hover and click.
        density_labels: (M,) their classes; required with ``density_points``.
        highlight: (H,) row indices into ``points`` to bring out (e.g. one reliability bin's test
            points; may be empty): drawn on top as black rings, in a trace of their own named
            ``highlight_name`` (default "highlighted (H)") that keeps their ``customdata``, while the
            other points fade to :data:`FADED` opacity (the density image, if any, fades too).
        highlight_name: legend name of the highlight, e.g. how many points it holds in all when
            ``points`` are a sample.
        diverging: colour a continuous ``color`` on :data:`DIVERGING`, centred on 0 over the symmetric
            range ±max |color| (a signed gap), instead of the sequential scale.
        faded: (N,) bool, points drawn at :data:`FADED` opacity in their colour (e.g. a value not told
            apart from 0).
        abstained: (N,) bool, points drawn in :data:`GREY` in a trace of their own (legend
            ``"{abstained_name} (count drawn)"``, under the others, keeping their ``customdata``) instead of in
            their colour.
        density_values: (M,) finite numbers: the density image takes the mean colour of its points' values
            on the markers' colour scale and range instead of their classes' (with a continuous ``color``).
        density_abstained: (M,) bool: those points count in :data:`GREY` in the density image.
    """
    points = base.array(points, "points", (None, 2))
    n, k = len(points), len(class_names)
    labels = check_labels(labels, n, k, "labels")
    if hover_text is not None and len(hover_text) != n:
        raise ArgumentError(f"hover_text must have one entry per point ({n}), got {len(hover_text)}")
    bright = None if highlight is None else _highlight_mask(highlight, n)
    dim, grey = _mask(faded, n, "faded"), _mask(abstained, n, "abstained")
    lit = None if bright is None and not dim.any() else (np.ones(n, dtype=bool) if bright is None else bright) & ~dim
    large = n >= WEBGL_FROM
    index = np.arange(n)
    by_correctness = color is not None and np.asarray(color).dtype == bool
    scatter = go.Scattergl if large else go.Scatter
    size = 3 if large else 7  # a crowd of large markers hides its own density
    if large:  # one template per trace, no string per point: the class (when traces are classes) and the index
        text = None
    else:
        text = np.asarray(class_names, dtype=object)[labels]
        if hover_text is not None:
            text = text + "<br>" + np.asarray(hover_text, dtype=object)

    legend_keys = []  # with a highlight or faded points: one marker per legend entry, unfaded (see points_trace)

    def points_trace(mask, hover_name: str | None = None, **kwargs) -> go.Scatter:
        name = f"{hover_name or kwargs['name']}<br>" if large and color is None else ""
        hover = f"{name if large else '%{text}<br>'}(%{{x:.2f}}, %{{y:.2f}})<br>index %{{customdata}}<extra></extra>"
        if hover_name is None and grey.any():  # abstentions are drawn grey in their own trace
            whole, mask = mask, mask & ~grey
            marker = kwargs["marker"]
            if isinstance(marker.get("color"), np.ndarray):
                kwargs["marker"] = {**marker, "color": marker["color"][mask[whole]]}
        if lit is not None and hover_name is None:  # fade what is not highlighted, or is marked faded
            marker = kwargs["marker"]
            kwargs["marker"] = {**marker, "opacity": np.where(lit[mask], marker.get("opacity", 1.0), FADED)}
            if kwargs.get("showlegend", True):
                # plotly draws a legend symbol at the mean of an opacity array, which the fading makes
                # nearly invisible: the entry moves to a point-less trace of the unfaded marker, in the
                # same legend group, so a click on it still hides the points.
                group = kwargs.setdefault("legendgroup", kwargs["name"])
                legend_keys.append(go.Scatter(x=[None], y=[None], mode="markers", name=kwargs["name"],
                                              legendgroup=group, marker=marker, hoverinfo="skip"))
                kwargs["showlegend"] = False
        return scatter(x=points[mask, 0], y=points[mask, 1], mode="markers", customdata=index[mask],
                       text=None if text is None else text[mask], hovertemplate=hover, **kwargs)

    traces = []
    if prior_points is not None:
        prior_points = base.array(prior_points, "prior_points", (None, 2))
        if prior_labels is None:
            raise ArgumentError("prior_labels must be given with prior_points")
        prior_labels = check_labels(prior_labels, len(prior_points), k, "prior_labels")
        traces.append(scatter(
            x=prior_points[:, 0], y=prior_points[:, 1], mode="markers", name="prior samples",
            hoverinfo="skip", marker=dict(size=4, opacity=0.3, color=[base.color(y) for y in prior_labels])))
    if grey.any():  # under the answered points
        traces.append(points_trace(grey, name=f"{abstained_name} ({int(grey.sum()):,} drawn)", hover_name=abstained_name,
                                   marker=dict(size=size, opacity=0.6, color=GREY)))
    colorscale, value_range = base.COLORSCALE, None
    if color is None:
        traces += [points_trace(labels == c, name=class_names[c], legendgroup=class_names[c],
                                marker=dict(size=size, opacity=0.75, color=base.color(c), symbol=base.symbol(c)))
                   for c in range(k) if (labels == c).any()]
    elif by_correctness:
        correct = np.asarray(color)
        if correct.shape != (n,):
            raise ArgumentError(f"color must have shape ({n},) to match the points, got {correct.shape}")
        traces += [
            points_trace(correct, name="correct", marker=dict(size=size, opacity=0.6, color=base.PALETTE[0])),
            points_trace(~correct, name="wrong", marker=dict(size=size + 2, color=base.PALETTE[1], symbol="x")),
        ]
    else:
        values = base.array(color, "color", (n,))
        colorbar = dict(title=dict(text=color_label, side="right"), tickfont_size=base.TICK_SIZE)
        if diverging:  # symmetric about 0, so white is 0 and equal gaps either way look equally strong
            span = float(np.abs(values).max()) or 1.0
            colorscale, value_range = [list(stop) for stop in DIVERGING], (-span, span)
        else:
            value_range = (float(values.min()), float(values.max()))
        traces.append(points_trace(np.ones(n, dtype=bool), name=color_label, showlegend=False, marker=dict(
            size=size, opacity=0.8, color=values, colorscale=colorscale, colorbar=colorbar,
            cmin=value_range[0], cmax=value_range[1])))
    for c, n_std, boundary in ellipses or []:
        if not 0 <= c < k:
            raise ArgumentError(f"ellipse class index must be in [0, {k}), got {c}")
        boundary = base.array(boundary, f"ellipse boundary of class {c}", (None, 2))
        if not np.array_equal(boundary[0], boundary[-1]):
            boundary = np.vstack([boundary, boundary[:1]])
        dash = "solid" if n_std <= 1 else "dash" if n_std <= 2 else "dot"
        traces.append(go.Scatter(
            x=boundary[:, 0], y=boundary[:, 1], mode="lines", name=f"{class_names[c]} {n_std:g}σ",
            legendgroup=class_names[c], showlegend=False, hoverinfo="name",
            line=dict(color=base.color(c), width=base.LINE_WIDTH, dash=dash)))

    traces += legend_keys  # the unfaded legend markers of faded traces (see points_trace)
    if bright is not None:
        # Rings on top of the faded points: visible over any class colour, and the trace on top takes
        # the click, so it keeps the points' customdata.
        traces.append(points_trace(
            bright, name=highlight_name or f"highlighted ({int(bright.sum())})", hover_name="highlighted",
            marker=dict(size=size + 5, symbol="circle-open", color="#000000", line=dict(width=2, color="#000000"))))

    fig = go.Figure(traces)
    if density_points is not None:
        density_points = base.array(density_points, "density_points", (None, 2))
        if density_labels is None:
            raise ArgumentError("density_labels must be given with density_points")
        density_labels = check_labels(density_labels, len(density_points), k, "density_labels")
        everything = np.vstack([density_points, points])
        (x0, y0), (x1, y1) = everything.min(0), everything.max(0)
        m = len(density_points)
        if density_values is not None and value_range is not None:
            rgb = scale_colors(base.array(density_values, "density_values", (m,)), colorscale, value_range)
        else:
            rgb = _class_rgb(k)[density_labels]
        rgb[_mask(density_abstained, m, "density_abstained")] = _rgb(GREY)
        image = colour_image(density_points, rgb, (x0, x1), (y0, y1))
        fig.add_layout_image(source=_png(image), xref="x", yref="y", x=x0, y=y1, sizex=x1 - x0, sizey=y1 - y0,
                             sizing="stretch", layer="below", opacity=1.0 if bright is None else 0.35)
        fig.update_layout(xaxis_range=[x0, x1], yaxis_range=[y0, y1])
    legend_title = color_label if color is None or by_correctness else None  # else: the colour bar's
    if legend_title is None and (grey.any() or bright is not None or prior_points is not None):
        # a legend entry beside the colour bar would cover it: the legend goes above the plot
        fig.update_layout(legend=dict(orientation="h", x=0, y=1.0, xanchor="left", yanchor="bottom"))
    fig.update_layout(legend_title_text=legend_title, xaxis_title=axis_titles[0],
                      yaxis=dict(title=axis_titles[1], scaleanchor="x", scaleratio=1))
    if axis_range is not None:
        (x0, x1), (y0, y1) = axis_range
        fig.update_layout(xaxis_range=[x0, x1], yaxis_range=[y0, y1])
    base.style(fig, title or "Latent space", height=700)
    if note:
        # Plotly never wraps annotations: break the note so it fits a half-width column.
        lines = textwrap.wrap(note, base.NOTE_WIDTH)
        fig.add_annotation(text="<br>".join(lines), xref="paper", yref="paper", x=0, y=0, xanchor="left",
                           yanchor="top", yshift=-70, showarrow=False, align="left", font_size=base.TICK_SIZE)
        fig.update_layout(margin_b=100 + 22 * len(lines))
    return fig


def _highlight_mask(highlight, n: int) -> np.ndarray:
    """(n,) bool: True at the rows ``highlight`` names, each an integer in [0, n)."""
    rows = np.asarray(highlight)
    if rows.size == 0:
        return np.zeros(n, dtype=bool)
    if rows.ndim != 1 or not np.issubdtype(rows.dtype, np.integer):  # a bool mask is not an index
        raise ArgumentError(f"highlight must be (H,) integer row indices into the points, got dtype {rows.dtype}, "
                            f"shape {rows.shape}")
    if rows.min() < 0 or rows.max() >= n:
        raise ArgumentError(f"highlight must index the points, integers in [0, {n}), got values in "
                            f"[{rows.min()}, {rows.max()}]")
    bright = np.zeros(n, dtype=bool)
    bright[rows] = True
    return bright


def density_image(points: np.ndarray, labels: np.ndarray, k: int, x_range: tuple[float, float],
                  y_range: tuple[float, float], pixels: int = DENSITY_PIXELS) -> np.ndarray:
    """Points (M, 2) of classes ``labels`` binned into a pixels × pixels RGBA image in their classes'
    colours (:func:`colour_image`)."""
    return colour_image(points, _class_rgb(k)[labels], x_range, y_range, pixels)


def colour_image(points: np.ndarray, rgb: np.ndarray, x_range: tuple[float, float],
                 y_range: tuple[float, float], pixels: int = DENSITY_PIXELS) -> np.ndarray:
    """Points (M, 2) of colours ``rgb`` (M, 3) in [0, 255] binned into a pixels × pixels RGBA image (uint8,
    row 0 at the top) over ``x_range`` × ``y_range``: each pixel takes the mean colour of its points and
    an opacity that grows with the logarithm of their count; empty pixels are transparent. One pass
    over the points per channel (a bincount), so 10⁶ points take a fraction of a second.
    """
    (x0, x1), (y0, y1) = x_range, y_range
    width, height = max(x1 - x0, 1e-12), max(y1 - y0, 1e-12)
    col = np.clip(((points[:, 0] - x0) / width * pixels).astype(np.int64), 0, pixels - 1)
    row = np.clip(((y1 - points[:, 1]) / height * pixels).astype(np.int64), 0, pixels - 1)  # y grows upwards
    cell, size = row * pixels + col, pixels * pixels
    total = np.bincount(cell, minlength=size).astype(np.float64)
    mean = np.stack([np.bincount(cell, weights=rgb[:, c], minlength=size) for c in range(3)], axis=1)
    mean = (mean / np.maximum(total, 1)[:, None]).reshape(pixels, pixels, 3)
    total = total.reshape(pixels, pixels)
    alpha = np.where(total > 0, 0.25 + 0.75 * np.log1p(total) / np.log1p(max(total.max(), 1)), 0.0)
    return np.concatenate([mean, 255 * alpha[..., None]], axis=2).round().astype(np.uint8)


def scale_colors(values: np.ndarray, colorscale, value_range: tuple[float, float]) -> np.ndarray:
    """(M,) values as (M, 3) RGB in [0, 255] on ``colorscale`` (a plotly scale's name, or its
    [[position, colour], ...] stops) over ``value_range``, clipped at its ends, interpolated linearly
    between stops as plotly draws them."""
    from plotly.colors import get_colorscale  # here: only the density image needs it

    stops = get_colorscale(colorscale) if isinstance(colorscale, str) else colorscale
    positions = np.array([float(p) for p, _ in stops])
    colours = np.array([_rgb(c) for _, c in stops])
    lo, hi = value_range
    t = np.clip((np.asarray(values, dtype=np.float64) - lo) / ((hi - lo) or 1.0), 0.0, 1.0)
    return np.stack([np.interp(t, positions, colours[:, c]) for c in range(3)], axis=1)


def _rgb(colour: str) -> tuple[float, float, float]:
    """"#RRGGBB" or "rgb(r, g, b)" as three numbers in [0, 255]."""
    if colour.startswith("#"):
        return tuple(float(int(colour[i:i + 2], 16)) for i in (1, 3, 5))
    return tuple(float(part) for part in colour[colour.index("(") + 1:colour.index(")")].split(",")[:3])


def _class_rgb(k: int) -> np.ndarray:
    """(K, 3) the classes' colours in [0, 255]."""
    return np.array([_rgb(base.color(c)) for c in range(k)])


def _mask(mask, n: int, name: str) -> np.ndarray:
    """(n,) bool: ``mask`` checked, or all False for None."""
    if mask is None:
        return np.zeros(n, dtype=bool)
    mask = np.asarray(mask)
    if mask.shape != (n,) or mask.dtype != bool:
        raise ArgumentError(f"{name} must be a ({n},) bool mask, got shape {mask.shape} of {mask.dtype}")
    return mask


def _png(rgba: np.ndarray) -> str:
    """An (H, W, 4) uint8 image as a PNG data URI (zlib and the PNG chunk layout: no imaging library)."""
    height, width, _ = rgba.shape
    raw = b"".join(b"\x00" + rgba[r].tobytes() for r in range(height))  # filter type 0 per row

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def latent_replay(snapshots, labels, class_names: Sequence[str], title: str = "", frame_ms: int = 120) -> go.Figure:
    """2-D latents of the same points after every epoch, as an animation the browser plays (a play
    button that plays it from epoch 0, and an epoch slider; no server round trip), on axes fixed over
    all epochs so that the movement shows. It opens on the last epoch.

    Args:
        snapshots: (E + 1, N, 2) latents after each epoch, index 0 at initialisation.
        labels: (N,) integer classes in [0, K).
        class_names: (K,) names, one trace per class present, coloured as in :func:`latent_scatter`.
        frame_ms: milliseconds per epoch when playing.
    """
    snapshots = base.array(snapshots, "snapshots", (None, None, 2))
    last = len(snapshots) - 1
    labels = check_labels(labels, snapshots.shape[1], len(class_names), "labels")
    present = [c for c in range(len(class_names)) if (labels == c).any()]
    fig = latent_scatter(snapshots[last], labels, class_names, title=title)

    def data(epoch: int) -> list[dict]:
        z = snapshots[epoch]
        return [{"x": z[labels == c, 0], "y": z[labels == c, 1]} for c in present]

    names = [str(epoch) for epoch in range(last + 1)]
    fig.frames = [go.Frame(data=data(epoch), name=name, traces=list(range(len(present))))
                  for epoch, name in enumerate(names)]
    low, high = snapshots.min(axis=(0, 1)), snapshots.max(axis=(0, 1))
    pad = 0.05 * (high - low) + 1e-6
    # from epoch 0 each time: the figure opens on the last epoch, where playing on would show nothing
    play = {"frame": {"duration": frame_ms, "redraw": False}, "transition": {"duration": 0}, "fromcurrent": False}
    fig.update_layout(
        xaxis_range=[low[0] - pad[0], high[0] + pad[0]], yaxis_range=[low[1] - pad[1], high[1] + pad[1]],
        margin_b=190,  # the slider, then the buttons, under the x axis
        updatemenus=[{"type": "buttons", "direction": "left", "showactive": False, "x": 0, "y": -0.42,
                      "xanchor": "left", "yanchor": "top", "buttons": [
                          {"label": "▶ replay", "method": "animate", "args": [None, {**play, "mode": "immediate"}]},
                          {"label": "❚❚ pause", "method": "animate",
                           "args": [[None], {"frame": {"duration": 0}, "mode": "immediate"}]}]}],
        sliders=[{"active": last, "x": 0, "len": 1, "y": -0.14, "yanchor": "top",
                  "currentvalue": {"prefix": "epoch "}, "steps": [
                      {"label": name, "method": "animate",
                       "args": [[name], {"frame": {"duration": 0, "redraw": False}, "mode": "immediate"}]}
                      for name in names]}])
    return fig
