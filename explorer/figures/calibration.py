"""Calibration figures: binned reliability diagrams (with their intervals), the smoothed reliability
diagram, and the calibration/refinement split of a proper score.

Drawn from values computed in the measure tier: :func:`explorer.measure.calibration.reliability_bins`,
:func:`explorer.measure.intervals.reliability_bands`, :func:`explorer.measure.smooth_calibration.smooth_reliability`
and the decompositions of :mod:`explorer.measure.decompositions`. Each builder names the fields it reads
in a Protocol, so any object with those fields works.
"""

from __future__ import annotations

from collections.abc import Mapping
from numbers import Integral
from types import SimpleNamespace
from typing import Protocol

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explorer.core._validation import as_array, check_choice
from explorer.core.errors import ArgumentError
from explorer.figures import _style as base

WIDTH = 760
"""Layout width of every figure here, in pixels: what a PNG export at scale 1 gives (a page stretches
the figure to its column)."""
ROUNDING = 1e-9
"""How far outside its range (accuracy in [0, 1], density ≥ 0) a smoothed curve may stray by floating-point
rounding (a kernel sum, an FFT) and be drawn clipped; further out, it is refused."""
FADED = 0.35
"""Opacity of the bars of a bin too sparse to read."""
INTERVAL_COLOUR = "#000000"
BAND_COLOUR = base.PALETTE[6]  # teal: apart from the accuracy (indigo) and the gap (rose) bars
SCORE_UNITS = {"NLL": "nats", "Brier": ""}
"""The scores :func:`decomposition_figure` draws, and the unit its axis and hover give each (the Brier
score has none)."""


class Bins(Protocol):
    """What a reliability diagram is drawn from: the fields of
    :class:`explorer.measure.calibration.ReliabilityBins`."""

    edges: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray
    count: np.ndarray


class Bands(Protocol):
    """The uncertainty drawn on a reliability diagram: the fields of
    :class:`explorer.measure.intervals.ReliabilityBands`, per bin of the same binning (NaN where empty)."""

    low: np.ndarray
    high: np.ndarray
    consistency_low: np.ndarray
    consistency_high: np.ndarray
    sparse: np.ndarray
    level: float
    min_count: int


class Smooth(Protocol):
    """A smoothed reliability curve: the fields of :class:`explorer.measure.smooth_calibration.SmoothReliability`."""

    grid: np.ndarray
    accuracy: np.ndarray
    density: np.ndarray
    bandwidth: float
    smooth_ece: float
    low: np.ndarray
    high: np.ndarray
    level: float
    n_resamples: int


class Parts(Protocol):
    """A proper score split in two: the fields of :class:`explorer.measure.decompositions.Decomposition`
    (score = calibration + refinement)."""

    score: float
    calibration: float
    refinement: float


