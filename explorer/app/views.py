"""Figures the pages show, composed from the library and the cached model outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import plotly.graph_objects as go

from explorer.app import cache
from explorer.diagnostics import gaussian_ellipse, prior_samples
from explorer.figures import chi2_histogram, latent_scatter
from explorer.projection import ProjectionConfig, cached_projection

COLOR_BY = {"class": "true label", "prediction": "prediction", "confidence": "confidence",
            "correct": "correctness"}
MAX_POINTS = 2000
PRIOR_PER_CLASS = 60


def latent_figure(path: Path, color_by: str, projection: ProjectionConfig, seed: int,
                  title_prefix: str) -> go.Figure:
    """The model's test latents (at most 2000, drawn with ``seed``) against its class Gaussians.

    d = 2: the latents themselves with the 1σ and 2σ ellipses of each p(z|y). d > 2: latents and
    prior samples placed by one projection fitted on both, the samples drawn faint.
    """
    net, meta = cache.model(path)
    out = cache.outputs(path, meta["dataset"])
    rng = np.random.default_rng(seed)
    n = len(out["labels"])
    keep = np.sort(rng.choice(n, MAX_POINTS, replace=False)) if n > MAX_POINTS else np.arange(n)
    z, labels, probs = out["latents"][keep], out["labels"][keep], out["probs"][keep]
    predicted = probs.argmax(1)
    color = {"class": None, "prediction": None, "confidence": probs.max(1),
             "correct": predicted == labels}[color_by]
    shown = predicted if color_by == "prediction" else labels
    title = f"{title_prefix}: {meta['method']}, d = {net.config.latent_dim}"
    hover = [f"#{i}: label {meta['class_names'][y]}, predicted {meta['class_names'][p]}"
             for i, y, p in zip(keep, labels, predicted)]
    common = {"class_names": meta["class_names"], "color": color, "color_label": COLOR_BY[color_by],
              "hover_text": hover, "title": title}
    if net.config.latent_dim == 2:
        means = net.head.class_means().detach().numpy()
        variances = net.head.class_log_vars().exp().detach().numpy()
        ellipses = [(k, s, gaussian_ellipse(means[k], variances[k], s))
                    for k in range(len(means)) for s in (1.0, 2.0)]
        kind = "it learns" if meta["method"] != "softmax" else "its linear layer implies (Σ = I)"
        return latent_scatter(z, shown, ellipses=ellipses, note=f"The latents themselves (d = 2). "
                              f"Ellipses: 1σ and 2σ of each class Gaussian {kind}.", **common)
    prior_z, prior_y = prior_samples(net, PRIOR_PER_CLASS, seed=seed)
    placed = cached_projection(z, projection, extra=prior_z, extra_name="prior samples")
    return latent_scatter(placed.points, shown, prior_points=placed.extra_points, prior_labels=prior_y,
                          note=placed.note, **common)


def class_names(path: Path) -> list[str]:
    return list(cache.model(path)[1]["class_names"])


def chi2_figure(path: Path, class_index: int) -> tuple[go.Figure, float]:
    """Histogram of one class's squared Mahalanobis distances against χ²_d; also the mean KS."""
    net, meta = cache.model(path)
    fit = cache.fit(path, meta["dataset"])
    r2 = fit.r2[fit.labels == class_index]
    name = meta["class_names"][class_index]
    figure = chi2_histogram(r2, fit.d, ks=float(fit.ks[class_index]),
                            title=f"{meta['method']}: class {name}, r² against χ²_{fit.d}")
    return figure, fit.mean_ks
