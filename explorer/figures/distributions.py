"""Histograms: confidences, latent norms, OOD scores, and squared Mahalanobis distances against χ²_d.

Bars of ``numpy.histogram`` (last bin closed, so confidences of exactly 1 are counted).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import plotly.graph_objects as go
from scipy.stats import chi2

from explorer.core._validation import check_n_bins
from explorer.core.errors import ArgumentError
from explorer.figures import _style as base


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
    fig = go.Figure([_histogram(v, edges, name, base.color(i)) for i, (name, v) in
                     enumerate(samples.items())])
    fig.update_layout(barmode="overlay", bargap=0, xaxis_title=x_title,
                      yaxis_title="fraction of samples")
    return base.style(fig, title)


def confidence_histogram(confidences: Mapping[str, np.ndarray], n_bins: int = 20,
                         title: str = "") -> go.Figure:
    """Overlaid histograms of the confidence (max class probability), one per model.

    Args:
        confidences: legend name → (N,) confidences in [0, 1], e.g. {"A: softmax": ..., "B: vc": ...};
            the models may have different N (bars are fractions of each model's samples).
        n_bins: number of equal-width bins on [0, 1].
    """
    samples = {}
    for name, values in base.nonempty(confidences, "confidences").items():
        what = f"confidences[{name!r}]"
        samples[name] = base.in_unit_interval(base.array(values, what, (None,)), what)
    edges = np.linspace(0, 1, check_n_bins(n_bins) + 1)
    fig = _overlaid_histograms(samples, edges, "confidence (max class probability)",
                               title or "Confidence of the predictions")
    return fig.update_xaxes(range=[0, 1])


def norm_histogram(norms: Mapping[str, np.ndarray], n_bins: int = 40, title: str = "") -> go.Figure:
    """Overlaid histograms of latent norms ‖z‖, one per model, on shared bins.

    Args:
        norms: legend name → (N,) non-negative norms.
        n_bins: number of equal-width bins spanning all models' norms.
    """
    samples = {name: base.array(v, f"norms[{name!r}]", (None,))
               for name, v in base.nonempty(norms, "norms").items()}
    edges = np.histogram_bin_edges(np.concatenate(list(samples.values())), bins=check_n_bins(n_bins))
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
    samples = {"in-distribution": base.array(in_scores, "in_scores", (None,)),
               "out-of-distribution": base.array(out_scores, "out_scores", (None,))}
    edges = np.histogram_bin_edges(np.concatenate(list(samples.values())), bins=check_n_bins(n_bins))
    title = title or f"OOD score: {name}"
    if auroc is not None:
        title += f" (AUROC = {auroc:.3f})"
    return _overlaid_histograms(samples, edges, name, title)


LOG_AXIS_FROM = 3.0
""":func:`chi2_histogram` draws log r² when the latents' 99 % quantile is this many times the law's end."""


def chi2_histogram(r2, d: int, ks: float | None = None, x_max: float | None = None, n_bins: int = 50,
                   title: str = "", law=None, law_name: str = "", log_axis: bool | None = None,
                   ks_critical: float | None = None) -> go.Figure:
    """Histogram (probability density) of squared Mahalanobis distances under the χ²_d density.

    If the latents of a class follow its Gaussian prior in d dimensions, r² = (z − μ)ᵀ Σ⁻¹ (z − μ) is
    χ²_d-distributed: the bars then follow the curve.

    Args:
        r2: (N,) squared Mahalanobis distances of latents to their class prior, ≥ 0.
        d: latent dimension, the χ² degrees of freedom.
        ks: Kolmogorov–Smirnov statistic of r2 against the reference law (computed elsewhere), shown
            in the title; ``ks_critical``, the value chance alone stays under at this n (5 %), beside it.
        law: the reference law of r² when it is not χ²_d, any object with ``pdf`` and ``ppf`` (a frozen
            ``scipy.stats`` distribution: d·F(d, ν) for a Student-t prior); ``law_name`` names it.
        x_max: right end of the axis. Default: the larger of χ²_d's 99.9 % quantile (another law's
            99 %) and r2's 99 %
            quantile, so a far tail (cross-entropy latents reach r² in the thousands) does not squash
            the curve; the points beyond it are counted in the legend, and the bars stay densities
            relative to all N points (they integrate to the fraction shown).
        n_bins: number of equal-width bins on [0, x_max].
        log_axis: draw the density of log₁₀ r² (bins of equal width in log r², the law's density carried
            over: p(u) = p_law(10ᵘ)·10ᵘ·ln 10) with r² ticks, so that latents hundreds of times beyond
            the law and the law itself are read on one axis. Default: when no x_max is given and r2's
            99 % quantile is over :data:`LOG_AXIS_FROM` times the law's axis end.
    """
    r2 = base.array(r2, "r2", (None,))
    if r2.min() < 0:
        raise ArgumentError(f"r2 must be >= 0 (squared distances), got {r2.min():.4g}")
    if isinstance(d, bool) or not isinstance(d, int) or d < 1:
        raise ArgumentError(f"d must be an integer >= 1 (the latent dimension), got {d!r}")
    # χ²'s 99.9 % quantile ends the axis; a heavier-tailed law's 99 %, its 99.9 % lying far out in the tail
    quantile = 0.999 if law is None else 0.99
    if law is None:
        law, law_name = chi2(d), f"χ²({d})"
    elif not law_name:
        raise ArgumentError("law_name must name the reference law given as law")
    if log_axis is None:
        log_axis = x_max is None and bool(np.quantile(r2, 0.99) > LOG_AXIS_FROM * law.ppf(quantile))
    if log_axis:
        return _log_chi2_histogram(r2, law, law_name, _ks_title(title, law_name, ks, ks_critical), n_bins)
    if x_max is None:
        x_max = max(law.ppf(quantile), np.quantile(r2, 0.99))
    elif not x_max > 0:
        raise ArgumentError(f"x_max must be > 0, got {x_max!r}")
    beyond = int(np.sum(r2 > x_max))
    name = "r² of the latents" + (f" ({beyond} of {len(r2)} beyond the axis)" if beyond else "")
    x = np.linspace(0, x_max, 401)
    y = law.pdf(x)
    finite = np.isfinite(y)  # χ²_1's density is infinite at 0
    fig = go.Figure([
        _histogram(r2, np.linspace(0, x_max, check_n_bins(n_bins) + 1), name, base.PALETTE[0], density=True),
        go.Scatter(x=x[finite], y=y[finite], mode="lines", name=f"{law_name} density", line=base.REFERENCE),
    ])
    fig.update_layout(bargap=0, xaxis=dict(title="squared Mahalanobis distance r² to the class prior",
                                           range=[0, x_max]), yaxis_title="probability density")
    return base.style(fig, _ks_title(title, law_name, ks, ks_critical))


def _ks_title(title: str, law_name: str, ks: float | None, ks_critical: float | None) -> str:
    title = title or f"Squared Mahalanobis distance against {law_name}"
    if ks is not None:
        title += f" (KS = {ks:.3f}" + ("" if ks_critical is None else f", chance < {ks_critical:.3f}") + ")"
    return title


def _log_chi2_histogram(r2: np.ndarray, law, law_name: str, title: str, n_bins: int) -> go.Figure:
    """:func:`chi2_histogram` on a log₁₀ r² axis: the density of u = log₁₀ r² for the bars and the law."""
    positive = r2[r2 > 0]
    if not len(positive):
        raise ArgumentError("r2 has no value > 0 to place on a log axis")
    u = np.log10(positive)
    lo = min(u.min(), np.log10(law.ppf(0.001)))
    hi = max(u.max(), np.log10(law.ppf(0.999)))
    grid = np.linspace(lo, hi, 401)
    curve = law.pdf(10 ** grid) * 10 ** grid * np.log(10)
    finite = np.isfinite(curve)
    zeros = len(r2) - len(positive)
    name = "log₁₀ r² of the latents" + (f" ({zeros} of {len(r2)} at r² = 0 left out)" if zeros else "")
    fig = go.Figure([
        _histogram(u, np.linspace(lo, hi, check_n_bins(n_bins) + 1), name, base.PALETTE[0], density=True),
        go.Scatter(x=grid[finite], y=curve[finite], mode="lines", name=f"{law_name} density", line=base.REFERENCE),
    ])
    ticks = np.arange(np.floor(lo), np.ceil(hi) + 1)
    fig.update_layout(bargap=0, yaxis_title="probability density of log₁₀ r²", xaxis=dict(
        title="squared Mahalanobis distance r² to the class prior (log scale)", range=[lo, hi],
        tickvals=ticks, ticktext=[f"{10 ** t:g}" for t in ticks]))
    return base.style(fig, title)