def reliability_diagram(bins: Bins, title: str = "", highlight_bin: int | None = None,
                        bands: Bands | None = None) -> go.Figure:
    """Reliability diagram: per-bin accuracy bars against confidence, the gap, and the bin counts below.

    Top panel: a bar per non-empty bin up to its accuracy, a hatched bar from the accuracy to the bin's
    mean confidence (the gap: above the accuracy bar where over-confident, inside it where
    under-confident), and the diagonal of perfect calibration. Bottom panel, sharing the x axis: the
    number of samples per bin. Empty bins are drawn as nothing (their NaN statistics are left out).

    With ``bands`` (the same binning), three more things, each in the legend with its level: the
    interval on each bin's accuracy (black, with caps, haloed in white so it reads over a bar), the
    consistency band (a teal step around the diagonal: where a perfectly calibrated model's bin
    accuracy would fall at these confidences and counts), and the bins too sparse to read faded in both
    panels (legend entry "fewer than min_count examples", where there is one). The accuracy bar's hover
    gives the numbers.
    The legend then sits below the panels.

    Every bar (accuracy, gap and count) carries its bin's index b in [0, B) as ``customdata[0]``, so a
    click or selection event (``points[i]["customdata"][0]``) names the bin wherever on it one clicks;
    the interval and the band take no hover, so a click there falls to the bar.
    ``highlight_bin``: the index of a bin to outline in black (one chosen elsewhere), or None.

    Args:
        bins: ``explorer.measure.calibration.ReliabilityBins`` (any object with the same fields works):
            (B + 1,) edges in [0, 1], (B,) confidence, accuracy and count.
        bands: ``explorer.measure.intervals.ReliabilityBands`` or None: (B,) low, high,
            consistency_low, consistency_high in [0, 1] (low ≤ high; NaN allowed in empty bins only),
            (B,) bool sparse, level in (0, 1), min_count ≥ 1.
    """
    edges = base.in_unit_interval(base.array(bins.edges, "bins.edges", (None,)), "bins.edges")
    n = len(edges) - 1
    count = np.asarray(bins.count)
    if count.shape != (n,):
        raise ArgumentError(f"bins.count must have shape ({n},) to match {n + 1} edges, got {count.shape}")
    filled = count > 0
    if not filled.any():
        raise ArgumentError("bins are all empty (count sums to 0)")
    accuracy = _per_bin(bins.accuracy, "bins.accuracy", filled)[filled]
    confidence = _per_bin(bins.confidence, "bins.confidence", filled)[filled]
    checked = None if bands is None else _checked_bands(bands, filled)
    lo, hi = edges[:-1][filled], edges[1:][filled]
    x, width = (lo + hi) / 2, hi - lo
    index = np.flatnonzero(filled)[:, None]  # (filled bins, 1): customdata[0] of every bar
    if highlight_bin is not None and not (0 <= highlight_bin < n and filled[highlight_bin]):
        raise ArgumentError(f"highlight_bin must be a non-empty bin in [0, {n}), got {highlight_bin!r}")
    chosen = index[:, 0] == highlight_bin  # all False without one
    outline = dict(color=np.where(chosen, "#000000", "white"), width=np.where(chosen, 4, 1))
    # Faded bars for sparse bins: marker opacity per bar, so each trace keeps every bin (and its index).
    fade = {} if checked is None else dict(opacity=np.where(checked.sparse[filled], FADED, 1.0))

    hover = ("confidence in [%{customdata[1]:.2f}, %{customdata[2]:.2f}]<br>accuracy %{y:.3f}<br>"
             "mean confidence %{customdata[3]:.3f}<br>%{customdata[4]} samples")
    customdata = [index, lo, hi, confidence, count[filled]]
    sparse_note = None
    if checked is not None:
        level = _percent(checked.level)
        customdata += [checked.low[filled], checked.high[filled],
                       checked.consistency_low[filled], checked.consistency_high[filled]]
        hover += (f"<br>{level} interval on accuracy %{{customdata[5]:.3f}} to %{{customdata[6]:.3f}}"
                  "<br>a calibrated model's accuracy: %{customdata[7]:.3f} to %{customdata[8]:.3f}"
                  f" ({level})%{{hovertext}}")
        sparse_note = np.where(checked.sparse[filled],
                               f"<br>fewer than {checked.min_count} examples: too few to read", "")

    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.72, 0.28],
                        vertical_spacing=0.04)
    fig.add_trace(go.Bar(
        x=x, y=accuracy, width=width, name="accuracy",
        marker=dict(color=base.PALETTE[0], line=outline, **fade),
        customdata=np.column_stack(customdata), hovertext=sparse_note,
        hovertemplate=hover + "<extra></extra>",
    ), row=1, col=1)
    # The gap bar is hoverable (not "skip") so that a click on it selects its bin too: over-confident
    # bins are mostly gap.
    fig.add_trace(go.Bar(
        x=x, y=confidence - accuracy, base=accuracy, width=width, name="gap to mean confidence",
        marker=dict(color="rgba(204, 102, 119, 0.35)", line=dict(color=base.PALETTE[1], width=2),
                    pattern=dict(shape="/", fgcolor=base.PALETTE[1]), **fade), customdata=index,
        hovertemplate="mean confidence − accuracy %{y:+.3f}<extra></extra>",
    ), row=1, col=1)
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect calibration",
                             line=base.REFERENCE), row=1, col=1)
    fig.add_trace(go.Bar(x=x, y=count[filled], width=width, name="samples", showlegend=False, customdata=index,
                         hovertemplate="%{y} samples<extra></extra>",
                         marker=dict(color="#888888", line=outline, **fade)), row=2, col=1)
    height = 650
    if checked is not None:
        fig.add_traces(_band_traces(edges, checked, filled, x, width), rows=1, cols=1)
        height = 780  # room for the legend below the panels
        fig.update_layout(legend=dict(orientation="h", x=0, xanchor="left", y=-0.13, yanchor="top"))
    fig.update_layout(barmode="overlay")
    fig.update_xaxes(range=[0, 1])
    fig.update_xaxes(title_text="confidence (max class probability)", row=2, col=1)
    fig.update_yaxes(title_text="accuracy (fraction correct)", range=[0, 1.02], row=1, col=1)
    fig.update_yaxes(title_text="samples", row=2, col=1)
    base.style(fig, title or "Reliability diagram", height=height)
    return fig.update_layout(width=WIDTH)


