"""The Shift, low data and OOD page's settings and captions, and its live low-data training."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from explorer.app import cache
from explorer.core.data import OWN_DATA, dataset_info, domain_of
from explorer.jobs.training import Progress
from explorer.measure.corruptions import SEVERITIES, TEXT_CORRUPTIONS

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
SCORES = {"max_softmax": "max-softmax probability", "log_density": "latent density log p(z)"}
"""Out-of-distribution scores of :func:`explorer.measure.ood.ood_scores`, as the page names them."""


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
