"""The Latent space page's figures (Home draws the first one too), composed from the library and the caches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import plotly.graph_objects as go

from explorer.app import cache
from explorer.core.config import ProjectionConfig
from explorer.core.data import subset_indices
from explorer.figures import chi2_histogram, image_row, latent_scatter, norm_histogram, probability_bars
from explorer.measure.latent_map import MAX_POINTS, latent_map
from explorer.measure.latents import gaussian_ellipse

COLOR_BY = {"class": "true label", "prediction": "prediction", "confidence": "confidence",
            "correct": "correctness"}


def latent_figure(path: Path, color_by: str, projection: ProjectionConfig, seed: int,
                  title_prefix: str, zoom_to_gaussians: bool = False) -> tuple[go.Figure, np.ndarray]:
    """The model's test latents (at most ``MAX_POINTS``, drawn with ``seed``) against its class Gaussians.

    d = 2: the latents themselves with the 1σ and 2σ ellipses of each p(z|y), on axes that fit the
    latents or, with ``zoom_to_gaussians``, the ellipses (a softmax model's latents reach a hundred
    times further than its Σ = I Gaussians); the note says how far, in σ. d > 2: latents and
    prior samples placed by one projection fitted on both (:func:`explorer.measure.latent_map.latent_map`),
    the samples drawn faint. Also returns the test-split indices of the drawn points (a point's
    ``customdata`` indexes this array).
    """
    net, meta = cache.model(path)
    out = cache.outputs(path, meta["dataset"])
    d = net.config.latent_dim
    if d == 2:
        keep = subset_indices(len(out["labels"]), MAX_POINTS, seed)
    else:
        placed = latent_map(net, out["latents"], cache.digest(path), projection, seed,
                            fit=cache.fit_projection_elsewhere)
        keep = placed.keep
    labels, probs = out["labels"][keep], out["probs"][keep]
    predicted = probs.argmax(1)
    color = {"class": None, "prediction": None, "confidence": probs.max(1),
             "correct": predicted == labels}[color_by]
    shown = predicted if color_by == "prediction" else labels
    title = f"{title_prefix}: {meta['method']}, d = {d}"
    hover = [f"#{i}: label {meta['class_names'][y]}, predicted {meta['class_names'][p]}"
             for i, y, p in zip(keep, labels, predicted)]
    common = {"class_names": meta["class_names"], "color": color, "color_label": COLOR_BY[color_by],
              "hover_text": hover, "title": title}
    if d == 2:
        means = net.head.class_means().detach().numpy()
        variances = net.head.class_log_vars().exp().detach().numpy()
        ellipses = [(k, s, gaussian_ellipse(means[k], variances[k], s))
                    for k in range(len(means)) for s in (1.0, 2.0)]
        kind = "it learns" if meta["method"] != "softmax" else "its linear layer implies (Σ = I)"
        fit = cache.fit(path, meta["dataset"])
        family = "Gaussian" if fit.gaussian else f"Student-t (ν = {net.config.nu}; σ: its scale)"
        note = (f"The latents themselves (d = 2). Ellipses: 1σ and 2σ of each class {family} {kind}. "
                f"A test latent lies a median {np.median(np.sqrt(fit.r2)):.3g} σ from its class mean "
                f"({np.sqrt(fit.law.median()):.2f} σ if the latents followed their prior).")
        box = np.vstack([e for _, _, e in ellipses])
        pad = 0.15 * (box.max(0) - box.min(0))
        zoom = tuple(zip(box.min(0) - pad, box.max(0) + pad)) if zoom_to_gaussians else None
        return latent_scatter(out["latents"][keep], shown, ellipses=ellipses, note=note, axis_range=zoom,
                              **common), keep
    return latent_scatter(placed.projection.points, shown, prior_points=placed.projection.extra_points,
                          prior_labels=placed.prior_labels, note=placed.projection.note, **common), keep


def class_names(path: Path) -> list[str]:
    return list(cache.model(path)[1]["class_names"])


def chi2_figure(path: Path, class_index: int) -> tuple[go.Figure, float]:
    """Histogram of one class's squared Mahalanobis distances against the law they follow under the
    prior (χ²_d for Gaussians, d·F(d, ν) for a Student-t); also the mean KS."""
    net, meta = cache.model(path)
    fit = cache.fit(path, meta["dataset"])
    r2 = fit.r2[fit.labels == class_index]
    name = meta["class_names"][class_index]
    law = {} if fit.gaussian else {"law": fit.law, "law_name": fit.law_name}
    figure = chi2_histogram(r2, fit.d, ks=float(fit.ks[class_index]),
                            title=f"{meta['method']}: class {name}, r² against {fit.law_name}", **law)
    return figure, fit.mean_ks


def norm_figure(path: Path, class_index: int) -> go.Figure:
    """Histogram of latent norms ‖z‖ on the test split: one class against all classes."""
    _, meta = cache.model(path)
    fit = cache.fit(path, meta["dataset"])
    name = meta["class_names"][class_index]
    return norm_histogram({"all classes": fit.norms, f"class {name}": fit.norms[fit.labels == class_index]},
                          title=f"{meta['method']}: latent norms ‖z‖")


def clicked_index(event, keep: np.ndarray) -> int | None:
    """The test-split index of the point a chart selection event picked, if any."""
    points = getattr(getattr(event, "selection", None), "points", None) or []
    for point in points:
        data = point.get("customdata")
        if data is not None:  # prior samples and ellipses carry none
            row = int(data[0] if isinstance(data, (list, tuple)) else data)
            return int(keep[row])
    return None


def example_figures(paths: dict[str, Path], index: int) -> tuple[go.Figure, go.Figure, str]:
    """One test example: its image, both models' class probabilities, and a caption."""
    _, meta = cache.model(next(iter(paths.values())))
    data = cache.test_split(meta["dataset"])
    image = data.x[index].permute(1, 2, 0).squeeze(-1).numpy()
    label = meta["class_names"][int(data.y[index])]
    probs = {f"{side}: {cache.model(path)[1]['method']}": cache.outputs(path, meta["dataset"])["probs"][index]
             for side, path in paths.items()}
    caption = f"Test example #{index}, label {label}."
    return (image_row([image], [f"#{index}: {label}"]), probability_bars(probs, meta["class_names"]), caption)
