"""Selective prediction and conformal prediction sets: the risk–coverage curve with its band, coverage
per class against the level asked for, and the sizes of the sets.

Drawn from values computed in :mod:`explorer.measure.selective` and :mod:`explorer.measure.conformal`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from explorer.core.errors import ArgumentError
from explorer.figures import _style as base


LEGEND_BELOW = dict(orientation="h", yanchor="top", y=-0.25, x=0, xanchor="left")
"""A legend under the axes: long model names would squeeze a half-width figure's plot from the side."""


def _translucent(hex_color: str, alpha: float = 0.2) -> str:
    r, g, b = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r}, {g}, {b}, {alpha})"


def risk_coverage_figure(curves: Mapping[str, tuple], bands: Mapping[str, tuple] | None = None,
                         title: str = "") -> go.Figure:
    """Selective risk against coverage, one line per model, each with its band where given.

    Args:
        curves: legend name → (coverage (N,), risk (N,)), both in [0, 1]
            (:func:`explorer.measure.selective.risk_coverage`); legends may carry AURC.
        bands: legend name → (coverages (G,), low (G,), high (G,)), the band's ends at G coverages
            (:func:`explorer.measure.selective.risk_coverage_band`); None or a missing name: no band.
    """
    fig = go.Figure()
    for i, (name, (coverage, risk)) in enumerate(base.nonempty(curves, "curves").items()):
        coverage = base.in_unit_interval(base.array(coverage, f"curves[{name!r}] coverage", (None,)), "coverage")
        risk = base.in_unit_interval(base.array(risk, f"curves[{name!r}] risk", (len(coverage),)), "risk")
        if bands and name in bands:
            grid, low, high = (base.array(v, f"bands[{name!r}]", (None,)) for v in bands[name])
            if not len(grid) == len(low) == len(high):
                raise ArgumentError(f"bands[{name!r}] must hold three arrays of one length, got "
                                    f"{len(grid)}, {len(low)}, {len(high)}")
            fig.add_trace(go.Scatter(x=np.concatenate([grid, grid[::-1]]), y=np.concatenate([high, low[::-1]]),
                                     fill="toself", fillcolor=_translucent(base.color(i)), line=dict(width=0),
                                     hoverinfo="skip", showlegend=False, name=f"{name} band"))
        fig.add_trace(go.Scatter(x=coverage, y=risk, mode="lines", name=name,
                                 line=dict(color=base.color(i), width=base.LINE_WIDTH),
                                 hovertemplate="coverage %{x:.3f}<br>risk %{y:.4f}<extra></extra>"))
    fig.update_layout(xaxis_title="coverage (share of test examples answered)",
                      yaxis_title="selective risk (error rate among them)", hovermode="closest")
    fig.update_xaxes(range=[0, 1])
    return base.style(fig, title or "Risk–coverage")


def coverage_bars(coverage: Mapping[str, tuple], target: float, class_names: Sequence[str] | None = None,
                  title: str = "") -> go.Figure:
    """Coverage of prediction sets per class, one group of bars per model, with binomial error bars and
    the level 1 − α asked for as a dashed line.

    Args:
        coverage: legend name → (per-class coverage (K,), its standard error (K,)); NaN for a class with
            no examples (no bar). Legends may carry the marginal coverage.
        target: 1 − α in (0, 1).
        class_names: K names (default: "0"…"K−1").
    """
    if not 0 < target < 1:
        raise ArgumentError(f"target must lie in (0, 1), got {target}")
    fig = go.Figure()
    k = None
    for i, (name, (values, se)) in enumerate(base.nonempty(coverage, "coverage").items()):
        values = np.asarray(values, dtype=np.float64)
        k = len(values) if k is None else k
        if values.shape != (k,) or np.shape(se) != (k,):
            raise ArgumentError(f"coverage[{name!r}] must be two arrays of {k} values, got shapes "
                                f"{values.shape} and {np.shape(se)}")
        names = list(class_names) if class_names is not None else [str(c) for c in range(k)]
        if len(names) != k:
            raise ArgumentError(f"class_names must name {k} classes, got {len(names)}")
        fig.add_trace(go.Bar(x=names, y=[base.number(v, "coverage") for v in values], name=name,
                             marker_color=base.color(i), error_y=dict(type="data", visible=True,
                                                                      array=[base.number(v, "se") for v in se]),
                             hovertemplate="%{x}: coverage %{y:.3f}<extra></extra>"))
    fig.add_hline(y=target, line=base.REFERENCE, annotation_text=f"1 − α = {target:g}",
                  annotation_position="top left")
    fig.update_layout(barmode="group", xaxis_title="class", yaxis_title="coverage (label in its set)")
    fig.update_yaxes(range=[0, 1.08])
    return base.style(fig, title or "Coverage per class", height=650).update_layout(legend=LEGEND_BELOW)


def set_size_histogram(counts: Mapping[str, np.ndarray], title: str = "") -> go.Figure:
    """Bars of the share of prediction sets holding 0, 1, … classes, one series per model, up to the
    largest size any model's sets reach.

    Args:
        counts: legend name → (K + 1,) non-negative counts of sets of each size
            (:attr:`explorer.measure.conformal.SetCoverage.size_counts`).
    """
    shares = {}
    for name, values in base.nonempty(counts, "counts").items():
        values = base.array(values, f"counts[{name!r}]", (None,))
        if (values < 0).any() or values.sum() <= 0:
            raise ArgumentError(f"counts[{name!r}] must be non-negative with a positive total")
        shares[name] = values / values.sum()
    largest = max(int(np.flatnonzero(v)[-1]) for v in shares.values())
    fig = go.Figure()
    for i, (name, values) in enumerate(shares.items()):
        fig.add_trace(go.Bar(x=np.arange(largest + 1), y=values[:largest + 1], name=name,
                             marker_color=base.color(i), hovertemplate="size %{x}: %{y:.3f}<extra></extra>"))
    fig.update_layout(barmode="group", xaxis_title="set size (classes)", yaxis_title="share of test examples")
    fig.update_xaxes(dtick=1)
    return base.style(fig, title or "Prediction set sizes", height=650).update_layout(legend=LEGEND_BELOW)