def _band_traces(edges: np.ndarray, bands: Bands, filled: np.ndarray, x: np.ndarray,
                 width: np.ndarray) -> list[go.Scatter]:
    """The consistency band (a step per bin), the accuracy intervals (white halo, black line with caps)
    and, where a bin is sparse, the legend entry of sparse bins; ``x`` and ``width`` are the non-empty
    bins' centres and widths."""
    level = _percent(bands.level)
    step_x = np.column_stack([edges[:-1], edges[1:]]).ravel()  # each bin's two edges, so a bin is a flat step
    band_x, band_y = _polygons(step_x, np.repeat(bands.consistency_low, 2), np.repeat(bands.consistency_high, 2))
    cap = width / 5
    low, high = bands.low[filled], bands.high[filled]
    # Per bin: the vertical line, then the lower and the upper cap, each segment closed by a gap.
    gap = np.full_like(x, np.nan)
    seg_x = np.column_stack([x, x, gap, x - cap, x + cap, gap, x - cap, x + cap, gap]).ravel()
    seg_y = np.column_stack([low, high, gap, low, low, gap, high, high, gap]).ravel()
    seg_x, seg_y = _gaps(seg_x), _gaps(seg_y)
    interval = dict(x=seg_x, y=seg_y, mode="lines", hoverinfo="skip", legendgroup="interval")
    traces = [
        go.Scatter(x=band_x, y=band_y, mode="lines", fill="toself", hoverinfo="skip",
                   name=f"where a calibrated model's bins fall ({level})",
                   fillcolor=_rgba(BAND_COLOUR, 0.3), line=dict(color=BAND_COLOUR, width=2)),
        go.Scatter(**interval, showlegend=False, line=dict(color="white", width=base.LINE_WIDTH + 4)),
        go.Scatter(**interval, name=f"{level} interval on accuracy",
                   line=dict(color=INTERVAL_COLOUR, width=base.LINE_WIDTH - 0.5)),
    ]
    if bands.sparse.any():  # a legend entry alone (no data): which bars are faded and why
        traces.append(go.Bar(x=[None], y=[None], name=f"fewer than {bands.min_count} examples (faded)",
                             hoverinfo="skip",
                             marker=dict(color=_rgba(base.PALETTE[0], FADED))))  # a legend draws no marker opacity
    return traces


