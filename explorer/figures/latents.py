"""The latent map: 2-D latents (or a projection of them), with class Gaussians and prior samples overlaid."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from explorer.core.errors import ArgumentError
from explorer.figures import _style as base


def latent_scatter(points, labels, class_names: Sequence[str], color=None, color_label: str = "class",
                   ellipses: Sequence[tuple[int, float, np.ndarray]] | None = None, prior_points=None,
                   prior_labels=None, hover_text: Sequence[str] | None = None, note: str | None = None,
                   title: str = "", axis_titles: tuple[str, str] = ("z₁", "z₂"),
                   axis_range: tuple[tuple[float, float], tuple[float, float]] | None = None) -> go.Figure:
    """Scatter of 2-D latents (or a 2-D projection of them), optionally with the class priors' contours
    and samples overlaid.

    Colouring: by class (``color=None``: one legend entry per class, clicking it hides the class),
    by correctness (``color`` a bool array: "correct" circles, "wrong" crosses) or by a continuous
    value (``color`` a float array, e.g. confidence, on a colour bar titled ``color_label``). The
    axes have equal scale, so a Gaussian with equal variances looks round.

    Every data-point trace carries ``customdata`` = the point's row index in ``points``, so a
    selection or click event (``points[i]["customdata"]``) maps back to the example.

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
        hover_text: (N,) extra text per point for the hover label.
        note: how the points were placed (e.g. "UMAP fitted on latents ∪ prior samples"), written under
            the plot; use "<br>" for line breaks.
        axis_titles: x and y axis titles, e.g. ("UMAP 1", "UMAP 2") for a projection.
        axis_range: ((x0, x1), (y0, y1)) to show, e.g. around the ellipses when the latents reach far
            beyond them; default: everything.
    """
    points = base.array(points, "points", (None, 2))
    n, k = len(points), len(class_names)
    labels = base.labels(labels, n, k, "labels")
    if hover_text is not None and len(hover_text) != n:
        raise ArgumentError(f"hover_text must have one entry per point ({n}), got {len(hover_text)}")
    text = [class_names[y] + (f"<br>{hover_text[i]}" if hover_text is not None else "")
            for i, y in enumerate(labels)]
    index = np.arange(n)
    by_correctness = color is not None and np.asarray(color).dtype == bool
    hover = "%{text}<br>(%{x:.2f}, %{y:.2f})<br>index %{customdata}<extra></extra>"

    def points_trace(mask, **kwargs) -> go.Scatter:
        return go.Scatter(x=points[mask, 0], y=points[mask, 1], mode="markers", customdata=index[mask],
                          text=[text[i] for i in index[mask]], hovertemplate=hover, **kwargs)

    traces = []
    if prior_points is not None:
        prior_points = base.array(prior_points, "prior_points", (None, 2))
        if prior_labels is None:
            raise ArgumentError("prior_labels must be given with prior_points")
        prior_labels = base.labels(prior_labels, len(prior_points), k, "prior_labels")
        traces.append(go.Scatter(
            x=prior_points[:, 0], y=prior_points[:, 1], mode="markers", name="prior samples",
            hoverinfo="skip", marker=dict(size=4, opacity=0.3, color=[base.color(y) for y in prior_labels])))
    if color is None:
        traces += [points_trace(labels == c, name=class_names[c], legendgroup=class_names[c],
                                marker=dict(size=7, opacity=0.75, color=base.color(c), symbol=base.symbol(c)))
                   for c in range(k) if (labels == c).any()]
    elif by_correctness:
        correct = np.asarray(color)
        if correct.shape != (n,):
            raise ArgumentError(f"color must have shape ({n},) to match the points, got {correct.shape}")
        traces += [
            points_trace(correct, name="correct", marker=dict(size=7, opacity=0.6, color=base.PALETTE[0])),
            points_trace(~correct, name="wrong", marker=dict(size=9, color=base.PALETTE[1], symbol="x")),
        ]
    else:
        values = base.array(color, "color", (n,))
        colorbar = dict(title=dict(text=color_label, side="right"), tickfont_size=base.TICK_SIZE)
        traces.append(points_trace(np.ones(n, dtype=bool), name=color_label, showlegend=False, marker=dict(
            size=7, opacity=0.8, color=values, colorscale=base.COLORSCALE, colorbar=colorbar)))
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

    fig = go.Figure(traces)
    legend_title = color_label if color is None or by_correctness else None  # else: the colour bar's
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
