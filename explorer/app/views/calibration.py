"""Calibration page's figures and tables, composed from the library and the cached predictions.

Predictions (the slow part) come from ``cache``; everything here that depends on the number of bins
is array work, so moving the bins slider redraws without predicting again. Every metric comes with a
bootstrap interval over the test examples, and A against B with a paired bootstrap of the difference
(:func:`metrics_table`, computed once per predictions and shared, :func:`explorer.app.cache.shared_result`).
A post-hoc recalibration (:data:`FIXES`) is fitted on each model's validation split and shown before
and after. A reliability bin chosen on a diagram (a click, or the page's selectbox) rings its test
examples on both models' latent maps (:func:`bin_maps`). At the end, abstention (the risk–coverage
curves, AURC and E-AURC: :func:`abstention`) and conformal prediction sets (:func:`set_figures`).
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
from explorer.core.data import domain_of
from explorer.figures import (confidence_histogram, coverage_bars, decomposition_figure, reliability_diagram,
                              risk_coverage_figure, set_size_histogram, smooth_reliability_diagram)
from explorer.measure.calibration import bin_members, calibration_report, reliability_bins
from explorer.measure.conformal import RAPS_K_REG, RAPS_LAMBDA, SetCoverage, set_coverage
from explorer.measure.corruptions import SEVERITIES, TEXT_CORRUPTIONS, corruptions_for
from explorer.measure.decompositions import brier_decomposition, nll_decomposition
from explorer.measure.intervals import (LEVEL, N_RESAMPLES, Interval, difference_intervals, metric_intervals,
                                        reliability_bands)
from explorer.measure.recalibration import apply_temperature
from explorer.measure.selective import (aurc_comparison, aurc_intervals, risk_coverage, risk_coverage_band,
                                        selective_risk)
from explorer.measure.smooth_calibration import smooth_reliability

CLEAN = "none"
METRICS = {"accuracy": "accuracy", "ece": "ECE", "mce": "MCE", "adaptive_ece": "adaptive ECE",
           "classwise_ece": "classwise ECE", "smooth_ece": "SmoothECE", "debiased_ece": "debiased L2-ECE",
           "nll": "NLL (nats)", "brier": "Brier"}
TEMPERATURE = "temperature T"
DIAGRAM_CAPTION = (
    "Bars: accuracy per confidence bin, with its interval; hatched: the gap to the bin's mean confidence (above "
    "the bar: over-confident); shaded around the diagonal: where a perfectly calibrated model's bins would fall at "
    "these confidences and counts, so a bar outside it is a deviation these counts can show; faded: bins too sparse "
    "to read. Below: samples per bin. Click a bin to ring its test examples on both latent maps below. Download any "
    "figure as PNG with the camera button of its toolbar (hover over the figure).")
SMOOTH_CAPTION = (
    "SmoothECE (Błasiok & Nakkiran 2023): the accuracy smoothed over confidence by a kernel whose width is chosen "
    "by the data, instead of bins whose number changes the answer; shaded: its bootstrap band; below: where the "
    "confidences lie.")
DECOMPOSITION_CAPTION = (
    "Each score is split into a calibration part, which a recalibration can remove, and a refinement part, which "
    "no map of the outputs can change: how well the model's scores separate the classes. A fix that leaves the "
    "refinement part as it was and shrinks the calibration part did what a fix can do.")
FIXES = {None: "none", "temperature": "temperature scaling", "vector": "vector scaling",
         "matrix": "matrix scaling", "dirichlet": "Dirichlet calibration", "histogram": "histogram binning",
         "isotonic": "isotonic regression"}
"""The page's recalibration choices (None: the model's own probabilities) and their names."""


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
    """One model's test probabilities under a shift, after the post-hoc recalibration ``fix`` (a name of
    :data:`FIXES`; None: none) described by ``fix_note`` ("T = 1.31"); ``side`` is "Model A" or
    "Model B", ``name`` that and what the model is. ``temperature`` is T under temperature scaling."""

    side: str
    name: str
    probs: np.ndarray
    labels: np.ndarray
    fix: str | None = None
    fix_note: str | None = None
    temperature: float | None = None

    @property
    def title(self) -> str:
        """The name, and the recalibration if any: "Model A: softmax, d = 2 + temperature scaling"."""
        return self.name if self.fix is None else f"{self.name} + {FIXES[self.fix]}"

    @property
    def figure_title(self) -> str:
        """:attr:`title` with the recalibration on a line of its own, for a figure's narrow title or axis."""
        return self.name if self.fix is None else f"{self.name}<br>+ {FIXES[self.fix]}"