def smooth_reliability_diagram(smooth: Smooth, title: str = "") -> go.Figure:
    """Smoothed reliability diagram (Błasiok & Nakkiran 2023): the kernel-smoothed accuracy against
    confidence with its band, the diagonal, and the density of the confidences in a panel below.

    smECE and the kernel's bandwidth σ are in the subtitle, the band's level and its number of
    resamples in the legend.
    Where the curve or the band is NaN (no confidences near enough for the kernel to say anything) it
    is drawn as a gap. The curve's hover gives the confidence, the smoothed accuracy, the band and the
    density at each grid point.

    Args:
        smooth: ``explorer.measure.smooth_calibration.SmoothReliability`` (any object with its fields):
            (G,) grid increasing in [0, 1]; (G,) accuracy, low, high in [0, 1] or NaN, low ≤ high;
            (G,) density ≥ 0 (per unit confidence); bandwidth > 0; smooth_ece in [0, 1]; level in
            (0, 1); n_resamples ≥ 1.
    """
    grid = base.in_unit_interval(base.array(smooth.grid, "smooth.grid", (None,)), "smooth.grid")
    if len(grid) < 2 or (np.diff(grid) <= 0).any():
        raise ArgumentError(f"smooth.grid must be at least 2 strictly increasing confidences, got {len(grid)} "
                            "that are not")
    accuracy, low, high = (_along_grid(getattr(smooth, name), f"smooth.{name}", len(grid), gaps=True)
                           for name in ("accuracy", "low", "high"))
    for name, values in (("smooth.accuracy", accuracy), ("smooth.low", low), ("smooth.high", high)):
        known = values[~np.isnan(values)]
        if known.size and (known.min() < -ROUNDING or known.max() > 1 + ROUNDING):
            raise ArgumentError(f"{name} must lie in [0, 1], got values in [{known.min():.4g}, {known.max():.4g}]")
    if np.isnan(accuracy).all():
        raise ArgumentError("smooth.accuracy is NaN everywhere: there is no curve to draw")
    accuracy, low, high = (np.clip(v, 0, 1) for v in (accuracy, low, high))  # NaN stays NaN
    _ordered(low, high, "smooth.low", "smooth.high", "grid point")
    density = _along_grid(smooth.density, "smooth.density", len(grid), gaps=False)
    if density.min() < -ROUNDING:
        raise ArgumentError(f"smooth.density must be ≥ 0, got {density.min():.4g}")
    density = np.maximum(density, 0)
    level = _level(smooth.level, "smooth.level")
    resamples = _count(smooth.n_resamples, "smooth.n_resamples")
    bandwidth, smece = _real(smooth.bandwidth, "smooth.bandwidth"), _real(smooth.smooth_ece, "smooth.smooth_ece")
    if bandwidth <= 0 or not 0 <= smece <= 1:
        raise ArgumentError(f"smooth.bandwidth must be > 0 and smooth.smooth_ece in [0, 1], got "
                            f"{bandwidth:.4g} and {smece:.4g}")

    band_x, band_y = _polygons(grid, low, high)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.72, 0.28], vertical_spacing=0.04)
    fig.add_trace(go.Scatter(x=band_x, y=band_y, mode="lines", fill="toself", hoverinfo="skip",
                             name=f"{_percent(level)} band ({resamples} bootstrap resamples)",
                             fillcolor=_rgba(BAND_COLOUR, 0.3), line=dict(color=BAND_COLOUR, width=1)),
                  row=1, col=1)
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect calibration", line=base.REFERENCE),
                  row=1, col=1)
    fig.add_trace(go.Scatter(
        x=grid, y=_gaps(accuracy), mode="lines", name="smoothed accuracy",
        line=dict(color=base.PALETTE[0], width=base.LINE_WIDTH + 1),
        customdata=np.column_stack([_gaps(low), _gaps(high), density]).tolist(),
        hovertemplate=f"confidence %{{x:.3f}}<br>smoothed accuracy %{{y:.3f}}<br>{_percent(level)} band "
                      "%{customdata[0]:.3f} to %{customdata[1]:.3f}<br>density of confidences "
                      "%{customdata[2]:.2f} per unit confidence<extra></extra>",
    ), row=1, col=1)
    fig.add_trace(go.Scatter(
        x=grid, y=density, mode="lines", fill="tozeroy", name="density of confidences", showlegend=False,
        line=dict(color="#888888", width=2), fillcolor="rgba(136, 136, 136, 0.4)",
        hovertemplate="confidence %{x:.3f}<br>density %{y:.2f} per unit confidence<extra></extra>",
    ), row=2, col=1)
    fig.update_xaxes(range=[0, 1])
    fig.update_xaxes(title_text="confidence (max class probability)", row=2, col=1)
    fig.update_yaxes(title_text="accuracy (fraction correct)", range=[0, 1.02], row=1, col=1)
    fig.update_yaxes(title_text="density", rangemode="tozero", row=2, col=1)
    base.style(fig, title or "Smoothed reliability diagram", height=720)
    fig.update_layout(
        width=WIDTH, margin_t=110 + 24 * title.count("<br>"),  # the subtitle goes under every line of the title
        title_subtitle=dict(text=f"smECE = {smece:.3f}, kernel bandwidth σ = {bandwidth:.3f}",
                            font_size=base.TICK_SIZE + 2),
        legend=dict(orientation="h", x=0, xanchor="left", y=-0.13, yanchor="top"))
    return fig


