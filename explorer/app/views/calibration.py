"""Calibration page's figures and tables, composed from the library and the cached predictions.

Predictions (the slow part) come from ``cache``; everything here that depends on the number of bins
is cheap array work, so moving the bins slider redraws without predicting again. A reliability bin
chosen on a diagram (a click, or the page's selectbox) rings its test examples on both models'
latent maps (:func:`bin_maps`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from explorer.app import cache, sources, state
from explorer.app.views.latent_space import customdata_index, latent_figure
from explorer.core.config import ProjectionConfig
from explorer.figures import confidence_histogram, reliability_diagram
from explorer.measure.calibration import bin_members, calibration_report, reliability_bins
from explorer.core.data import domain_of
from explorer.measure.corruptions import SEVERITIES, TEXT_CORRUPTIONS, corruptions_for
from explorer.measure.recalibration import apply_temperature

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
    """One model's test probabilities under a shift, and the temperature they were scaled by (or None);
    ``side`` is "Model A" or "Model B", ``name`` that and what the model is."""

    side: str
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
    return Predictions(prefix, chosen.name(prefix), apply_temperature(out["logits"], t or 1.0), out["labels"], t)


@cache.shared_figure
def reliability_figure(pred: Predictions, n_bins: int, chosen: tuple[str, int] | None = None) -> go.Figure:
    """Reliability diagram (accuracy, gap, counts) of one model's predictions with ``n_bins`` bins;
    the bin of ``chosen`` (side, b) outlined when it is this model's."""
    bins = reliability_bins(pred.probs, pred.labels, n_bins)
    scaled = f", T = {pred.temperature:.2f}" if pred.temperature is not None else ""
    mine = chosen[1] if chosen is not None and chosen[0] == pred.side else None
    return reliability_diagram(bins, title=f"{pred.name}{scaled} ({n_bins} bins)", highlight_bin=mine)


def clicked_bin(points: list[dict]) -> int | None:
    """The bin index b a diagram's selection event names: every bar's ``customdata[0]``
    (:func:`explorer.figures.reliability_diagram`); None when no point carries one (the diagonal)."""
    for point in points or []:
        b = customdata_index(point)
        if b is not None:
            return b
    return None


def on_bin_click(side: str) -> None:
    """``on_select`` callback of side's diagram: choose the clicked bin (:func:`state.choose_bin`).

    It runs before the rerun, so it may set the selectbox's key. An emptied selection (a double click)
    clears the chosen bin only if it was this diagram's; a click on the diagonal changes nothing.
    """
    points = st.session_state[state.reliability_key(side)]["selection"]["points"]
    b = clicked_bin(points)
    if b is not None:
        state.choose_bin(side, b)
    elif not points:
        state.drop_bin(side)


def bin_choices(preds: list[Predictions], n_bins: int) -> dict[tuple[str, int] | None, str]:
    """The bin selectbox's options and labels: None ("none"), then (side, b) for every non-empty bin of
    each model's predictions, in order, as "Model A: confidence [0.93, 1.00], 812 examples"."""
    choices: dict[tuple[str, int] | None, str] = {None: "none"}
    for p in preds:
        count = reliability_bins(p.probs, p.labels, n_bins).count
        for b in np.flatnonzero(count > 0):
            n = int(count[b])
            choices[(p.side, int(b))] = (f"{p.side}: confidence {bin_range(n_bins, int(b))}, "
                                         f"{n:,} example{'s' if n != 1 else ''}")
    return choices


def bin_range(n_bins: int, b: int) -> str:
    """Bin b's confidences, "[0.93, 1.00]": half-open but for the last bin, as the bins are
    (:mod:`explorer.measure.calibration`)."""
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return f"[{edges[b]:.2f}, {edges[b + 1]:.2f}{']' if b == n_bins - 1 else ')'}"


@dataclass(frozen=True)
class BinMap:
    """One side's latent map with a bin's test examples ringed, or why there is none (``figure`` None)."""

    side: str
    figure: go.Figure | None
    message: str | None = None


def bin_maps(models: list[tuple[str, Path]], preds: list[Predictions], chosen: tuple[str, int], n_bins: int,
             shift: Shift, seed: int) -> tuple[str, list[BinMap]]:
    """A caption for the bin ``chosen`` = (side, b) of that side's predictions, and every model's
    latent map with the bin's test examples ringed.

    Membership is :func:`explorer.measure.calibration.bin_members`, the diagrams' own binning. The
    maps are the Latent space page's default (``ProjectionConfig(seed=seed)``, so a shipped model's
    projection is read from disk) and place the clean test latents: a bin of corrupted or
    temperature-scaled predictions is a set of test examples, drawn where their clean latents lie. A
    model without latents (a bundle of logits alone), or whose rows are other examples (a bundle of
    other data whose labels differ), gets a message instead of a map.
    """
    side, b = chosen
    pred = next(p for p in preds if p.side == side)
    members = bin_members(pred.probs, n_bins, b)
    bins = reliability_bins(pred.probs, pred.labels, n_bins)
    scaled = f", temperature-scaled (T = {pred.temperature:.2f})" if pred.temperature is not None else ""
    caption = (f"Ringed on both maps: the {len(members):,} test examples whose confidence {side}'s predictions "
               f"put in the bin {bin_range(n_bins, b)} (on the {shift.describe()}{scaled}); {side}'s accuracy "
               f"there is {bins.accuracy[b]:.3f} at a mean confidence of {bins.confidence[b]:.3f}. The maps place "
               "each example at its clean test latent, whatever the predictions were measured on: a corruption "
               "or temperature scaling moves examples between bins, not on the map.")
    maps = []
    for name, path in models:
        chosen_source = sources.source(path)
        out = cache.outputs(path, chosen_source.dataset)
        if out["latents"] is None:
            maps.append(BinMap(name, None, f"{name} ({path.name}) has no latents: no map to ring the bin on."))
        elif not np.array_equal(out["labels"], pred.labels):
            maps.append(BinMap(name, None, f"{name}'s test rows are other examples than {side}'s (their labels "
                                           "differ): the bin's examples are not on its map."))
        else:
            figure, _ = latent_figure(path, "class", ProjectionConfig(seed=seed), seed, name,
                                      highlight=members, highlight_label=f"bin {bin_range(n_bins, b)}")
            maps.append(BinMap(name, figure))
    return caption, maps


@cache.shared_figure
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
