"""The Latent space page's figures (Home draws the first one too), composed from the library and the caches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import torch

from explorer.app import cache, sources
from explorer.core.bundles import OWN_DATA
from explorer.core.config import ProjectionConfig
from explorer.core.data import domain_of, subset_indices
from explorer.core.errors import BundleError
from explorer.figures import chi2_histogram, image_row, latent_scatter, norm_histogram, probability_bars
from explorer.figures.latents import WEBGL_FROM
from explorer.measure.latent_map import MAX_MARKERS, MAX_POINTS, latent_map
from explorer.measure.latents import gaussian_ellipse

COLOR_BY = {"class": "true label", "prediction": "prediction", "confidence": "confidence",
            "correct": "correctness"}


def latent_figure(path: Path, color_by: str, projection: ProjectionConfig, seed: int,
                  title_prefix: str, zoom_to_gaussians: bool = False,
                  points: int | None = MAX_POINTS) -> tuple[go.Figure, np.ndarray]:
    """The model's test latents (at most ``points``, drawn with ``seed``; None: all; the note says how
    many of how many) against its class Gaussians. More than ``MAX_MARKERS`` are drawn as a density
    image under a seeded sample of that many markers.

    d = 2: the latents themselves with the 1σ and 2σ ellipses of each p(z|y), on axes that fit the
    latents or, with ``zoom_to_gaussians``, the ellipses (a softmax model's latents reach a hundred
    times further than its Σ = I Gaussians); the note says how far, in σ. d > 2: latents and
    prior samples placed by one projection fitted on both (:func:`explorer.measure.latent_map.latent_map`),
    the samples drawn faint. A bundle without ``weight`` and ``bias`` has no Gaussians: its latents are
    drawn alone, and the note says so. Also returns the indices of the drawn points among the test
    examples (a point's ``customdata`` indexes this array).
    """
    chosen = sources.source(path)
    out = cache.outputs(path, chosen.dataset)
    if out["latents"] is None:
        raise BundleError(f"{path.name} has no latents: there is nothing to draw (the Calibration page "
                          "needs its logits alone)")
    d = chosen.latent_dim
    head = chosen.head
    total = len(out["labels"])
    if d == 2:
        keep = subset_indices(total, points, seed)
    else:
        placed = latent_map(head, out["latents"], cache.digest(path), projection, seed,
                            fit=cache.fit_projection_elsewhere, points=points)
        keep = placed.keep
    drawn = (f"All {total:,} test points drawn. " if len(keep) == total else
             f"{len(keep):,} of the {total:,} test points drawn (a random sample, seed {seed}). ")
    placed_points = placed.projection.points if d != 2 else out["latents"][keep]
    density = {}
    if len(keep) > MAX_MARKERS:  # every placed point in the image, a sample of them as markers
        density = {"density_points": placed_points, "density_labels": out["labels"][keep]}
        markers = subset_indices(len(keep), MAX_MARKERS, seed)
        drawn += (f"The image shows the density of all {len(keep):,} (each pixel in the mean colour of the true "
                  f"classes of its points, opaquer where they are many); {MAX_MARKERS:,} of them, a random sample, "
                  "are markers to hover and click. ")
        keep, placed_points = keep[markers], placed_points[markers]
    labels, probs = out["labels"][keep], out["probs"][keep]
    predicted = probs.argmax(1)
    color = {"class": None, "prediction": None, "confidence": probs.max(1),
             "correct": predicted == labels}[color_by]
    shown = predicted if color_by == "prediction" else labels
    names = chosen.class_names
    hover = None if len(keep) >= WEBGL_FROM else [  # larger maps hover with one template (figures/latents.py)
        f"#{i}: label {names[y]}, predicted {names[p]}" for i, y, p in zip(keep, labels, predicted)]
    common = {"class_names": list(names), "color": color, "color_label": COLOR_BY[color_by],
              "hover_text": hover, "title": chosen.name(title_prefix), **density}
    if d != 2:
        note = drawn + placed.projection.note + ("" if head is not None else
                                                 ". No weight and bias in this bundle: no class Gaussians to draw")
        return latent_scatter(placed_points, shown, prior_points=placed.projection.extra_points,
                              prior_labels=placed.prior_labels, note=note, **common), keep
    if head is None:
        note = drawn + "The latents themselves (d = 2). This bundle has no weight and bias: no class Gaussians to draw."
        return latent_scatter(placed_points, shown, note=note, **common), keep
    with torch.no_grad():
        means = head.class_means().double().numpy()
        variances = head.class_log_vars().exp().double().numpy()
    ellipses = [(k, s, gaussian_ellipse(means[k], variances[k], s)) for k in range(len(means)) for s in (1.0, 2.0)]
    learned = chosen.method not in ("softmax", "bundle")
    kind = "it learns" if learned else "its linear layer implies (Σ = I)"
    fit = cache.fit(path, chosen.dataset)
    family = "Gaussian" if fit.gaussian else f"Student-t (ν = {fit.law.args[1]:g}; σ: its scale)"
    note = (f"{drawn}The latents themselves (d = 2). Ellipses: 1σ and 2σ of each class {family} {kind}. "
            f"A test latent lies a median {np.median(np.sqrt(fit.r2)):.3g} σ from its class mean "
            f"({np.sqrt(fit.law.median()):.2f} σ if the latents followed their prior).")
    box = np.vstack([e for _, _, e in ellipses])
    pad = 0.15 * (box.max(0) - box.min(0))
    zoom = tuple(zip(box.min(0) - pad, box.max(0) + pad)) if zoom_to_gaussians else None
    return latent_scatter(placed_points, shown, ellipses=ellipses, note=note, axis_range=zoom,
                          **common), keep


def class_names(path: Path) -> list[str]:
    return list(sources.source(path).class_names)


def chi2_figure(path: Path, class_index: int) -> tuple[go.Figure, float]:
    """Histogram of one class's squared Mahalanobis distances against the law they follow under the
    prior (χ²_d for Gaussians, d·F(d, ν) for a Student-t); also the mean KS."""
    chosen = sources.source(path)
    fit = cache.fit(path, chosen.dataset)
    r2 = fit.r2[fit.labels == class_index]
    law = {} if fit.gaussian else {"law": fit.law, "law_name": fit.law_name}
    figure = chi2_histogram(r2, fit.d, ks=float(fit.ks[class_index]),
                            title=f"{chosen.label}: class {chosen.class_names[class_index]}, "
                                  f"r² against {fit.law_name}", **law)
    return figure, fit.mean_ks


def norm_figure(path: Path, class_index: int) -> go.Figure:
    """Histogram of latent norms ‖z‖ on the test split: one class against all classes."""
    chosen = sources.source(path)
    fit = cache.fit(path, chosen.dataset)
    name = chosen.class_names[class_index]
    return norm_histogram({"all classes": fit.norms, f"class {name}": fit.norms[fit.labels == class_index]},
                          title=f"{chosen.label}: latent norms ‖z‖")


def clicked_index(event, keep: np.ndarray) -> int | None:
    """The test-split index of the point a chart selection event picked, if any."""
    points = getattr(getattr(event, "selection", None), "points", None) or []
    for point in points:
        data = point.get("customdata")
        if data is not None:  # prior samples and ellipses carry none
            row = int(data[0] if isinstance(data, (list, tuple)) else data)
            return int(keep[row])
    return None


DOCUMENT_WORDS = 80
"""Words of a clicked document the page shows."""


def example_figures(paths: dict[str, Path], index: int
                    ) -> tuple[go.Figure | None, go.Figure, str, str | None] | None:
    """One test example: its image (None for a document, or when a bundle of other data has none), the
    class probabilities of every model that predicted it, a caption, and a document's first
    :data:`DOCUMENT_WORDS` words (None for an image); None if the first model has no example ``index``
    (an index clicked on another dataset).

    Models of a project dataset share its test split; a bundle of other data shares its rows with
    another file only if their labels agree.
    """
    chosen = {side: sources.source(path) for side, path in paths.items()}
    first = next(iter(chosen.values()))
    outputs = {side: cache.outputs(c.path, c.dataset) for side, c in chosen.items()}
    labels = next(iter(outputs.values()))["labels"]
    if not 0 <= index < len(labels):
        return None
    same = {side for side, out in outputs.items() if np.array_equal(out["labels"], labels)}
    label = first.class_names[int(labels[index])]
    probs = {c.name(side): outputs[side]["probs"][index] for side, c in chosen.items() if side in same}
    caption = f"Test example #{index}, label {label}."
    if len(same) < len(chosen):
        caption += " The other model's rows are other examples: its probabilities are left out."
    if domain_of(first.dataset) == "text":
        words = cache.test_split(first.dataset).texts[index].split()
        more = f" … ({len(words) - DOCUMENT_WORDS} more words)" if len(words) > DOCUMENT_WORDS else ""
        caption += " The document as the models read it: lowercased, letters only."
        return None, probability_bars(probs, list(first.class_names)), caption, \
            " ".join(words[:DOCUMENT_WORDS]) + more
    if first.dataset != OWN_DATA:
        image = cache.test_split(first.dataset).x[index].permute(1, 2, 0).squeeze(-1).numpy()
    else:
        images = next(iter(outputs.values()))["images"]
        image = None if images is None else _channels_last(images[index])
    row = None if image is None else image_row([image], [f"#{index}: {label}"])
    return row, probability_bars(probs, list(first.class_names)), caption, None


def _channels_last(image: np.ndarray) -> np.ndarray:
    """A bundle's image, (H, W) or (C, H, W), as the figures take it: (H, W) or (H, W, 3)."""
    if image.ndim == 2:
        return image
    return image[0] if image.shape[0] == 1 else np.moveaxis(image, 0, -1)