def decomposition_figure(parts: Mapping[str, Parts], score: str = "NLL", title: str = "") -> go.Figure:
    """A proper score split into its calibration and refinement parts, one stacked horizontal bar per row.

    Each bar starts with the refinement part (the score a perfectly recalibrated model would keep: no
    post-hoc fix can remove it, and a map that merges scores, as binning does, can add to it) and ends
    with the calibration part (what the best recalibration map could remove), so the bar ends at the
    score, whose value is written after it. A negative part (an estimate below zero) is drawn left of
    zero. Rows are drawn top to bottom in the mapping's order; the hover of each part says what it
    means, its value with its unit and its share of the score.

    Args:
        parts: row name (e.g. "Model A", "Model A + isotonic") → an
            ``explorer.measure.decompositions.Decomposition`` (any object with finite ``score``,
            ``calibration`` and ``refinement``, score = calibration + refinement to 1e-6 relative).
        score: which score the parts split, one of :data:`SCORE_UNITS` ("NLL" in nats, or "Brier").
        title: the figure's title; empty: "<score>: calibration and refinement".
    """
    check_choice("score", score, tuple(SCORE_UNITS))
    names = list(base.nonempty(parts, "parts"))
    values = np.array([[_real(getattr(parts[name], field), f"parts[{name!r}].{field}")
                        for field in ("score", "calibration", "refinement")] for name in names])
    total, calibration, refinement = values.T
    off = np.abs(calibration + refinement - total) > 1e-6 * np.maximum(np.abs(total), 1.0)
    if off.any():
        i = int(np.argmax(off))
        raise ArgumentError(f"parts[{names[i]!r}]: score {total[i]:.6g} must equal calibration + refinement "
                            f"= {calibration[i] + refinement[i]:.6g}")
    unit = f" {SCORE_UNITS[score]}" if SCORE_UNITS[score] else ""
    share = np.divide(values[:, 1:], total[:, None], out=np.full((len(names), 2), np.nan),
                      where=total[:, None] != 0)
    share = np.where(np.isfinite(share), share, 0.0)
    meaning = {  # part → (legend, hover)
        "refinement": ("recalibration cannot remove it",
                       "what a perfectly recalibrated model keeps: recalibration cannot remove it<br>"
                       "(a map that merges scores, as binning does, can add to it)"),
        "calibration": ("what recalibration could remove", "what the best recalibration map could remove"),
    }
    fig = go.Figure()
    for j, (part, colour) in enumerate((("refinement", base.PALETTE[0]), ("calibration", base.PALETTE[1]))):
        fig.add_trace(go.Bar(
            x=values[:, 2 - j], y=names, orientation="h", name=f"{part} ({meaning[part][0]})",
            marker=dict(color=colour, line=dict(color="white", width=1)), customdata=share[:, 1 - j],
            hovertemplate=f"%{{y}}<br>{part} part of the {score}: %{{x:.4f}}{unit} "
                          f"(%{{customdata:.0%}} of it)<br>{meaning[part][1]}<extra></extra>"))
    fig.add_trace(go.Scatter(
        x=total, y=names, mode="text", text=[f" {t:.3f}" for t in total], textposition="middle right",
        name=score, showlegend=False, textfont_size=base.TICK_SIZE, cliponaxis=False,  # a label may reach the margin
        hovertemplate=f"%{{y}}<br>{score} %{{x:.4f}}{unit} = calibration + refinement<extra></extra>"))
    reach = max(values.max(), 0.0)
    fig.update_layout(barmode="relative", bargap=0.35,
                      # above the bars, under the title: a fixed place in pixels whatever the number of rows
                      legend=dict(orientation="h", x=0, xanchor="left", y=1.02, yanchor="bottom"))
    fig.update_xaxes(title_text=f"{score} ({SCORE_UNITS[score] or 'no unit'})", showgrid=True, gridcolor="#e5e5e5",
                     range=[min(values.min(), 0.0) * 1.1, reach * 1.35 or 1.0])  # room for the total's label
    fig.update_yaxes(autorange="reversed", automargin=True)
    base.style(fig, title or f"{score}: calibration and refinement", height=240 + 70 * len(names))
    return fig.update_layout(width=WIDTH, margin_t=150)


# ---------------------------------------------------------------------------------------------------
# Checks at the boundary and drawing arithmetic


def _per_bin(values, name: str, filled: np.ndarray) -> np.ndarray:
    """(B,) float values, finite and in [0, 1] in the non-empty bins, NaN in the empty ones."""
    n = len(filled)
    values = np.asarray(values, dtype=np.float64)
    if values.shape != (n,):
        raise ArgumentError(f"{name} must have shape ({n},) to match {n + 1} edges, got {values.shape}")
    base.in_unit_interval(base.array(values[filled], f"{name} of non-empty bins", (None,)), name)
    return np.where(filled, values, np.nan)


