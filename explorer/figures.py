"""Plotly figure builders: every figure the app shows, drawn from values computed elsewhere.

Display only, like scikit-learn's ``CalibrationDisplay`` next to ``calibration_curve``: a builder takes
numpy arrays or plain Python values that the library has already computed (reliability bins,
projections, distances, histories), checks their shapes at the boundary (``ValueError`` naming the
bad argument) and returns a ``plotly.graph_objects.Figure``. Nothing here computes a metric, and
nothing imports streamlit or torch, so the same builders serve the app (``st.plotly_chart(fig)``) and
notebooks (``fig.show()``). Drawing-only arithmetic stays: histogram bar heights, the χ² density
curve, closing an ellipse.

Style, for a projector: text of at least 16 px, 3 px lines, the white template, axis titles with
units, and :data:`PALETTE`, ten colours told apart under the common colour-vision deficiencies.
:func:`_style` is the one place that sets fonts and template. A ``title`` left empty gives the
builder's default title.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping, Sequence
from numbers import Real
from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from scipy.stats import chi2

if TYPE_CHECKING:  # only for annotations: explorer.calibration imports torch
    from explorer.calibration import ReliabilityBins

#: Class colours: Paul Tol's "muted" qualitative scheme (nine colours told apart under the common
#: colour-vision deficiencies), plus black as the tenth. Class k gets
#: ``PALETTE[k % 10]``; models compared in one figure take the colours in order.
PALETTE = ("#332288", "#CC6677", "#117733", "#DDCC77", "#88CCEE",
           "#882255", "#44AA99", "#999933", "#AA4499", "#000000")
FONT_SIZE = 18
TICK_SIZE = 16
LINE_WIDTH = 3
REFERENCE = dict(color="#666666", width=LINE_WIDTH, dash="dash")  # diagonals, reference densities
COLORSCALE = "Viridis"  # continuous colouring: perceptually uniform and colour-blind safe
TRAINING_PANELS = {
    "loss": "total loss (nats)",
    "cross_entropy": "cross-entropy (nats)",
    "prior_nll": "prior NLL −log p(z|y) (nats)",
    "kl_estimate": "KL estimate (nats)",
    "disc_accuracy": "discriminator accuracy",
    "val_accuracy": "validation accuracy",
    "val_ece": "validation ECE",
    "val_nll": "validation NLL (nats)",
    "latent_norm": "mean ‖z‖ per class (validation)",
}
"""History keys :func:`training_curves` draws, in panel order, with their panel titles."""


NOTE_WIDTH = 55  # characters per line of a figure note


def _color(k: int) -> str:
    """Colour of class (or series) k."""
    return PALETTE[k % len(PALETTE)]


def _style(fig: go.Figure, title: str, height: int = 550) -> go.Figure:
    """Apply the common layout (template, fonts, axis lines) in place and return ``fig``."""
    fig.update_layout(
        template="plotly_white", height=height, title=dict(text=title, font_size=FONT_SIZE + 4),
        font_size=FONT_SIZE, legend_font_size=TICK_SIZE, hoverlabel_font_size=TICK_SIZE,
        margin=dict(l=80, r=30, t=80, b=70),
    )
    axes = dict(title_font_size=FONT_SIZE, tickfont_size=TICK_SIZE, showline=True, linewidth=2,
                linecolor="#444444")
    fig.update_xaxes(**axes)
    fig.update_yaxes(**axes)
    fig.update_annotations(font_size=FONT_SIZE)  # subplot titles and notes
    return fig


# ---------------------------------------------------------------------------------------------------
# Validation at the boundary


def _array(x, name: str, shape: tuple[int | None, ...]) -> np.ndarray:
    """``x`` as a finite float array of ``shape`` (None: any length), else ValueError naming ``name``."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != len(shape) or any(want not in (None, got) for got, want in zip(x.shape, shape)):
        wanted = str(tuple("N" if w is None else w for w in shape)).replace("'", "")
        raise ValueError(f"{name} must have shape {wanted}, got {x.shape}")
    if x.size == 0:
        raise ValueError(f"{name} is empty")
    if not np.isfinite(x).all():
        raise ValueError(f"{name} must be finite, got {x.flat[np.flatnonzero(~np.isfinite(x))[0]]}")
    return x


