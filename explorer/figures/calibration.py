"""Reliability diagrams, drawn from bins computed by :func:`explorer.measure.calibration.reliability_bins`."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explorer.core.errors import ArgumentError
from explorer.figures import _style as base


class Bins(Protocol):
    """What a reliability diagram is drawn from: the fields of
    :class:`explorer.measure.calibration.ReliabilityBins`."""

    edges: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray
    count: np.ndarray


def reliability_diagram(bins: Bins, title: str = "", highlight_bin: int | None = None) -> go.Figure:
    """Reliability diagram: per-bin accuracy bars against confidence, the gap, and the bin counts below.

    Top panel: a bar per non-empty bin up to its accuracy, a hatched bar from the accuracy to the bin's
    mean confidence (the gap: above the accuracy bar where over-confident, inside it where
    under-confident), and the diagonal of perfect calibration. Bottom panel, sharing the x axis: the
    number of samples per bin. Empty bins are drawn as nothing (their NaN statistics are left out).

    Every bar (accuracy, gap and count) carries its bin's index b in [0, B) as ``customdata[0]``, so a
    click or selection event (``points[i]["customdata"][0]``) names the bin wherever on it one clicks.
    ``highlight_bin``: the index of a bin to outline in black (one chosen elsewhere), or None.

    Args:
        bins: ``explorer.measure.calibration.ReliabilityBins`` (any object with the same fields works):
            (B + 1,) edges in [0, 1], (B,) confidence, accuracy and count.
    """
    edges = base.in_unit_interval(base.array(bins.edges, "bins.edges", (None,)), "bins.edges")
    n = len(edges) - 1
    count = np.asarray(bins.count)
    if count.shape != (n,):
        raise ArgumentError(f"bins.count must have shape ({n},) to match {n + 1} edges, got {count.shape}")
    filled = count > 0
    if not filled.any():
        raise ArgumentError("bins are all empty (count sums to 0)")
    accuracy, confidence = (np.asarray(v, dtype=np.float64) for v in (bins.accuracy, bins.confidence))
    for name, v in (("accuracy", accuracy), ("confidence", confidence)):
        if v.shape != (n,):
            raise ArgumentError(f"bins.{name} must have shape ({n},) to match {n + 1} edges, got {v.shape}")
        base.in_unit_interval(base.array(v[filled], f"bins.{name} of non-empty bins", (None,)), f"bins.{name}")
    accuracy, confidence = accuracy[filled], confidence[filled]
    lo, hi = edges[:-1][filled], edges[1:][filled]
    x, width = (lo + hi) / 2, hi - lo
    index = np.flatnonzero(filled)[:, None]  # (filled bins, 1): customdata[0] of every bar
    if highlight_bin is not None and not (0 <= highlight_bin < n and filled[highlight_bin]):
        raise ArgumentError(f"highlight_bin must be a non-empty bin in [0, {n}), got {highlight_bin!r}")
    chosen = index[:, 0] == highlight_bin  # all False without one
    outline = dict(color=np.where(chosen, "#000000", "white"), width=np.where(chosen, 4, 1))

    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.72, 0.28],
                        vertical_spacing=0.04)
    fig.add_trace(go.Bar(
        x=x, y=accuracy, width=width, name="accuracy",
        marker=dict(color=base.PALETTE[0], line=outline),
        customdata=np.column_stack([index, lo, hi, confidence, count[filled]]),
        hovertemplate="confidence in [%{customdata[1]:.2f}, %{customdata[2]:.2f}]<br>accuracy %{y:.3f}<br>"
                      "mean confidence %{customdata[3]:.3f}<br>%{customdata[4]} samples<extra></extra>",
    ), row=1, col=1)
    # The gap bar is hoverable (not "skip") so that a click on it selects its bin too: over-confident
    # bins are mostly gap.
    fig.add_trace(go.Bar(
        x=x, y=confidence - accuracy, base=accuracy, width=width, name="gap to mean confidence",
        marker=dict(color="rgba(204, 102, 119, 0.35)", line=dict(color=base.PALETTE[1], width=2),
                    pattern=dict(shape="/", fgcolor=base.PALETTE[1])), customdata=index,
        hovertemplate="mean confidence − accuracy %{y:+.3f}<extra></extra>",
    ), row=1, col=1)
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect calibration",
                             line=base.REFERENCE), row=1, col=1)
    fig.add_trace(go.Bar(x=x, y=count[filled], width=width, name="samples", showlegend=False, customdata=index,
                         hovertemplate="%{y} samples<extra></extra>",
                         marker=dict(color="#888888", line=outline)), row=2, col=1)
    fig.update_layout(barmode="overlay")
    fig.update_xaxes(range=[0, 1])
    fig.update_xaxes(title_text="confidence (max class probability)", row=2, col=1)
    fig.update_yaxes(title_text="accuracy (fraction correct)", range=[0, 1.02], row=1, col=1)
    fig.update_yaxes(title_text="samples", row=2, col=1)
    return base.style(fig, title or "Reliability diagram", height=650)