def _checked_bands(bands: Bands, filled: np.ndarray) -> Bands:
    """``bands`` checked against the bins' non-empty bins ``filled`` (B,): float arrays with NaN in every
    empty bin, ``sparse`` False there."""
    n = len(filled)
    sparse = np.asarray(bands.sparse)
    if sparse.shape != (n,) or sparse.dtype != bool:
        raise ArgumentError(f"bands.sparse must be a bool array of shape ({n},) to match the bins, "
                            f"got {sparse.dtype} of shape {sparse.shape}")
    low, high, consistency_low, consistency_high = (
        _per_bin(getattr(bands, name), f"bands.{name}", filled)
        for name in ("low", "high", "consistency_low", "consistency_high"))
    _ordered(low, high, "bands.low", "bands.high", "bin")
    _ordered(consistency_low, consistency_high, "bands.consistency_low", "bands.consistency_high", "bin")
    return SimpleNamespace(low=low, high=high, consistency_low=consistency_low, consistency_high=consistency_high,
                           sparse=sparse & filled, level=_level(bands.level, "bands.level"),
                           min_count=_count(bands.min_count, "bands.min_count"))


def _along_grid(values, name: str, g: int, gaps: bool) -> np.ndarray:
    """(G,) float values, one per point of smooth.grid: finite, or NaN (a gap) too when ``gaps``."""
    values = as_array(values, name)
    if values.shape != (g,):
        raise ArgumentError(f"{name} must have shape ({g},) to match smooth.grid, got {values.shape}")
    wrong = np.isinf(values) | (np.isnan(values) & (not gaps))
    if wrong.any():
        raise ArgumentError(f"{name} must be finite{' or NaN (a gap)' if gaps else ''}, got {values[wrong][0]}")
    return values


def _ordered(low: np.ndarray, high: np.ndarray, low_name: str, high_name: str, where: str) -> None:
    """Refuse ``low`` > ``high`` wherever both are known."""
    wrong = np.flatnonzero(low > high)  # NaN compares False: gaps pass
    if wrong.size:
        i = wrong[0]
        raise ArgumentError(f"{low_name} must be ≤ {high_name}, got {low[i]:.4g} > {high[i]:.4g} at {where} {i}")


def _real(value, name: str) -> float:
    """A finite float, else an ArgumentError naming ``name``."""
    number = base.number(value, name)
    if number is None:
        raise ArgumentError(f"{name} must be a finite number, got {value!r}")
    return number


def _level(value, name: str) -> float:
    level = _real(value, name)
    if not 0 < level < 1:
        raise ArgumentError(f"{name} must lie in (0, 1), got {level!r}")
    return level


def _count(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ArgumentError(f"{name} must be an integer ≥ 1, got {value!r}")
    return int(value)


def _percent(level: float) -> str:
    """0.95 → "95%", 0.995 → "99.5%"."""
    return f"{100 * level:.4g}%"


def _rgba(colour: str, alpha: float) -> str:
    """``#RRGGBB`` with an opacity, as plotly's ``rgba(r, g, b, a)``."""
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r}, {g}, {b}, {alpha})"


def _gaps(values: np.ndarray) -> list[float | None]:
    """Floats with None for NaN: plotly draws None as a gap and writes it to JSON as null."""
    return [None if np.isnan(v) else float(v) for v in values]


def _polygons(x: np.ndarray, low: np.ndarray, high: np.ndarray) -> tuple[list, list]:
    """The closed outline of the band between ``low`` and ``high`` over ``x``, one polygon per run of
    points where both are known, runs separated by None (``fill="toself"`` fills each polygon)."""
    known = ~(np.isnan(low) | np.isnan(high))
    xs, ys = [], []
    for run in np.split(np.flatnonzero(known), np.flatnonzero(np.diff(np.flatnonzero(known)) > 1) + 1):
        if run.size:
            xs += [*x[run], *x[run][::-1], x[run[0]], None]
            ys += [*high[run], *low[run][::-1], high[run[0]], None]
    return [None if v is None else float(v) for v in xs], [None if v is None else float(v) for v in ys]
