"""Sweeps behind the shift, low-data and out-of-distribution comparisons (METHOD.md §4).

Each function takes models or configs and returns plain numbers; ``progress(done, total)`` is an
optional callback for long runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from explorer.config import default_configs
from explorer.corruptions import corrupt
from explorer.data import ImageData
from explorer.diagnostics import auroc, ood_scores
from explorer.evaluation import evaluate
from explorer.training import train

Progress = Callable[[int, int], None] | None
SEVERITIES = (1, 2, 3, 4, 5)


def shift_curves(model: nn.Module, x: Tensor, y: Tensor, corruptions: Sequence[str], seed: int = 0,
                 n_bins: int = 15, progress: Progress = None) -> dict[str, dict[str, list[float]]]:
    """Accuracy and ECE at severities 0 (clean) to 5 for each corruption.

    Returns {corruption: {"severity": [0..5], "accuracy": [...], "ece": [...]}}; the corrupted images
    are drawn with ``seed`` (the same for every model, so models meet the same shifted images).
    """
    clean = evaluate(model, x, y, n_bins=n_bins)
    total, done, curves = len(corruptions) * len(SEVERITIES), 0, {}
    for name in corruptions:
        curve = {"severity": [0], "accuracy": [clean["accuracy"]], "ece": [clean["ece"]]}
        for severity in SEVERITIES:
            metrics = evaluate(model, corrupt(x, name, severity, seed=seed), y, n_bins=n_bins)
            curve["severity"].append(severity)
            curve["accuracy"].append(metrics["accuracy"])
            curve["ece"].append(metrics["ece"])
            done += 1
            if progress is not None:
                progress(done, total)
        curves[name] = curve
    return curves


def low_data_sweep(train_data: ImageData, test: ImageData, dataset: str, methods: Sequence[str],
                   fractions: Sequence[float], seed: int = 0, progress: Progress = None,
                   **overrides: object) -> dict[str, dict[str, list[float]]]:
    """Train each method on stratified fractions of the training split; test accuracy and ECE.

    Returns {method: {"fraction": [...], "accuracy": [...], "ece": [...]}}. Every run uses the
    dataset's defaults (plus ``overrides``) and the same seed, so the methods see the same images.
    """
    total, done, results = len(methods) * len(fractions), 0, {}
    for method in methods:
        rows = {"fraction": [], "accuracy": [], "ece": []}
        for fraction in fractions:
            model_config, train_config = default_configs(dataset, method, train_fraction=fraction, seed=seed,
                                                         snapshot_points=0, **overrides)
            metrics = evaluate(train(train_data, model_config, train_config).model, test.x, test.y)
            rows["fraction"].append(fraction)
            rows["accuracy"].append(metrics["accuracy"])
            rows["ece"].append(metrics["ece"])
            done += 1
            if progress is not None:
                progress(done, total)
        results[method] = rows
    return results


def noise_images(like: Tensor, n: int, seed: int = 0) -> Tensor:
    """Uniform-noise images in [0, 1] shaped like ``like`` (N, C, H, W): an out-of-distribution set
    for datasets with no natural counterpart (digits)."""
    generator = torch.Generator().manual_seed(seed)
    return torch.rand((n, *like.shape[1:]), generator=generator)


def ood_comparison(model: nn.Module, x_in: Tensor, x_out: Tensor) -> dict[str, dict[str, object]]:
    """In- and out-of-distribution scores and AUROC for each score of :func:`ood_scores`.

    Returns {score name: {"in": array, "out": array, "auroc": float}}; AUROC treats in-distribution
    as positive (0.5: no separation, 1: perfect).
    """
    scores_in, scores_out = ood_scores(model, x_in), ood_scores(model, x_out)
    return {name: {"in": scores_in[name], "out": scores_out[name],
                   "auroc": auroc(scores_in[name], scores_out[name])} for name in scores_in}