def fitted_caption(preds: list[Predictions]) -> str | None:
    """What each recalibration fitted (its parameters and how they were chosen), or None without one."""
    fitted = [f"{p.side}: {p.fix_note}" for p in preds if p.fix is not None]
    return "Fitted on each model's validation split: " + "; ".join(fitted) + "." if fitted else None


def predictions(path: Path, prefix: str, shift: Shift, fix: str | None = None) -> Predictions:
    """Probabilities of the checkpoint or bundle at ``path`` on the (shifted) test split, recalibrated by
    ``fix`` (a name of :data:`FIXES`) or not (None).

    The recalibration is fitted on the checkpoint's own validation split (cached per checkpoint), or on a
    bundle's ``val_logits``, never on test data, and is the same whatever the shift: it is fitted once,
    before any shift is seen. A bundle's predictions are clean only (a shift runs the model).
    """
    chosen = sources.source(path)
    out = cache.test_logits(path, chosen.dataset, shift.corruption, shift.severity, shift.seed)
    if fix is None:
        return Predictions(prefix, chosen.name(prefix), apply_temperature(out["logits"], 1.0), out["labels"])
    fitted = cache.recalibrator(path, fix)
    return Predictions(prefix, chosen.name(prefix), fitted.probs(out["logits"]), out["labels"], fix,
                       fitted.describe(), getattr(fitted, "temperature", None))


@cache.shared_figure
def reliability_figure(pred: Predictions, n_bins: int, chosen: tuple[str, int] | None = None) -> go.Figure:
    """Reliability diagram (accuracy, gap, counts) of one model's predictions with ``n_bins`` bins;
    the bin of ``chosen`` (side, b) outlined when it is this model's."""
    bins = reliability_bins(pred.probs, pred.labels, n_bins)
    bands = reliability_bands(pred.probs, pred.labels, n_bins)
    mine = chosen[1] if chosen is not None and chosen[0] == pred.side else None
    fix = f"+ {FIXES[pred.fix]} " if pred.fix else ""
    return reliability_diagram(bins, title=f"{pred.name}<br>{fix}({n_bins} bins)", highlight_bin=mine, bands=bands)


@cache.shared_figure
def smooth_figure(pred: Predictions) -> go.Figure:
    """The smoothed reliability diagram of one model's predictions, SmoothECE and its band
    (:func:`explorer.measure.smooth_calibration.smooth_reliability`): no bins to choose."""
    return smooth_reliability_diagram(smooth_reliability(pred.probs, pred.labels), title=pred.figure_title)


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
    recalibrated predictions is a set of test examples, drawn where their clean latents lie. A
    model without latents (a bundle of logits alone), or whose rows are other examples (a bundle of
    other data whose labels differ), gets a message instead of a map.
    """
    side, b = chosen
    pred = next(p for p in preds if p.side == side)
    members = bin_members(pred.probs, n_bins, b)
    bins = reliability_bins(pred.probs, pred.labels, n_bins)
    scaled = f", after {FIXES[pred.fix]} ({pred.fix_note})" if pred.fix is not None else ""
    caption = (f"Ringed on both maps: the {len(members):,} test examples whose confidence {side}'s predictions "
               f"put in the bin {bin_range(n_bins, b)} (on the {shift.describe()}{scaled}); {side}'s accuracy "
               f"there is {bins.accuracy[b]:.3f} at a mean confidence of {bins.confidence[b]:.3f}. The maps place "
               "each example at its clean test latent, whatever the predictions were measured on: a corruption "
               "or a recalibration moves examples between bins, not on the map.")
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


@cache.shared_result
def intervals(preds: list[Predictions], n_bins: int) -> pd.DataFrame:
    """Every metric of every set of predictions with its bootstrap interval, and the paired difference of
    each pair on the same test examples: a long table (model, measure, value, low, high).

    ``preds`` in the page's order: [A, B], or [A, A fixed, B, B fixed]. Differences: A − B (and A fixed −
    B fixed), each model's fix against its own predictions (fixed − before), and where both are fixed,
    B against A fixed (does B beat the recalibrated A?). A pair on different examples (a bundle of other
    data) is left out. Resamples and level: :data:`~explorer.measure.intervals.N_RESAMPLES`, ``LEVEL``.
    """
    rows = []
    for p in preds:
        for key, interval in metric_intervals(p.probs, p.labels, tuple(METRICS), n_bins).items():
            rows.append(_interval_row(p.title, key, interval))
    for label, a, b in _pairs(preds):
        if np.array_equal(a.labels, b.labels):
            for key, interval in difference_intervals(a.probs, b.probs, a.labels, tuple(METRICS), n_bins).items():
                rows.append(_interval_row(label, key, interval))
    return pd.DataFrame(rows)


def _pairs(preds: list[Predictions]) -> list[tuple[str, Predictions, Predictions]]:
    """(label, a, b) of the paired differences :func:`intervals` states."""
    if len(preds) == 2:
        return [("A − B", *preds)]
    a, a_fixed, b, b_fixed = preds
    fix = FIXES[a_fixed.fix]
    return [("A − B", a, b), (f"A − B, both after {fix}", a_fixed, b_fixed),
            (f"A after {fix} − A", a_fixed, a), (f"B after {fix} − B", b_fixed, b), (f"B − A after {fix}", b, a_fixed)]


def _interval_row(model: str, key: str, interval: Interval) -> dict:
    return {"model": model, "measure": METRICS[key], "value": interval.mean, "low": interval.low,
            "high": interval.high, "excludes_zero": interval.excludes_zero}


def shown_intervals(long: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The page's two tables from :func:`intervals`: each model's metrics, "value [low, high]" a cell
    (metrics as rows, models as columns), and the paired differences, where a difference whose interval
    excludes 0 is marked with a ✓."""
    def cell(row) -> str:
        return f"{row.value:.4f} [{row.low:.4f}, {row.high:.4f}]"

    def difference(row) -> str:
        return f"{row.value:+.4f} [{row.low:+.4f}, {row.high:+.4f}]" + (" ✓" if row.excludes_zero else "")

    models = [m for m in dict.fromkeys(long["model"]) if not _is_difference(m)]
    tables = []
    for names, format_ in ((models, cell), ([m for m in dict.fromkeys(long["model"]) if _is_difference(m)], difference)):
        part = long[long["model"].isin(names)]
        tables.append(part.assign(cell=[format_(r) for r in part.itertuples()])
                      .pivot(index="measure", columns="model", values="cell")
                      .reindex(index=list(METRICS.values()), columns=names))
    return tables[0], tables[1]


