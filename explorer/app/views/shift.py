"""The Shift, low data and OOD page's settings and captions."""

from __future__ import annotations

from explorer.core.data import OWN_DATA, dataset_info, domain_of
from explorer.measure.corruptions import SEVERITIES, TEXT_CORRUPTIONS

SHIFT_POINTS = 1000
"""Test images (drawn with the seed) behind the shift curves and the OOD scores: seconds, not minutes."""
DEFAULT_CORRUPTIONS = {"image": ("gaussian_noise", "rotation"), "text": ("word_deletion", "unknown_words")}
"""The corruptions the shift tab starts with, per domain."""
FRACTIONS = (0.01, 0.05, 0.1, 1.0)
"""Shares of the training split the live low-data comparison trains on."""
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
