"""Calibration page's figures and tables, composed from the library and the cached predictions.

Predictions (the slow part) come from ``cache``; everything here that depends on the number of bins
is cheap array work, so moving the bins slider redraws without predicting again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from explorer.app import cache, sources
from explorer.figures import confidence_histogram, reliability_diagram
from explorer.measure.calibration import apply_temperature, calibration_report, reliability_bins
from explorer.core.data import domain_of
from explorer.measure.corruptions import SEVERITIES, TEXT_CORRUPTIONS, corruptions_for

CLEAN = "none"
METRICS = {"accuracy": "accuracy", "ece": "ECE", "mce": "MCE", "adaptive_ece": "adaptive ECE",
           "classwise_ece": "classwise ECE", "nll": "NLL (nats)", "brier": "Brier"}
TEMPERATURE = "temperature T"


def corruption_choices(dataset: str) -> tuple[str, ...]:
    """"none", then the corruptions of the dataset's domain (images for a bundle of other data)."""
    return (CLEAN, *corruptions_for(domain_of(dataset)))


@dataclass(frozen=True)
class Shift:
    """The test data's condition: clean (``corruption`` None) or a corruption at a severity and seed."""

    corruption: str | None = None
    severity: int = 1
    seed: int = 0

    def describe(self) -> str:
        if self.corruption is None:
            return "clean test split"
        parameter = SEVERITIES[self.corruption][self.severity - 1]
        return (f"test split with {self.corruption.replace('_', ' ')}, severity {self.severity} "
                f"({self._parameter()} {parameter}), seed {self.seed}")

    def _parameter(self) -> str:
        return "share of words" if self.corruption in TEXT_CORRUPTIONS else "parameter"


@dataclass(frozen=True)
class Predictions:
    """One model's test probabilities under a shift, and the temperature they were scaled by (or None)."""

    name: str
    probs: np.ndarray
    labels: np.ndarray
    temperature: float | None


def predictions(path: Path, prefix: str, shift: Shift, temperature_scaling: bool) -> Predictions:
    """Probabilities of the checkpoint or bundle at ``path`` on the (shifted) test split, optionally
    scaled by T.

    T is fitted on the checkpoint's own validation split (cached per checkpoint), or on a bundle's
    ``val_logits``, never on test data, and is the same T whatever the shift: temperature scaling is
    fitted once, before any shift is seen. A bundle's predictions are clean only (a shift runs the model).
    """
    chosen = sources.source(path)
    out = cache.test_logits(path, chosen.dataset, shift.corruption, shift.severity, shift.seed)
    t = cache.temperature(path) if temperature_scaling else None
    return Predictions(chosen.name(prefix), apply_temperature(out["logits"], t or 1.0), out["labels"], t)


def reliability_figure(pred: Predictions, n_bins: int) -> go.Figure:
    """Reliability diagram (accuracy, gap, counts) of one model's predictions with ``n_bins`` bins."""
    bins = reliability_bins(pred.probs, pred.labels, n_bins)
    scaled = f", T = {pred.temperature:.2f}" if pred.temperature is not None else ""
    return reliability_diagram(bins, title=f"{pred.name}{scaled} ({n_bins} bins)")


def confidence_figure(preds: list[Predictions], n_bins: int) -> go.Figure:
    return confidence_histogram({p.name: p.probs.max(axis=1) for p in preds}, n_bins=n_bins,
                                title="Confidence of the predictions")


def metrics_table(preds: list[Predictions], n_bins: int, unscaled: list[Predictions] | None = None
                  ) -> pd.DataFrame:
    """One row per model: accuracy, ECE, MCE, adaptive ECE, classwise ECE, NLL, Brier and n.

    With ``unscaled`` (the same models before temperature scaling), each model gets two rows, before
    and after, and a temperature column (1 before scaling).
    """
    rows = []
    for i, pred in enumerate(preds):
        pairs = [(unscaled[i], ""), (pred, " + temperature scaling")] if unscaled else [(pred, "")]
        for p, suffix in pairs:
            report = calibration_report(p.probs, p.labels, n_bins)
            row = {"model": p.name + suffix, **{label: report[key] for key, label in METRICS.items()},
                   "n": report["n"]}
            if unscaled:
                row[TEMPERATURE] = p.temperature if p.temperature is not None else 1.0
            rows.append(row)
    return pd.DataFrame(rows).set_index("model")


def bins_table(preds: list[Predictions], n_bins: int) -> pd.DataFrame:
    """Long table of the bins behind the diagrams: model, bin edges, confidence, accuracy, gap, count."""
    frames = []
    for p in preds:
        bins = reliability_bins(p.probs, p.labels, n_bins)
        frames.append(pd.DataFrame({"model": p.name, "bin_low": bins.edges[:-1], "bin_high": bins.edges[1:],
                                    "mean_confidence": bins.confidence, "accuracy": bins.accuracy,
                                    "gap": bins.gap, "count": bins.count}))
    return pd.concat(frames, ignore_index=True)


def csv(table: pd.DataFrame, shift: Shift) -> bytes:
    """UTF-8 CSV of a table, with a column naming the data it was measured on (shift and seed)."""
    return table.assign(data=shift.describe()).to_csv(index=table.index.name is not None).encode()