def _in_unit_interval(x: np.ndarray, name: str) -> np.ndarray:
    if x.min() < 0 or x.max() > 1:
        raise ValueError(f"{name} must lie in [0, 1], got values in [{x.min():.4g}, {x.max():.4g}]")
    return x


def _check_n_bins(n_bins) -> int:
    if isinstance(n_bins, bool) or not isinstance(n_bins, int) or n_bins < 1:
        raise ValueError(f"n_bins must be an integer >= 1, got {n_bins!r}")
    return n_bins


def _nonempty(mapping: Mapping, name: str) -> Mapping:
    if not mapping:
        raise ValueError(f"{name} must name at least one series, got an empty mapping")
    return mapping


def _labels(labels, n: int, k: int, name: str) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},) to match the points, got {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer) or not 0 <= labels.min() <= labels.max() < k:
        raise ValueError(f"{name} must be integers in [0, {k}) (one per class name), got {labels[:5]}...")
    return labels.astype(np.int64)


def _number(value, what: str) -> float | None:
    """A float for plotting, None for a missing (None or non-finite) value, ValueError otherwise."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ValueError(f"{what} must be a number, got {value!r}")
    return float(value) if math.isfinite(value) else None


# ---------------------------------------------------------------------------------------------------
# Histograms: bars of numpy.histogram (last bin closed, so confidences of exactly 1 are counted)


def _histogram(values: np.ndarray, edges: np.ndarray, name: str, color: str,
               density: bool = False) -> go.Bar:
    """Bars of the fraction of ``values`` per bin, or of probability density when ``density``.

    Both are relative to all of ``values``, so values outside the edges lower the bars (they are not
    renormalised away) and two samples of different sizes compare directly.
    """
    widths = np.diff(edges)
    heights = np.histogram(values, edges)[0] / len(values) / (widths if density else 1)
    return go.Bar(x=edges[:-1] + widths / 2, y=heights, width=widths, name=name, opacity=0.55,
                  marker=dict(color=color, line=dict(color=color, width=1)))


def _overlaid_histograms(samples: Mapping[str, np.ndarray], edges: np.ndarray, x_title: str,
                         title: str) -> go.Figure:
    fig = go.Figure([_histogram(v, edges, name, _color(i)) for i, (name, v) in
                     enumerate(samples.items())])
    fig.update_layout(barmode="overlay", bargap=0, xaxis_title=x_title,
                      yaxis_title="fraction of samples")
    return _style(fig, title)


def confidence_histogram(confidences: Mapping[str, np.ndarray], n_bins: int = 20,
                         title: str = "") -> go.Figure:
    """Overlaid histograms of the confidence (max class probability), one per model.

    Args:
        confidences: legend name → (N,) confidences in [0, 1], e.g. {"A: softmax": ..., "B: vc": ...};
            the models may have different N (bars are fractions of each model's samples).
        n_bins: number of equal-width bins on [0, 1].
    """
    samples = {}
    for name, values in _nonempty(confidences, "confidences").items():
        what = f"confidences[{name!r}]"
        samples[name] = _in_unit_interval(_array(values, what, (None,)), what)
    edges = np.linspace(0, 1, _check_n_bins(n_bins) + 1)
    fig = _overlaid_histograms(samples, edges, "confidence (max class probability)",
                               title or "Confidence of the predictions")
    return fig.update_xaxes(range=[0, 1])


def norm_histogram(norms: Mapping[str, np.ndarray], n_bins: int = 40, title: str = "") -> go.Figure:
    """Overlaid histograms of latent norms ‖z‖, one per model, on shared bins.

    Args:
        norms: legend name → (N,) non-negative norms.
        n_bins: number of equal-width bins spanning all models' norms.
    """
    samples = {name: _array(v, f"norms[{name!r}]", (None,))
               for name, v in _nonempty(norms, "norms").items()}
    edges = np.histogram_bin_edges(np.concatenate(list(samples.values())), bins=_check_n_bins(n_bins))
    return _overlaid_histograms(samples, edges, "latent norm ‖z‖ (latent units)", title or "Latent norms")


def score_histograms(in_scores, out_scores, name: str, auroc: float | None = None, n_bins: int = 40,
                     title: str = "") -> go.Figure:
    """Histograms of an OOD score on in- and out-of-distribution inputs, with the AUROC in the title.

    Args:
        in_scores: (N,) scores of in-distribution inputs.
        out_scores: (M,) scores of out-of-distribution inputs.
        name: the score, used as the x-axis title (e.g. "max softmax probability", "log p(z) (nats)").
        auroc: the score's AUROC in [0, 1], computed elsewhere; omitted from the title if None.
        n_bins: number of equal-width bins spanning both samples.
    """
    samples = {"in-distribution": _array(in_scores, "in_scores", (None,)),
               "out-of-distribution": _array(out_scores, "out_scores", (None,))}
    edges = np.histogram_bin_edges(np.concatenate(list(samples.values())), bins=_check_n_bins(n_bins))
    title = title or f"OOD score: {name}"
    if auroc is not None:
        title += f" (AUROC = {auroc:.3f})"
    return _overlaid_histograms(samples, edges, name, title)


def chi2_histogram(r2, d: int, ks: float | None = None, x_max: float | None = None, n_bins: int = 50,
                   title: str = "") -> go.Figure:
    """Histogram (probability density) of squared Mahalanobis distances under the χ²_d density.

    If the latents of a class follow its Gaussian prior in d dimensions, r² = (z − μ)ᵀ Σ⁻¹ (z − μ) is
    χ²_d-distributed: the bars then follow the curve.

    Args:
        r2: (N,) squared Mahalanobis distances of latents to their class prior, ≥ 0.
        d: latent dimension, the χ² degrees of freedom.
        ks: Kolmogorov–Smirnov statistic of r2 against χ²_d (computed elsewhere), shown in the title.
        x_max: right end of the axis. Default: the larger of χ²_d's 99.9 % quantile and r2's 99 %
            quantile, so a far tail (cross-entropy latents reach r² in the thousands) does not squash
            the curve; the points beyond it are counted in the legend, and the bars stay densities
            relative to all N points (they integrate to the fraction shown).
        n_bins: number of equal-width bins on [0, x_max].
    """
    r2 = _array(r2, "r2", (None,))
    if r2.min() < 0:
        raise ValueError(f"r2 must be >= 0 (squared distances), got {r2.min():.4g}")
    if isinstance(d, bool) or not isinstance(d, int) or d < 1:
        raise ValueError(f"d must be an integer >= 1 (the latent dimension), got {d!r}")
    if x_max is None:
        x_max = max(chi2.ppf(0.999, d), np.quantile(r2, 0.99))
    elif not x_max > 0:
        raise ValueError(f"x_max must be > 0, got {x_max!r}")
    beyond = int(np.sum(r2 > x_max))
    name = "r² of the latents" + (f" ({beyond} of {len(r2)} beyond the axis)" if beyond else "")
    x = np.linspace(0, x_max, 401)
    y = chi2.pdf(x, d)
    finite = np.isfinite(y)  # χ²_1's density is infinite at 0
    fig = go.Figure([
        _histogram(r2, np.linspace(0, x_max, _check_n_bins(n_bins) + 1), name, PALETTE[0], density=True),
        go.Scatter(x=x[finite], y=y[finite], mode="lines", name=f"χ²({d}) density", line=REFERENCE),
    ])
    title = title or f"Squared Mahalanobis distance against χ²({d})"
    if ks is not None:
        title += f" (KS = {ks:.3f})"
    fig.update_layout(bargap=0, xaxis=dict(title="squared Mahalanobis distance r² to the class prior",
                                           range=[0, x_max]), yaxis_title="probability density")
    return _style(fig, title)


# ---------------------------------------------------------------------------------------------------
# Calibration


def reliability_diagram(bins: ReliabilityBins, title: str = "") -> go.Figure:
    """Reliability diagram: per-bin accuracy bars against confidence, the gap, and the bin counts below.

    Top panel: a bar per non-empty bin up to its accuracy, a hatched bar from the accuracy to the bin's
    mean confidence (the gap: above the accuracy bar where over-confident, inside it where
    under-confident), and the diagonal of perfect calibration. Bottom panel, sharing the x axis: the
    number of samples per bin. Empty bins are drawn as nothing (their NaN statistics are left out).

    Args:
        bins: ``explorer.calibration.ReliabilityBins`` (any object with the same fields works):
            (B + 1,) edges in [0, 1], (B,) confidence, accuracy and count.
    """
    edges = _in_unit_interval(_array(bins.edges, "bins.edges", (None,)), "bins.edges")
    n = len(edges) - 1
    count = np.asarray(bins.count)
    if count.shape != (n,):
        raise ValueError(f"bins.count must have shape ({n},) to match {n + 1} edges, got {count.shape}")
    filled = count > 0
    if not filled.any():
        raise ValueError("bins are all empty (count sums to 0)")
    accuracy, confidence = (np.asarray(v, dtype=np.float64) for v in (bins.accuracy, bins.confidence))
    for name, v in (("accuracy", accuracy), ("confidence", confidence)):
        if v.shape != (n,):
            raise ValueError(f"bins.{name} must have shape ({n},) to match {n + 1} edges, got {v.shape}")
        _in_unit_interval(_array(v[filled], f"bins.{name} of non-empty bins", (None,)), f"bins.{name}")
    accuracy, confidence = accuracy[filled], confidence[filled]
    lo, hi = edges[:-1][filled], edges[1:][filled]
    x, width = (lo + hi) / 2, hi - lo

    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.72, 0.28],
                        vertical_spacing=0.04)
    fig.add_trace(go.Bar(
        x=x, y=accuracy, width=width, name="accuracy",
        marker=dict(color=PALETTE[0], line=dict(color="white", width=1)),
        customdata=np.column_stack([lo, hi, confidence, count[filled]]),
        hovertemplate="confidence in [%{customdata[0]:.2f}, %{customdata[1]:.2f}]<br>accuracy %{y:.3f}<br>"
                      "mean confidence %{customdata[2]:.3f}<br>%{customdata[3]} samples<extra></extra>",
    ), row=1, col=1)
    fig.add_trace(go.Bar(
        x=x, y=confidence - accuracy, base=accuracy, width=width, name="gap to mean confidence",
        marker=dict(color="rgba(204, 102, 119, 0.35)", line=dict(color=PALETTE[1], width=2),
                    pattern=dict(shape="/", fgcolor=PALETTE[1])), hoverinfo="skip",
    ), row=1, col=1)
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect calibration",
                             line=REFERENCE), row=1, col=1)
    fig.add_trace(go.Bar(x=x, y=count[filled], width=width, name="samples", showlegend=False,
                         marker=dict(color="#888888", line=dict(color="white", width=1))), row=2, col=1)
    fig.update_layout(barmode="overlay")
    fig.update_xaxes(range=[0, 1])
    fig.update_xaxes(title_text="confidence (max class probability)", row=2, col=1)
    fig.update_yaxes(title_text="accuracy (fraction correct)", range=[0, 1.02], row=1, col=1)
    fig.update_yaxes(title_text="samples", row=2, col=1)
    return _style(fig, title or "Reliability diagram", height=650)


# ---------------------------------------------------------------------------------------------------
# Latent space


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
        class_names: (K,) names, in class order; class k is drawn in ``PALETTE[k % 10]``.
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
    points = _array(points, "points", (None, 2))
    n, k = len(points), len(class_names)
    labels = _labels(labels, n, k, "labels")
    if hover_text is not None and len(hover_text) != n:
        raise ValueError(f"hover_text must have one entry per point ({n}), got {len(hover_text)}")
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
        prior_points = _array(prior_points, "prior_points", (None, 2))
        if prior_labels is None:
            raise ValueError("prior_labels must be given with prior_points")
        prior_labels = _labels(prior_labels, len(prior_points), k, "prior_labels")
        traces.append(go.Scatter(
            x=prior_points[:, 0], y=prior_points[:, 1], mode="markers", name="prior samples",
            hoverinfo="skip", marker=dict(size=4, opacity=0.3, color=[_color(y) for y in prior_labels])))
    if color is None:
        traces += [points_trace(labels == c, name=class_names[c], legendgroup=class_names[c],
                                marker=dict(size=7, opacity=0.75, color=_color(c)))
                   for c in range(k) if (labels == c).any()]
    elif by_correctness:
        correct = np.asarray(color)
        if correct.shape != (n,):
            raise ValueError(f"color must have shape ({n},) to match the points, got {correct.shape}")
        traces += [
            points_trace(correct, name="correct", marker=dict(size=7, opacity=0.6, color=PALETTE[0])),
            points_trace(~correct, name="wrong", marker=dict(size=9, color=PALETTE[1], symbol="x")),
        ]
    else:
        values = _array(color, "color", (n,))
        colorbar = dict(title=dict(text=color_label, side="right"), tickfont_size=TICK_SIZE)
        traces.append(points_trace(np.ones(n, dtype=bool), name=color_label, showlegend=False, marker=dict(
            size=7, opacity=0.8, color=values, colorscale=COLORSCALE, colorbar=colorbar)))
    for c, n_std, boundary in ellipses or []:
        if not 0 <= c < k:
            raise ValueError(f"ellipse class index must be in [0, {k}), got {c}")
        boundary = _array(boundary, f"ellipse boundary of class {c}", (None, 2))
        if not np.array_equal(boundary[0], boundary[-1]):
            boundary = np.vstack([boundary, boundary[:1]])
        dash = "solid" if n_std <= 1 else "dash" if n_std <= 2 else "dot"
        traces.append(go.Scatter(
            x=boundary[:, 0], y=boundary[:, 1], mode="lines", name=f"{class_names[c]} {n_std:g}σ",
            legendgroup=class_names[c], showlegend=False, hoverinfo="name",
            line=dict(color=_color(c), width=LINE_WIDTH, dash=dash)))

    fig = go.Figure(traces)
    legend_title = color_label if color is None or by_correctness else None  # else: the colour bar's
    fig.update_layout(legend_title_text=legend_title, xaxis_title=axis_titles[0],
                      yaxis=dict(title=axis_titles[1], scaleanchor="x", scaleratio=1))
    if axis_range is not None:
        (x0, x1), (y0, y1) = axis_range
        fig.update_layout(xaxis_range=[x0, x1], yaxis_range=[y0, y1])
    _style(fig, title or "Latent space", height=700)
    if note:
        # Plotly never wraps annotations: break the note so it fits a half-width column.
        lines = textwrap.wrap(note, NOTE_WIDTH)
        fig.add_annotation(text="<br>".join(lines), xref="paper", yref="paper", x=0, y=0, xanchor="left",
                           yanchor="top", yshift=-70, showarrow=False, align="left", font_size=TICK_SIZE)
        fig.update_layout(margin_b=100 + 22 * len(lines))
    return fig


# ---------------------------------------------------------------------------------------------------
# Training and sweeps


def training_curves(history: Sequence[Mapping[str, object]], class_names: Sequence[str] | None = None,
                    title: str = "") -> go.Figure:
    """Small multiples over epochs of the training history, one panel per key of :data:`TRAINING_PANELS`.

    A key is drawn if at least one record holds it; others are skipped (softmax has no
    ``kl_estimate``). ``latent_norm`` holds a list per record (mean ‖z‖ per class) and becomes one line
    per class in the class colours. Missing or NaN values leave a gap in their line.

    Args:
        history: one dict per epoch, as ``explorer.training.train`` records it; x is ``record["epoch"]``,
            or 1, 2, ... when absent.
        class_names: legend names of the latent-norm lines (default "class 0", "class 1", ...).
    """
    if not history:
        raise ValueError("history is empty: need at least one epoch record")
    keys = [key for key in TRAINING_PANELS if any(key in record for record in history)]
    if not keys:
        raise ValueError(f"history holds none of the keys {', '.join(TRAINING_PANELS)}")
    epochs = [record.get("epoch", i + 1) for i, record in enumerate(history)]
    cols = min(3, len(keys))
    rows = math.ceil(len(keys) / cols)
    height = 120 + 330 * rows
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[TRAINING_PANELS[key] for key in keys],
                        horizontal_spacing=0.08, vertical_spacing=110 / (height - 150))  # 110 px
    for i, key in enumerate(keys):
        cell = dict(row=i // cols + 1, col=i % cols + 1)
        if key != "latent_norm":
            y = [_number(record.get(key), f"history[{e}][{key!r}]") for e, record in enumerate(history)]
            fig.add_trace(go.Scatter(x=epochs, y=y, mode="lines+markers", name=key, showlegend=False,
                                     line=dict(color="#444444", width=LINE_WIDTH)), **cell)
            continue
        per_epoch = [record.get(key) or [] for record in history]
        if not all(isinstance(norms, Sequence) for norms in per_epoch):
            raise ValueError("history's latent_norm values must be lists (mean ‖z‖ per class)")
        n_classes = max(len(norms) for norms in per_epoch)
        names = class_names or [f"class {c}" for c in range(n_classes)]
        if len(names) < n_classes:
            raise ValueError(f"class_names has {len(names)} names, latent_norm {n_classes} classes")
        for c in range(n_classes):
            y = [_number(norms[c], f"history[{e}]['latent_norm'][{c}]") if c < len(norms) else None
                 for e, norms in enumerate(per_epoch)]
            fig.add_trace(go.Scatter(x=epochs, y=y, mode="lines+markers", name=names[c],
                                     line=dict(color=_color(c), width=LINE_WIDTH)), **cell)
    fig.update_xaxes(title_text="epoch")
    return _style(fig, title or "Training curves", height=height)


def accuracy_vs(x_values, series: Mapping[str, Sequence[float]], x_title: str, y_title: str = "accuracy",
                log_x: bool = False, title: str = "") -> go.Figure:
    """Lines with markers of one quantity against a swept setting, one line per model.

    For robust accuracy against ε, accuracy or ECE against corruption severity, or against the
    training fraction (``log_x=True``).

    Args:
        x_values: (S,) swept values (> 0 when ``log_x``).
        series: legend name → S values; None or NaN leaves a gap.
        x_title, y_title: axis titles, with units (e.g. "ε (pixel units, images in [0, 1])").
        log_x: logarithmic x axis.
    """
    x = _array(x_values, "x_values", (None,))
    if log_x and x.min() <= 0:
        raise ValueError(f"x_values must be > 0 on a log axis, got {x.min():.4g}")
    traces = []
    for i, (name, values) in enumerate(_nonempty(series, "series").items()):
        if len(values) != len(x):
            raise ValueError(f"series[{name!r}] has {len(values)} values but x_values has {len(x)}")
        color = _color(i)
        traces.append(go.Scatter(x=x, y=[_number(v, f"series[{name!r}]") for v in values], name=name,
                                 mode="lines+markers", line=dict(color=color, width=LINE_WIDTH),
                                 marker=dict(size=11, color=color)))
    fig = go.Figure(traces)
    fig.update_layout(xaxis=dict(title=x_title, type="log" if log_x else "linear"), yaxis_title=y_title)
    return _style(fig, title or f"{y_title} against {x_title}")


# ---------------------------------------------------------------------------------------------------
# Single examples


def image_row(images: Sequence[np.ndarray], titles: Sequence[str], title: str = "") -> go.Figure:
    """A row of images without axes, e.g. clean, perturbation (amplified into [0, 1]), adversarial.

    Args:
        images: each (H, W) greyscale or (H, W, 3) RGB with values in [0, 1]; sizes may differ.
        titles: one title per image.
    """
    if not images or len(images) != len(titles):
        raise ValueError(f"need one title per image and at least one image, got {len(images)} images "
                         f"and {len(titles)} titles")
    fig = make_subplots(rows=1, cols=len(images), subplot_titles=list(titles), horizontal_spacing=0.03)
    for i, image in enumerate(images):
        image = _array(image, f"images[{i}]", (None, None, 3) if np.ndim(image) == 3 else (None, None))
        _in_unit_interval(image, f"images[{i}]")
        rgb = np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image
        fig.add_trace(go.Image(z=np.round(255 * rgb).astype(np.uint8), name=titles[i]), row=1, col=i + 1)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _style(fig, title, height=380)


def probability_bars(probs: Mapping[str, np.ndarray], class_names: Sequence[str],
                     title: str = "") -> go.Figure:
    """Grouped bars of class probabilities, one group per class and one bar colour per entry.

    Args:
        probs: legend name → (K,) probabilities in [0, 1], e.g. {"A before": ..., "A after": ...}.
        class_names: (K,) class names, the x axis.
    """
    k = len(class_names)
    traces = []
    for i, (name, p) in enumerate(_nonempty(probs, "probs").items()):
        p = _in_unit_interval(_array(p, f"probs[{name!r}]", (k,)), f"probs[{name!r}]")
        traces.append(go.Bar(x=list(class_names), y=p, name=name, marker_color=_color(i)))
    fig = go.Figure(traces)
    fig.update_layout(barmode="group", xaxis_title="class",
                      yaxis=dict(title="probability", range=[0, 1.02]))
    return _style(fig, title or "Class probabilities")