def _is_difference(name: str) -> bool:
    return " − " in name


def interval_caption(n: int) -> str:
    """What the intervals are, for the line under the tables."""
    return (f"Brackets: {LEVEL:.0%} intervals from {N_RESAMPLES:,} bootstrap resamples of the {n:,} test examples. "
            "Differences are paired: each resample draws the examples once and measures both sides on them. ✓: the "
            "interval excludes 0, a difference these examples tell apart (lower is better for every measure but "
            "accuracy). ECE, adaptive and classwise ECE read too high on a finite sample, and higher still on a "
            "resample: their intervals are corrected for it (basic bootstrap) and can lie below the value measured; "
            "the others are percentile intervals, and for SmoothECE and the debiased ECE can lie above it. The "
            "intervals are over test examples only: a model trained again with another seed moves too (the "
            "report's seed intervals).")


@cache.shared_figure
def decomposition_figures(preds: list[Predictions]) -> tuple[go.Figure, go.Figure]:
    """NLL and Brier score of each set of predictions split into calibration and refinement
    (:mod:`explorer.measure.decompositions`): a recalibration can shrink only the first."""
    parts = [{p.figure_title: decompose(p.probs, p.labels) for p in preds}
             for decompose in (nll_decomposition, brier_decomposition)]
    return decomposition_figure(parts[0], score="NLL"), decomposition_figure(parts[1], score="Brier")


@cache.shared_result
def bins_table(preds: list[Predictions], n_bins: int) -> pd.DataFrame:
    """Long table of the bins behind the diagrams: model, bin edges, confidence, accuracy, gap, count,
    the interval on the accuracy, the consistency band and whether the bin is too sparse to read
    (:func:`explorer.measure.intervals.reliability_bands`). Computed once per predictions and shared, so
    read-only: its bootstrap took most of a warm run (2 s of 2.9 s at 30 000 test rows)."""
    frames = []
    for p in preds:
        bins = reliability_bins(p.probs, p.labels, n_bins)
        bands = reliability_bands(p.probs, p.labels, n_bins)
        frames.append(pd.DataFrame({"model": p.title, "bin_low": bins.edges[:-1], "bin_high": bins.edges[1:],
                                    "mean_confidence": bins.confidence, "accuracy": bins.accuracy,
                                    "gap": bins.gap, "count": bins.count, "accuracy_low": bands.low,
                                    "accuracy_high": bands.high, "calibrated_low": bands.consistency_low,
                                    "calibrated_high": bands.consistency_high, "sparse": bands.sparse}))
    return pd.concat(frames, ignore_index=True)


