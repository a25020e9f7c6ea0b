"""The Shift, low data and OOD page's settings and captions, and its live low-data training."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import torch

from explorer.app import cache, sources
from explorer.core.config import ProjectionConfig
from explorer.core.data import OWN_DATA, dataset_info, domain_of
from explorer.core.errors import BundleError
from explorer.figures import ood_scatter
from explorer.jobs.training import Progress
from explorer.measure.corruptions import SEVERITIES, TEXT_CORRUPTIONS
from explorer.measure.intervals import LEVEL, Interval
from explorer.measure.latent_map import PRIOR_PER_CLASS
from explorer.measure.latents import gaussian_ellipse, prior_samples
from explorer.measure.ood import METRICS, SCORES, TPR, Placement, latent_placement
from explorer.measure.projection import fit_projection

SHIFT_POINTS = 1000
"""Test images (drawn with the seed) behind the shift curves and the OOD scores: seconds, not minutes."""
DEFAULT_CORRUPTIONS = {"image": ("gaussian_noise", "rotation"), "text": ("word_deletion", "unknown_words")}
"""The corruptions the shift tab starts with, per domain."""
FRACTIONS = (0.01, 0.05, 0.1, 1.0)
"""Shares of the training split the live low-data comparison trains on."""
LOW_DATA_NOTE = ("afresh on 1 %, 5 %, 10 % and 100 % of the training split (stratified, seed {seed}: the same "
                 "images for both), each with its own training configuration, read from its checkpoint, and for "
                 "as many optimisation steps as its own run (a smaller share, more epochs), so "
                 "the curve measures scarce data, not shorter training.")
"""What the low-data tab trains, said before it does."""
HISTOGRAMS = ("max_softmax", "log_density")
"""The scores whose in- and out-of-distribution histograms the OOD tab starts with."""


def examples(dataset: str) -> str:
    """What one row of the dataset is, in the plural."""
    return "examples" if dataset == OWN_DATA else "documents" if domain_of(dataset) == "text" else "images"


def corruption_note(dataset: str) -> str:
    """For text, what a severity sets, and why a bag of words does not feel word swaps."""
    if domain_of(dataset) != "text":
        return ""
    shares = ", ".join(f"{share:g}" for share in SEVERITIES[TEXT_CORRUPTIONS[0]])
    return (f" Severities 1-5 touch a share {shares} of each document's words. A bag of words ignores their "
            "order: under word swap its curve stays flat.")


def ood_caption(dataset: str, drawn: str, seed: int, bundles: bool = False) -> str:
    """What the OOD tab compares: the dataset's test images against its OOD set, or against noise;
    a bundle's rows against its own ``ood_logits``."""
    if dataset == OWN_DATA:
        return (f"In-distribution: {drawn} of each bundle. Out-of-distribution: as many of its own ood_logits "
                "(and ood_latents), drawn with the same seed. AUROC 0.5: the score cannot tell them apart; "
                "1: it always can.")
    other = dataset_info(dataset).ood
    versus = f"{other} test {examples(other)}" if other else f"uniform-noise images (seed {seed})"
    if domain_of(dataset) == "text":
        versus += ", in each model's own vocabulary (a word it lacks is unknown)"
    mine = " A bundle's are its ood_logits (and ood_latents), as many drawn with the seed." if bundles else ""
    return (f"In-distribution: {drawn} of {dataset}. Out-of-distribution: as many {versus}.{mine} "
            "AUROC 0.5: the score cannot tell them apart; 1: it always can.")


def ood_rows(model: str, intervals: dict[str, dict[str, Interval]]) -> list[dict[str, str]]:
    """One model's rows of the OOD table: per score, each metric as "0.959 [0.951, 0.966]"."""
    return [{"model": model, "score": SCORES[score],
             **{METRICS[m]: f"{i.mean:.3f} [{i.low:.3f}, {i.high:.3f}]" for m, i in metrics.items()}}
            for score, metrics in intervals.items()]


def ood_table(rows: list[dict[str, str]]) -> tuple[pd.DataFrame, int]:
    """The OOD table of every model's :func:`ood_rows`, indexed by model and score, and the height in pixels
    that shows every row without scrolling."""
    return pd.DataFrame(rows).set_index(["model", "score"]), 40 * (len(rows) + 1)


def ood_table_note(n_resamples: int, seed: int, models: dict[str, Path], implied: str) -> str:
    """How the OOD table's figures and intervals were made; ``models``: {name: file} of the models in the
    table, whose class Gaussians (:func:`explorer.app.cache.gaussians` with ``implied``) it names."""
    under = "; ".join(f"{name}: {_gaussians_words(path, implied)}" for name, path in models.items())
    return (f"In-distribution is the positive class: AUROC, AUPR-in (in-distribution positive), AUPR-out (OOD "
            f"positive, the score negated) and the FPR at {TPR:.0%} TPR (the share of OOD inputs scoring at or above "
            f"the threshold that keeps {TPR:.0%} of the in-distribution ones: lower is better). [{LEVEL:.0%} "
            f"percentile bootstrap interval: {n_resamples} resamples, the two sets resampled independently, seed "
            f"{seed}.] Mahalanobis: max_k −r²_k under each class's covariance; it and log p(z) are under the class "
            f"Gaussians ({under}). For VC, energy is log p(z): its logits are log p(z | k) + log π_k.")


def _gaussians_words(path: Path, implied: str) -> str:
    """A file's class Gaussians in words: a linear layer's implied member as its own ``description`` says
    (the Σ = I convention is not fitted), a learnt head's prior, or none."""
    head = cache.gaussians(path, implied)
    if head is None:
        return "none, no weight and bias"
    return getattr(head, "description", "its learnt prior")


