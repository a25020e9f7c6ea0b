"""Accuracy and calibration under distribution shift: a model against corruptions of growing severity.

:func:`sweep` is the grid behind it and behind the low-data comparison
(:func:`explorer.jobs.runs.low_data_sweep`); ``progress(done, total)`` is an optional callback for
long sweeps (METHOD.md §4).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from torch import Tensor, nn

from explorer.core.config import N_BINS
from explorer.measure.evaluation import evaluate
from explorer.measure.corruptions import LEVELS, corrupt

ProgressCallback = Callable[[int, int], None] | None


def sweep(rows: Sequence, values: Sequence, name: str, measure: Callable[[object, object], dict],
          progress: ProgressCallback = None) -> dict[object, dict[str, list]]:
    """Accuracy and ECE of ``measure(row, value)`` for every row and every value, rows outermost.

    ``measure`` returns a calibration report (:func:`explorer.measure.evaluation.evaluate`'s keys).
    Returns {row: {name: [values], "accuracy": [...], "ece": [...]}}; ``progress(done, total)`` is
    called after each of the len(rows) × len(values) measurements.
    """
    total, done, results = len(rows) * len(values), 0, {}
    for row in rows:
        series = {name: [], "accuracy": [], "ece": []}
        for value in values:
            report = measure(row, value)
            series[name].append(value)
            series["accuracy"].append(report["accuracy"])
            series["ece"].append(report["ece"])
            done += 1
            if progress is not None:
                progress(done, total)
        results[row] = series
    return results


def shift_curves(model: nn.Module, x: Tensor, y: Tensor, corruptions: Sequence[str], seed: int = 0,
                 n_bins: int = N_BINS, progress: ProgressCallback = None) -> dict[str, dict[str, list[float]]]:
    """Accuracy and ECE at severities 0 (clean) to 5 for each corruption.

    Returns {corruption: {"severity": [0..5], "accuracy": [...], "ece": [...]}}; the corrupted images
    are drawn with ``seed`` (the same for every model, so models meet the same shifted images).
    """
    clean = evaluate(model, x, y, n_bins=n_bins)
    curves = sweep(corruptions, LEVELS, "severity",
                   lambda name, severity: evaluate(model, corrupt(x, name, severity, seed=seed), y, n_bins=n_bins),
                   progress)
    return {name: {"severity": [0, *curve["severity"]], "accuracy": [clean["accuracy"], *curve["accuracy"]],
                   "ece": [clean["ece"], *curve["ece"]]} for name, curve in curves.items()}
