"""Accuracy and calibration under distribution shift: a model against corruptions of growing severity.

``progress(done, total)`` is an optional callback for long sweeps (METHOD.md §4).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from torch import Tensor, nn

from explorer.core.config import N_BINS
from explorer.measure.calibration import evaluate
from explorer.measure.corruptions import corrupt

Progress = Callable[[int, int], None] | None
SEVERITIES = (1, 2, 3, 4, 5)


def shift_curves(model: nn.Module, x: Tensor, y: Tensor, corruptions: Sequence[str], seed: int = 0,
                 n_bins: int = N_BINS, progress: Progress = None) -> dict[str, dict[str, list[float]]]:
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