def csv(table: pd.DataFrame, shift: Shift) -> bytes:
    """UTF-8 CSV of a table, with a column naming the data it was measured on (shift and seed)."""
    return table.assign(data=shift.describe()).to_csv(index=table.index.name is not None).encode()


# ---------------------------------------------------------------------------------------------------
# Abstention: the risk-coverage curves of the predictions the diagrams show

BAND_COVERAGES = np.linspace(0.05, 1.0, 20)
"""Where the risk–coverage band is drawn: 20 coverages, 0.05 apart."""

CURVE_POINTS = 400
"""Points of each drawn curve: the exact curve has one per test example, more than a figure can show."""

RISK_AT = 0.9
"""The coverage whose selective risk the abstention table gives."""

ABSTENTION_CAPTION = (
    f"A model may abstain: at coverage c it answers the share c of test examples it is most confident on (max "
    f"probability, after the recalibration if one is chosen) and leaves the rest. Lines: the error rate among the answered examples; shaded: its {LEVEL:.0%} "
    f"bootstrap band ({N_RESAMPLES:,} resamples of the test examples). AURC is the mean of the curve over every "
    "coverage, E-AURC the same less the AURC of a perfect ranking with the same errors (Geifman et al. 2019): it "
    "scores the ranking alone, not the error rate. Tied confidences (saturated, or after histogram binning or "
    "isotonic regression) have no order: each counts its tie group's mean error, the curve a random tie-break "
    f"gives on average; the risk at {RISK_AT:.0%} is of the one set the latent map greys out the rest of (ties "
    "broken by index). The A − B row is paired (each resample measures both models on the same examples); ✓: its "
    "interval excludes 0.")


def _confidence_correct(pred: Predictions) -> tuple[np.ndarray, np.ndarray]:
    return pred.probs.max(axis=1), pred.probs.argmax(axis=1) == pred.labels


@cache.shared_figure
def abstention(preds: list[Predictions]) -> tuple[go.Figure, pd.DataFrame]:
    """The risk–coverage curves of the predictions with their bands, and a table: AURC and E-AURC with
    their bootstrap intervals and the selective risk at :data:`RISK_AT` per model, then A − B (paired)
    where both are on the same examples: one bootstrap of both models gives all three
    (:func:`~explorer.measure.selective.aurc_comparison`)."""
    curves, bands, rows = {}, {}, []
    paired = len(preds) == 2 and np.array_equal(preds[0].labels, preds[1].labels)
    if paired:
        *each, difference = aurc_comparison(*_confidence_correct(preds[0]), *_confidence_correct(preds[1]))
    else:
        each = [aurc_intervals(*_confidence_correct(p)) for p in preds]
    for p, found in zip(preds, each):
        confidence, correct = _confidence_correct(p)
        curve = risk_coverage(confidence, correct)
        shown = np.unique(np.linspace(0, len(curve.risk) - 1, CURVE_POINTS).round().astype(int))
        name = f"{p.title}: AURC {found['aurc'].mean:.5f}"
        curves[name] = (curve.coverage[shown], curve.risk[shown])
        bands[name] = (BAND_COVERAGES, *risk_coverage_band(confidence, correct, BAND_COVERAGES))
        rows.append({"model": p.title, "AURC": _cell(found["aurc"]), "E-AURC": _cell(found["e_aurc"]),
                     f"risk at {RISK_AT:.0%} coverage": f"{selective_risk(confidence, correct, RISK_AT):.4f}"})
    if paired:
        rows.append({"model": "A − B", "AURC": _cell(difference["aurc"], signed=True),
                     "E-AURC": _cell(difference["e_aurc"], signed=True), f"risk at {RISK_AT:.0%} coverage": ""})
    figure = risk_coverage_figure(curves, bands, title="Risk–coverage")
    return figure, pd.DataFrame(rows).set_index("model")


def _cell(interval: Interval, signed: bool = False) -> str:
    """"0.01234 [0.01010, 0.01502]", or signed with ✓ where a difference's interval excludes 0."""
    f = "+.5f" if signed else ".5f"  # AURC of an accurate model is a few 10⁻⁴
    mark = " ✓" if signed and interval.excludes_zero else ""
    return f"{interval.mean:{f}} [{interval.low:{f}}, {interval.high:{f}}]{mark}"


# ---------------------------------------------------------------------------------------------------
# Prediction sets: split conformal, calibrated on each model's validation split

ALPHAS = (0.01, 0.05, 0.1, 0.2)
"""The page's miscoverage choices α."""