@cache.shared_figure_of_file
def ood_map(path: Path, dataset: str, n: int, seed: int, implied: str, title: str) -> tuple[go.Figure, str]:
    """A model's in-distribution test latents by class and the OOD latents of :func:`explorer.app.cache.ood`'s
    inputs over its class Gaussians, and a caption of where the OOD latents land
    (:func:`explorer.measure.ood.latent_placement`; "" without Gaussians).

    d = 2: the latents themselves with each class's 1σ and 2σ ellipses. d > 2: one PCA fitted on the
    in-distribution latents ∪ the OOD latents ∪ :data:`PRIOR_PER_CLASS` samples of each class Gaussian
    (drawn faint), so all three are placed by the same map.
    """
    found = cache.ood_latents(path, dataset, n, seed)
    if found is None:
        raise BundleError(f"{path.name} has no latents and ood_latents: no out-of-distribution map to draw")
    z_in, labels, z_out = found
    head = cache.gaussians(path, implied)
    chosen = sources.source(path)
    other = dataset_info(dataset).ood if dataset != OWN_DATA else None
    ood_name = f"OOD: {other or ('its ood_latents' if dataset == OWN_DATA else 'noise')} ({len(z_out):,})"
    extra: dict = {}
    if z_in.shape[1] == 2:
        points, ood_points = z_in, z_out
        how = "The latents themselves (d = 2)"
        if head is not None:
            with torch.no_grad():
                means, covariances = head.class_means().double().numpy(), head.covariances().double().numpy()
            extra["ellipses"] = [(k, s, gaussian_ellipse(means[k], covariances[k], s)) for k in range(len(means))
                                 for s in (1.0, 2.0)]
            how += "; ellipses: 1σ and 2σ of each class Gaussian"
    else:
        prior_z, prior_y = prior_samples(head, PRIOR_PER_CLASS, seed=seed) if head is not None else (None, None)
        placed = fit_projection(np.vstack([z_in, z_out]), ProjectionConfig("pca", seed=seed), extra=prior_z,
                                extra_name="prior samples")
        points, ood_points = placed.points[:len(z_in)], placed.points[len(z_in):]
        extra |= {"prior_points": placed.extra_points, "prior_labels": prior_y, "axis_titles": ("PC 1", "PC 2")}
        how = (f"{placed.note}; its latents: the {len(z_in):,} test latents and the {len(z_out):,} OOD latents"
               + (f"; its prior samples: {PRIOR_PER_CLASS} of each class Gaussian, drawn faint" if head is not None
                  else ""))
    missing = "" if head is not None else ". This bundle has no weight and bias: no class Gaussians"
    fig = ood_scatter(points, labels, list(chosen.class_names), ood_points, ood_name, title=title,
                      note=f"{how}{missing}. Crosses: the OOD inputs.", **extra)
    caption = "" if head is None else placement_caption(latent_placement(head, z_in, z_out),
                                                        list(chosen.class_names))
    return fig, caption


def placement_caption(placed: Placement, class_names: list[str]) -> str:
    """Where the OOD latents land, in → out, in one line under the map."""
    i, o = placed.inside, placed.outside
    nearest = ", ".join(f"{class_names[k]} {share:.0%}" for k, share in placed.nearest_classes.items())
    return (f"In-distribution → OOD: median |z| {i['norm']:.3g} → {o['norm']:.3g}; median r² to the nearest class "
            f"{i['r2_nearest']:.3g} → {o['r2_nearest']:.3g} (a typical in-class latent's, the median of its "
            f"law: {placed.typical_r2:.3g} at d = {placed.d}); nearer a mean than that {i['closer_than_typical']:.0%} → "
            f"{o['closer_than_typical']:.0%}; median log p(z) {i['log_density']:.2f} → {o['log_density']:.2f} nats "
            f"(log p(z) AUROC {placed.auroc['log_density']:.3f}). OOD nearest: {nearest}.")


def _bar_updates(bar, start: float, share: float, text: str) -> Callable[[Progress], None]:
    """A training callback that moves ``bar`` (``st.progress``) from ``start`` to ``start + share`` over
    one run, once per percent of the whole: a hundred redraws in all, not one per step."""
    shown = [-1]

    def update(progress: Progress) -> None:
        done = start + share * ((progress.epoch - 1) * progress.steps + progress.step) / \
            (progress.epochs * progress.steps)
        if int(100 * done) > shown[0]:
            shown[0] = int(100 * done)
            bar.progress(min(done, 1.0), text=text)

    return update


def train_low_data(paths: dict[str, Path], seed: int, bar) -> tuple[dict[str, list[dict[str, float]]], float]:
    """Each named checkpoint trained afresh at every fraction of :data:`FRACTIONS`
    (:func:`explorer.app.cache.low_data_point`), with ``bar`` (``st.progress``) following every step.

    Returns ({name: test metrics, one per fraction}, seconds taken: runs cached earlier take none).
    """
    runs = [(name, path, fraction) for name, path in paths.items() for fraction in FRACTIONS]
    rows: dict[str, list[dict[str, float]]] = {name: [] for name in paths}
    began = time.perf_counter()
    for i, (name, path, fraction) in enumerate(runs):
        update = _bar_updates(bar, i / len(runs), 1 / len(runs), f"{name}: {fraction:.0%} of the training split")
        rows[name].append(cache.low_data_point(path, fraction, seed, _progress=update))
    return rows, time.perf_counter() - began