SCORE_NAMES = {"aps": "APS (randomised)", "raps": f"RAPS (randomised, λ = {RAPS_LAMBDA}, k_reg = {RAPS_K_REG})",
               "lac": "LAC (1 − p_y)"}
"""The page's conformity scores, first the default, with what they are."""


EMPTY_SETS = {
    "lac": "A set is empty where no class's probability reaches 1 − q̂ (q̂ the threshold): the least confident "
           "examples.",
    "randomised": "A set can be empty: the top class's score is a random share U of its probability, and where that "
                  "share lies above the threshold the set holds nothing. That befalls the most confident examples "
                  "most, so an empty set here is not doubt: it is how the randomisation brings the coverage down to "
                  "1 − α."}
"""Where empty sets fall, by score: LAC's and the randomised APS and RAPS sets' are different examples."""


def sets_caption(alpha: float, score: str, shift: Shift) -> str:
    return (f"Each model's split conformal prediction sets, {SCORE_NAMES[score]}, calibrated on its own validation "
            f"split (a bundle: its val_logits) at α = {alpha:g} and measured on the {shift.describe()}: each set "
            f"is meant to hold the true class for {1 - alpha:.0%} of examples, on average over the test examples "
            "(marginal coverage: a class may get less or more), when the test examples are like the validation "
            "ones. Bars: coverage per class with its binomial standard error; dashed: 1 − α. "
            f"{EMPTY_SETS['lac' if score == 'lac' else 'randomised']} The sets read the models' own probabilities: the "
            "recalibration above was fitted on the same validation split, which calibrates the sets already.")


def empty_sets_line(name: str, sets: np.ndarray, probs: np.ndarray) -> str | None:
    """Where one model's empty sets (N, K) bool fall: their share and mean confidence (max probability of
    ``probs`` (N, K)) against the other sets'; None when no set is empty."""
    empty = ~sets.any(axis=1)
    if not empty.any():
        return None
    confidence = probs.max(axis=1)
    rest = f", against {confidence[~empty].mean():.3f} for the others" if (~empty).any() else ""
    return f"{name}: {empty.mean():.1%} of the sets are empty, at a mean confidence of {confidence[empty].mean():.3f}{rest}."


def set_coverages(models: list[tuple[str, Path]], shift: Shift, alpha: float, score: str
                  ) -> tuple[list[tuple[str, SetCoverage]], list[str], list[str], list[str]]:
    """(model's name, its sets' coverage and sizes) of each model's own probabilities on the test split
    under ``shift``, its predictor calibrated on held-out outputs (:func:`explorer.app.cache.conformal`);
    a line for each bundle left out because it holds no validation outputs to calibrate on; a warning for
    each model with an infinite threshold (too few calibration examples for α: those sets hold every
    class); and where each model's empty sets fall (:func:`empty_sets_line`)."""
    found, left_out, warnings, empties = [], [], [], []
    for side, path in models:
        chosen = sources.source(path)
        if chosen.is_bundle and cache.bundle(path).val_logits is None:
            left_out.append(f"{chosen.name(side)} ({path.name}) has no val_logits/val_labels: no held-out outputs "
                            "to calibrate its prediction sets on (export it with --validation).")
            continue
        out = cache.test_logits(path, chosen.dataset, shift.corruption, shift.severity, shift.seed)
        predictor = cache.conformal(path, alpha, score)
        probs = apply_temperature(out["logits"], 1.0)
        sets = predictor.sets(probs)
        name = chosen.name(side)
        found.append((name, set_coverage(sets, out["labels"])))
        if predictor.infinite:
            warnings.append(f"{name}: {predictor.warning(chosen.class_names or None)}.")
        empties.append(empty_sets_line(name, sets, probs))
    return found, left_out, warnings, [line for line in empties if line]


@cache.shared_figure
def set_figures(found: list[tuple[str, SetCoverage]], alpha: float, class_names: tuple[str, ...]
                ) -> tuple[go.Figure, go.Figure]:
    """Coverage per class (bars with binomial errors, the 1 − α line) and the set-size histogram of each
    model's sets; the legends give the marginal coverage ± its binomial SE and the mean set size."""
    names = {name: f"{name}: {c.coverage:.3f} ± {c.se:.3f}, mean size {c.mean_size:.2f}" for name, c in found}
    bars = coverage_bars({names[name]: (c.per_class, c.per_class_se) for name, c in found}, 1 - alpha,
                         class_names if len(class_names) == len(found[0][1].per_class) else None,
                         title=f"Coverage per class at α = {alpha:g}")
    sizes = set_size_histogram({names[name]: c.size_counts for name, c in found}, title="Prediction set sizes")
    return bars, sizes
