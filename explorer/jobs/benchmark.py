"""The results benchmark: every method trained alike on each suite, with several seeds, and measured on
clean, corrupted, attacked, low-data and out-of-distribution test images; plus performance figures.

``python -m explorer benchmark`` runs :data:`FULL` (``--quick``: :data:`QUICK`), writes the raw
results (``results.json``, one row per measured number, and the same rows as ``results.csv``) and
renders the report from those files alone (:mod:`explorer.jobs.report`). Every hyperparameter is the
dataset's default (:mod:`explorer.core.data`, then :mod:`explorer.core.config`), chosen on validation
splits. The suites that test VC's claims train MNIST and Fashion-MNIST on 10 % of the training split
for 30 epochs: long enough to interpolate those images, the regime where softmax is measurably
miscalibrated (at 3 full epochs its ECE is 0.002, nothing to correct). Low-data fractions train for
as many optimisation steps as their suite's run (:func:`explorer.jobs.runs.equal_step_epochs`), so
they measure scarce data, not short training. Units of work (a suite and a seed) run in
:attr:`Plan.workers` processes of one thread each (see :func:`run`).

:data:`TEXT` (``--text``) runs the text sets: softmax and VC with the bag encoder, measured alike except
that pixel attacks do not apply (none is run) and the corruptions are the text ones, beside a reference
row, ``tfidf+logreg`` (:func:`text_reference`), fitted on the same training split.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from scipy.special import softmax

from explorer.core.config import AttackConfig, DEFAULT_COVARIANCE, RELEASED, default_configs
from explorer.core._io import HOME_SCRIPT, atomic_write
from explorer.core.checkpoints import validation_split
from explorer.core.errors import ArgumentError
from explorer.core.data import DATASETS, Dataset, dataset_info, load_dataset, readable_by, subset_indices
from explorer.core.implied import reference_head
from explorer.jobs.results import AA_ARM, BEST, BOOTSTRAP, RECALIBRATOR, REFERENCE, TS, Results
from explorer.jobs.runs import check_writable, low_data_sweep
from explorer.jobs.training import Progress, train
from explorer.jobs.verdicts import AA, VC, clean_pairs
from explorer.measure.attacks import robust_accuracy
from explorer.measure.calibration import bootstrap_metrics, calibration_report
from explorer.measure.corruptions import corrupt, corruptions_for
from explorer.measure.evaluation import evaluate, evaluate_outputs
from explorer.measure.inference import predict
from explorer.measure.latents import discriminator_kl, fit_latents, latent_fit
from explorer.measure.ood import ood_comparison
from explorer.measure.recalibration import Recalibrator, TemperatureScaling, fit_temperature, select_recalibrator

CALIBRATION = ("accuracy", "ece", "adaptive_ece", "nll", "brier")
TEXT_CALIBRATION = (*CALIBRATION, "classwise_ece")
"""Text suites also report classwise ECE: Reuters R8's classes are strongly imbalanced."""
ARMS: dict[str, tuple[str, dict[str, object]]] = {
    "softmax": ("softmax", {}),
    "gaussian": ("gaussian", {}),
    "lgm": ("lgm", {}),
    "vc": ("vc", {}),
    "vc-released": ("vc", dict(RELEASED)),
    AA_ARM: ("softmax", {}),
}
"""What the benchmark trains, by the name its rows carry: (method, settings over the dataset's defaults).
``vc`` is the project's default (the paper's objective, :class:`~explorer.core.config.TrainConfig`);
``vc-released`` the authors' released step, kept for comparison; ``softmax'`` is softmax again, trained
with the unit's seed from :attr:`Plan.aa_seeds`: the A/A check's other side, added to every suite of a
plan that names those seeds."""
SCALED = ("softmax", "vc", AA_ARM)
"""Arms also reported recalibrated after training, each map fitted on the model's validation split:
temperature-scaled, as ``"<arm>+ts"``, and by the best of every recalibrator
(:func:`~explorer.measure.recalibration.select_recalibrator`), as ``"<arm>+best"``."""


@dataclass(frozen=True)
class Suite:
    """One dataset, encoder (the dataset's) and latent dimension, trained for ``epochs`` on
    ``train_fraction`` of the training split."""

    dataset: str
    latent_dim: int
    epochs: int
    train_fraction: float = 1.0
    low_data: tuple[str, ...] = ()
    """Arms also trained on each of :attr:`Plan.fractions` below ``train_fraction``, for as many steps."""
    arms: tuple[str, ...] = ()
    """Names in :data:`ARMS`; empty: :attr:`Plan.arms`."""

    @property
    def name(self) -> str:
        base = f"{self.dataset} d={self.latent_dim}"
        return base if self.train_fraction == 1 else f"{base}, {self.train_fraction:.0%} × {self.epochs} epochs"


@dataclass(frozen=True)
class Plan:
    """What one benchmark run trains and measures."""

    suites: tuple[Suite, ...]
    seeds: tuple[int, ...]
    arms: tuple[str, ...] = tuple(arm for arm in ARMS if arm != AA_ARM)
    aa_seeds: tuple[int, ...] = ()
    """A second set of seeds, disjoint from :attr:`seeds` and as many: the unit of seed ``seeds[i]`` also
    trains softmax with ``aa_seeds[i]`` (:data:`~explorer.jobs.results.AA_ARM`, wherever softmax is
    trained: low data too), so that the verdict rule can be run A/A. Empty: no A/A arm."""
    bootstrap_resamples: int = 200
    """Resamples of the clean test split for the paired bootstrap of each clean comparison
    (:func:`bootstrap_rows`); 0: none."""
    fractions: tuple[float, ...] = (0.01, 0.05, 0.1)
    corruption_points: int = 1000
    attack_points: int = 500
    eps: tuple[float, ...] = (0.05, 0.1, 0.2)
    pgd_steps: int = 20
    fit_points: int = 2000
    epoch_points: int = 2000
    """Test images whose NLL is measured after every epoch (0: none)."""
    umap_sizes: tuple[int, ...] = (2000, 10_000, 60_000)
    app_memory: bool = True
    workers: int = 1
    """Processes that train and measure (suite, seed) units side by side, one thread each when > 1."""
    implied_covariance: str = DEFAULT_COVARIANCE
    """The member of a softmax layer's implied family (:mod:`explorer.core.implied`) that its latent fit
    and log p(z) use, fitted on the model's validation latents."""
    post_hoc_only: bool = False
    """Train only the arms of :data:`SCALED` and measure only what their rows hold before the attacks:
    training (epoch times and NLLs), clean, validation and corrupted calibration with every post-hoc map,
    the fit of the validation latents, and the paired bootstrap; no attack, test latent fit,
    out-of-distribution set, low-data run or text reference. What :func:`add_post_hoc` runs to add
    recalibrated rows to results made before them."""


_LONG = ("softmax", "lgm", "vc", "vc-released")
FULL = Plan(
    suites=(Suite("mnist", 16, 30, train_fraction=0.1, low_data=("softmax", "vc"), arms=_LONG),
            Suite("fashion-mnist", 16, 30, train_fraction=0.1, arms=_LONG),
            Suite("digits", 16, 60, low_data=tuple(ARMS))),
    seeds=(0, 1, 2, 3, 4), aa_seeds=(1000, 1001, 1002, 1003, 1004), fractions=(0.03,), workers=2,
)
"""Five seeds and the A/A arm. On 2 CPU cores this takes hours, not the 90 minutes five seeds were first
estimated at from the 3-seed run's epoch and attack times: on a machine busy with other work, one MNIST
unit (softmax, lgm, vc, vc-released and softmax', with the low-data runs) took about 56 minutes of one
worker. Fewer seeds would make the paired intervals wider (t = 4.30 at 3 seeds, 2.78 at 5), so the plan
keeps five, and :func:`run` keeps every finished unit, so a stopped run goes on where it stopped."""
CIFAR10 = Plan(suites=(Suite("cifar10", 64, 30, low_data=tuple(ARMS)),), seeds=(0, 1, 2), umap_sizes=(),
               app_memory=False)
"""ResNet-18 on CIFAR-10 with the dataset's defaults: hours on a GPU, out of reach of a CPU."""
QUICK = Plan(
    suites=(Suite("digits", 16, 3, low_data=("softmax", "vc")),), seeds=(0, 1), aa_seeds=(2, 3), fractions=(0.1,),
    corruption_points=100, attack_points=50, eps=(0.1,), pgd_steps=3, fit_points=200, epoch_points=100,
    umap_sizes=(), app_memory=False, bootstrap_resamples=20,
)
"""A few minutes of the same code: what the tests run."""
TEXT = Plan(
    suites=tuple(Suite(name, 16, DATASETS[name].defaults["epochs"]) for name in ("20newsgroups", "reuters-r8")),
    seeds=(0, 1, 2), aa_seeds=(1000, 1001, 1002), arms=("softmax", "vc"),
    fractions=(), eps=(), umap_sizes=(), app_memory=False, workers=2,
)
"""The text sets with their defaults (``DatasetInfo.defaults``), beside TF-IDF + logistic regression."""


def _text(suite: Suite) -> bool:
    return dataset_info(suite.dataset).domain == "text"


def text_reference(train_data, test) -> dict[str, float]:
    """TF-IDF + logistic regression (scikit-learn's ``TfidfVectorizer(sublinear_tf=True, min_df=2)``,
    ``LogisticRegression(C=10)``) fitted on the documents of ``train_data``, its calibration report on
    ``test``'s, and the seconds the fit took. Deterministic (L-BFGS from zero)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    started = time.perf_counter()
    vectorizer = TfidfVectorizer(sublinear_tf=True, min_df=2)
    classifier = LogisticRegression(C=10, max_iter=2000).fit(vectorizer.fit_transform(train_data.texts),
                                                             train_data.y.numpy())
    probs = classifier.predict_proba(vectorizer.transform(test.texts))
    report = calibration_report(np.asarray(probs, dtype=np.float64), test.y.numpy())
    return {**report, "seconds": time.perf_counter() - started}


def _rows(suite: Suite, method: str, seed: int, condition: str, values: dict[str, float]) -> list[dict]:
    return [{"suite": suite.name, "dataset": suite.dataset, "d": suite.latent_dim, "method": method,
             "seed": seed, "condition": condition, "measure": k, "value": float(v)} for k, v in values.items()]


class PostHoc(NamedTuple):
    """The maps one model's rows are recalibrated with, each fitted on its validation outputs: temperature
    scaling, and the recalibrator :func:`~explorer.measure.recalibration.select_recalibrator` chose
    (None for an arm not in :data:`SCALED`)."""

    temperature: TemperatureScaling
    best: Recalibrator | None


def fit_post_hoc(arm: str, val_logits: np.ndarray, val_labels: np.ndarray,
                 seed: int) -> tuple[PostHoc, dict[str, dict[str, float]]]:
    """The post-hoc maps of ``arm`` fitted on its validation logits (N, K) and labels (N,), never on a
    test split, and what the rows record of the choice: {row name: {measure: value}}, for the
    ``"<arm>+best"`` row ``"recalibrator:<name>"`` (value 1) for the winner, ``"cv_nll:<name>"`` for each
    candidate's cross-validated NLL (nats) and ``"recalibration_seconds"`` for the selection."""
    temperature = TemperatureScaling(fit_temperature(val_logits, val_labels))
    if arm not in SCALED:
        return PostHoc(temperature, None), {}
    started = time.perf_counter()
    best, scores = select_recalibrator(val_logits, val_labels, seed=seed)
    chosen = {f"{RECALIBRATOR}{best.name}": 1.0, "recalibration_seconds": time.perf_counter() - started}
    return PostHoc(temperature, best), {f"{arm}{BEST}": {**chosen, **{f"cv_nll:{k}": v for k, v in scores.items()}}}


def _scaled(method: str, logits, post_hoc: PostHoc) -> dict[str, np.ndarray]:
    """{row name: (N, K) probabilities}: the method's, and, if it is in :data:`SCALED`, its
    temperature-scaled (``"+ts"``) and best-recalibrated (``"+best"``) ones."""
    out = {method: softmax(np.asarray(logits, dtype=np.float64), axis=1)}
    if post_hoc.best is not None:
        out.update({f"{method}{TS}": post_hoc.temperature.probs(logits), f"{method}{BEST}": post_hoc.best.probs(logits)})
    return out


def _calibration_rows(suite, seed, condition, probs: dict[str, np.ndarray], y) -> list[dict]:
    rows = []
    for name, p in probs.items():
        report = calibration_report(p, y)
        rows += _rows(suite, name, seed, condition,
                      {k: report[k] for k in (TEXT_CALIBRATION if _text(suite) else CALIBRATION)})
    return rows


def measure_model(model, suite: Suite, arm: str, seed: int, plan: Plan, train_data: Dataset,
                  test: Dataset, train_config, ood_test: Dataset | None) -> tuple[list[dict], dict[str, np.ndarray]]:
    """Every measurement of one trained model, as rows (see :func:`run`), and its clean test
    probabilities, {row name (the arm, ``"<arm>+ts"`` and ``"<arm>+best"``): (N, K)}, for
    :func:`bootstrap_rows`. With :attr:`Plan.post_hoc_only`, nothing after the corruptions."""
    model.eval()
    test, ood_test = readable_by(test, model), ood_test if ood_test is None else readable_by(ood_test, model)
    y = test.y.numpy()
    # What the model held out, predicted once: for choosing (T, the recalibrator, softmax's implied
    # Gaussians), never for claims.
    val = validation_split(model, train_data, train_config)
    val_logits, z_val = predict(model, val.x)
    post_hoc, chosen = fit_post_hoc(arm, val_logits.numpy(), val.y.numpy(), seed)
    started = time.perf_counter()
    logits, _ = predict(model, test.x)
    seconds = time.perf_counter() - started
    clean = _scaled(arm, logits.numpy(), post_hoc)
    rows = _calibration_rows(suite, seed, "clean", clean, y)
    rows += _rows(suite, arm, seed, "clean", {"temperature": post_hoc.temperature.temperature,
                                              "images_per_second": len(y) / seconds})
    rows += [row for name, values in chosen.items() for row in _rows(suite, name, seed, "validation", values)]
    # softmax's implied Gaussians: the member of the family fitted to the latents the layer did not train on
    reference = reference_head(model.head, z_val, val.y, plan.implied_covariance, "validation latents")
    val_fit = fit_latents(reference, z_val, val.y)
    rows += _rows(suite, arm, seed, "validation", {
        **{k: v for k, v in evaluate_outputs(val_logits, val.y).items() if k in CALIBRATION},
        "r2_ratio": val_fit.median_ratio, "mean_ks": val_fit.mean_ks})

    # The same test images and corruptions for every model (seed 0), so models meet the same shift.
    keep = torch.from_numpy(subset_indices(len(y), plan.corruption_points, seed=0))
    x, y_sub = test.x[keep], y[keep.numpy()]
    for name in corruptions_for(dataset_info(suite.dataset).domain):
        for severity in range(1, 6):
            shifted, _ = predict(model, corrupt(x, name, severity, seed=0))
            rows += [r for r in _calibration_rows(suite, seed, f"{name}:{severity}",
                                                  _scaled(arm, shifted.numpy(), post_hoc), y_sub)
                     if r["measure"] in ("accuracy", "ece")]
    if plan.post_hoc_only:
        return rows, clean

    keep = torch.from_numpy(subset_indices(len(y), plan.attack_points, seed=0))
    x, y_att = test.x[keep], test.y[keep]
    for eps in () if _text(suite) else plan.eps:  # pixel attacks: images only
        for config in (AttackConfig("fgsm", eps), AttackConfig("pgd", eps, steps=plan.pgd_steps, seed=0)):
            started = time.perf_counter()
            accuracy = robust_accuracy(model, x, y_att, config)
            per_1000 = (time.perf_counter() - started) / len(y_att) * 1000
            tag = "fgsm" if config.attack == "fgsm" else f"pgd{plan.pgd_steps}"
            rows += _rows(suite, arm, seed, f"{tag}:{eps:g}", {"robust_accuracy": accuracy,
                                                               "seconds_per_1000": per_1000})

    keep = torch.from_numpy(subset_indices(len(y), plan.fit_points, seed=0))
    fit = latent_fit(model, test.x[keep], test.y[keep], reference)
    rows += _rows(suite, arm, seed, "clean", {
        "mean_ks": fit.mean_ks, "r2_ratio": fit.median_ratio,
        "kl_estimate": discriminator_kl(model, test.x[keep], test.y[keep], seed=seed, reference=reference)})
    if ood_test is not None:
        scores = ood_comparison(model, test.x, ood_test.x, reference)
        rows += _rows(suite, arm, seed, f"ood:{DATASETS[suite.dataset].ood}",
                      {f"auroc_{score}": result["auroc"] for score, result in scores.items()})
    return rows, clean


def bootstrap_rows(suite: Suite, seeds: dict[str, int], clean: dict[str, np.ndarray], y: np.ndarray,
                   plan: Plan) -> list[dict]:
    """The paired bootstrap over the clean test split of every clean comparison of the report and of
    the A/A check (:func:`explorer.jobs.verdicts.clean_pairs`) whose two sides this unit measured: for
    method a against b, rows (a, condition ``"bootstrap:<b>"``, each compared measure) whose value is the
    variance of measure a − measure b over :attr:`Plan.bootstrap_resamples` resamples of the test
    examples (the same resamples for both sides, and in every unit: seed 0). The report widens its
    interval over seeds by them (:func:`explorer.measure.intervals.seed_interval`).

    Args:
        seeds: {row name: the seed its rows carry}.
        clean: {row name: (N, K) clean test probabilities}, from :func:`measure_model`.
        y: (N,) test labels.
    """
    pairs = [(a, b, ks) for pair in (VC, AA) for a, b, ks in clean_pairs(pair) if a in clean and b in clean]
    if not pairs or plan.bootstrap_resamples < 2:
        return []
    used = dict.fromkeys(name for a, b, _ in pairs for name in (a, b))
    drawn = bootstrap_metrics({name: clean[name] for name in used}, y, sorted({k for *_, ks in pairs for k in ks}),
                              n_resamples=plan.bootstrap_resamples, seed=0)
    return [row for a, b, ks in pairs for row in _rows(
        suite, a, seeds[a], f"{BOOTSTRAP}{b}", {k: np.var(drawn[a][k] - drawn[b][k], ddof=1) for k in ks})]


class EpochNLL:
    """Training callback: the test NLL of the model after every epoch, on a fixed subset of the test split."""

    def __init__(self, test: Dataset, points: int) -> None:
        keep = torch.from_numpy(subset_indices(len(test), points, seed=0))
        self.x, self.y = test.x[keep], test.y[keep]
        self.nll: list[float] = []

    def __call__(self, progress: Progress) -> None:
        if progress.result is not None:
            self.nll.append(evaluate(progress.result.model, self.x, self.y)["nll"])


def run_unit(plan: Plan, suite: Suite, seed: int, log: Callable[[str], None] = print) -> list[dict]:
    """Train and measure every arm of ``suite`` with ``seed``: the rows of :func:`run` for that unit."""
    rows: list[dict] = []
    train_data, test = load_dataset(suite.dataset, "train"), load_dataset(suite.dataset, "test")
    other = DATASETS[suite.dataset].ood
    ood_test = load_dataset(other, "test") if other and not plan.post_hoc_only else None
    if _text(suite) and seed == plan.seeds[0] and not plan.post_hoc_only:  # deterministic: one fit per suite
        reference = text_reference(train_data, test)
        rows += _rows(suite, REFERENCE, seed, "clean", {k: reference[k] for k in (*TEXT_CALIBRATION, "seconds")})
        log(f"{suite.name} {REFERENCE}: {reference['seconds']:.0f} s")
    clean: dict[str, np.ndarray] = {}
    seeds: dict[str, int] = {}
    arms = (*(suite.arms or plan.arms), *((AA_ARM,) if plan.aa_seeds else ()))
    for arm in (a for a in arms if a in SCALED) if plan.post_hoc_only else arms:
        method, settings = ARMS[arm]
        started = time.perf_counter()
        trained_seed = plan.aa_seeds[plan.seeds.index(seed)] if arm == AA_ARM else seed
        common = {"latent_dim": suite.latent_dim, "epochs": suite.epochs, "train_fraction": suite.train_fraction,
                  "seed": trained_seed, **settings}
        model_config, train_config = default_configs(suite.dataset, method, snapshot_points=0, **common)
        epoch_nll = EpochNLL(test, plan.epoch_points) if plan.epoch_points else None
        result = train(train_data, model_config, train_config, epoch_nll)
        rows += _rows(suite, arm, trained_seed, "clean", {
            "epoch_seconds": float(np.mean([r["seconds"] for r in result.history])),
            "train_fraction": suite.train_fraction})
        for record in result.history:
            rows += _rows(suite, arm, trained_seed, f"epoch:{record['epoch']}", {"val_nll": record["val_nll"]})
        for epoch, nll in enumerate(epoch_nll.nll if epoch_nll else [], start=1):
            rows += _rows(suite, arm, trained_seed, f"epoch:{epoch}", {"test_nll": nll})
        measured, probs = measure_model(result.model, suite, arm, trained_seed, plan, train_data, test, train_config,
                                        ood_test)
        rows += measured
        clean.update(probs)
        seeds.update(dict.fromkeys(probs, trained_seed))
        if not plan.post_hoc_only and (arm in suite.low_data or (arm == AA_ARM and "softmax" in suite.low_data)):
            fractions = [f for f in plan.fractions if f < suite.train_fraction]
            sweep = low_data_sweep(train_data, test, suite.dataset, [method], fractions, equal_steps=True, **common)
            for fraction, accuracy, ece in zip(*(sweep[method][k] for k in ("fraction", "accuracy", "ece"))):
                rows += _rows(suite, arm, trained_seed, f"fraction:{fraction:g}", {"accuracy": accuracy, "ece": ece})
        log(f"{suite.name} seed {trained_seed} {arm}: {time.perf_counter() - started:.0f} s")
    started = time.perf_counter()
    rows += bootstrap_rows(suite, seeds, clean, test.y.numpy(), plan)
    if plan.bootstrap_resamples >= 2:
        log(f"{suite.name} seed {seed}: paired bootstrap of the clean comparisons, "
            f"{time.perf_counter() - started:.0f} s")
    return rows


def _run_unit_alone(plan: Plan, suite: Suite, seed: int) -> list[dict]:
    """:func:`run_unit` in a worker process of one thread (torch would otherwise take every core)."""
    torch.set_num_threads(1)
    return run_unit(plan, suite, seed)


def check_plan(plan: Plan) -> None:
    """Raise an ArgumentError where ``plan``'s A/A seeds cannot pair with its seeds: as many, none shared."""
    if plan.aa_seeds and (len(plan.aa_seeds) != len(plan.seeds) or set(plan.aa_seeds) & set(plan.seeds)):
        raise ArgumentError(f"aa_seeds must be as many as seeds and disjoint from them, got seeds {plan.seeds} "
                            f"and aa_seeds {plan.aa_seeds}")


def _units_folder(units_dir: Path | None, plan: Plan) -> Path | None:
    """Where :func:`run` keeps ``plan``'s finished units: a folder named by a hash of the plan (its
    processes aside: they change no figure but the times) and of the package's source, read when the
    run starts, so that neither another plan nor changed code ever reads them."""
    if units_dir is None:
        return None
    described = {k: v for k, v in plan_description(plan).items() if k != "workers"}
    digest = hashlib.sha256(json.dumps(described, sort_keys=True).encode())
    for source in sorted(Path(__file__).resolve().parents[1].rglob("*.py")):
        digest.update(source.read_bytes())
    return units_dir / digest.hexdigest()[:16]


def _unit_path(folder: Path, suite: Suite, seed: int) -> Path:
    return folder / f"{suite.dataset}-d{suite.latent_dim}-seed{seed}.json"


def _kept_unit(folder: Path | None, suite: Suite, seed: int) -> list[dict] | None:
    if folder is None:
        return None
    try:
        return json.loads(_unit_path(folder, suite, seed).read_text())["rows"]
    except (OSError, ValueError, KeyError):  # absent, or cut short while written: run it again
        return None


def kept_units(plan: Plan, units_dir: Path) -> int:
    """How many of ``plan``'s units :func:`run` would read back from ``units_dir`` instead of running."""
    folder = _units_folder(units_dir, plan)
    return sum(_kept_unit(folder, suite, seed) is not None for suite in plan.suites for seed in plan.seeds)


def _keep_unit(folder: Path | None, suite: Suite, seed: int, rows: list[dict]) -> None:
    if folder is not None:
        path = _unit_path(folder, suite, seed)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path) as f:
            f.write(json.dumps({"rows": rows}).encode())


def run(plan: Plan, log: Callable[[str], None] = print, units_dir: Path | None = None,
        check: Callable[[list[dict]], None] | None = None) -> list[dict]:
    """Train every (suite, seed, arm) of ``plan`` and measure it.

    Returns rows ``{"suite", "dataset", "d", "method", "seed", "condition", "measure", "value"}``
    (``method`` is the arm's name, :data:`ARMS`): ``condition`` is ``"clean"``,
    ``"<corruption>:<severity>"``, ``"fgsm:<eps>"``, ``"pgd<steps>:<eps>"``, ``"fraction:<f>"``,
    ``"ood:<dataset>"`` or ``"epoch:<e>"`` (``val_nll`` and ``test_nll`` after epoch e);
    temperature-scaled calibration appears under the arm ``"<arm>+ts"``, and calibration after the
    recalibrator chosen on the validation split under ``"<arm>+best"`` (with, under ``"validation"``, which
    one won and each candidate's cross-validated NLL: :func:`fit_post_hoc`); ``"bootstrap:<b>"`` holds the
    paired bootstrap variances of :func:`bootstrap_rows`. A row's ``seed`` is the seed its model trained
    with (for the A/A arm, from :attr:`Plan.aa_seeds`); a unit's rows come in the plan's order, which is
    what pairs methods seed by seed.

    With :attr:`Plan.workers` > 1 the (suite, seed) units run in that many processes of one thread each,
    longest suites first; the rows come back in the plan's order all the same, and every time measured
    (epochs, evaluation, attacks) is then a one-thread figure taken beside the other workers.

    ``units_dir``: each finished unit's rows are kept there, and a unit already kept for this very plan
    is read back instead of run again, so a run that was stopped goes on where it stopped.

    ``check``: called with each unit's rows as it finishes or is read back, before it is kept; what it
    raises stops the run, so that a run bound to fail fails early: units not yet handed to a worker are
    cancelled, and those already running (or queued for a worker, at most one more each) finish first.
    With :attr:`Plan.post_hoc_only` the run trains and measures only what that field says.
    """
    check_plan(plan)
    folder = _units_folder(units_dir, plan)  # hashed now: the code this run imported, not a later edit
    units = [(suite, seed) for suite in plan.suites for seed in plan.seeds]
    done: dict[int, list[dict]] = {}
    for i, (suite, seed) in enumerate(units):
        if (kept := _kept_unit(folder, suite, seed)) is not None:
            if check is not None:
                check(kept)
            done[i] = kept
            log(f"{suite.name} seed {seed}: kept from an earlier run")
    todo = [i for i in range(len(units)) if i not in done]

    def finished(i: int, rows: list[dict]) -> None:
        if check is not None:
            check(rows)
        done[i] = rows
        _keep_unit(folder, *units[i], rows)
        log(f"{units[i][0].name} seed {units[i][1]}: done ({len(done)} of {len(units)} units)")

    if plan.workers <= 1:
        for i in todo:
            finished(i, run_unit(plan, *units[i], log))
        return [row for i in range(len(units)) for row in done[i]]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no inherited torch threads
    with ProcessPoolExecutor(plan.workers, mp_context=context) as pool:
        futures = {pool.submit(_run_unit_alone, plan, *units[i]): i for i in todo}
        try:
            for future in as_completed(futures):
                finished(futures[future], future.result())
        except BaseException:  # leaving the pool waits for its units: only for those already running
            for future in futures:
                future.cancel()
            raise
    return [row for i in range(len(units)) for row in done[i]]


# ---------------------------------------------------------------------------------------------------
# Performance figures that need a process of their own


def _subprocess_json(*args: str) -> dict:
    """Run ``python args`` (``-m module ...``) in a fresh process; its last line of output, as JSON."""
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"measurement process failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def umap_timings(latents: np.ndarray, sizes: Sequence[int]) -> list[dict]:
    """Seconds of PCA and UMAP on the first n latents, cold (first fit in a fresh process) and warm."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "z.npy"
        np.save(path, latents)
        for n in sizes:
            timings = _subprocess_json("-m", "explorer.jobs._umap_timing", str(path), str(n))
            rows += [{"measure": f"{k}_seconds", "n": min(n, len(latents)), "value": v} for k, v in timings.items()]
    return rows


def peak_rss_mb() -> float:
    """This process's peak resident memory (MB), from Linux's ``/proc/self/status`` (VmHWM).

    Not ``getrusage``: its ``ru_maxrss`` survives ``execve``, so a process started by the benchmark
    (gigabytes after training) would report the benchmark's peak instead of its own.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("/proc/self/status has no VmHWM line")


def app_peak_memory_mb() -> float:
    """Peak resident memory (MB) of one process running every page of the app on the MNIST models."""
    return _subprocess_json("-m", "explorer.app._peak_memory", str(HOME_SCRIPT))["peak_rss_mb"]


def app_first_visit() -> dict[str, float] | None:
    """Seconds to Home's text and to its figure on a fresh server's first visit, in headless Chromium
    (``python -m explorer.app._first_visit`` in a fresh process); None where Chromium or playwright
    is missing."""
    try:
        return _subprocess_json("-m", "explorer.app._first_visit")
    except RuntimeError as error:
        if "playwright" in str(error) or "chromium" in str(error).lower():
            return None
        raise


def machine() -> dict[str, object]:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() \
        else platform.processor()
    return {"cpus": os.cpu_count(), "cpu": model, "torch": torch.__version__, "threads": torch.get_num_threads(),
            "python": platform.python_version(), "gpu": torch.cuda.get_device_name() if torch.cuda.is_available()
            else None}


def performance(plan: Plan, log: Callable[[str], None] = print) -> dict[str, object]:
    """UMAP and PCA timings on MNIST latents, the app's peak memory and a fresh server's first visit,
    and the machine."""
    out: dict[str, object] = {"machine": machine(), "umap": [], "app_peak_rss_mb": None, "app_first_visit": None}
    if plan.umap_sizes:
        model_config, train_config = default_configs("mnist", "vc", epochs=1, seed=0, snapshot_points=0)
        data = load_dataset("mnist", "train")
        _, z = predict(train(data, model_config, train_config).model.eval(), data.x)
        out["umap"] = umap_timings(z.numpy(), plan.umap_sizes)
        log(f"UMAP and PCA timed on {len(z)} MNIST latents")
    if plan.app_memory:
        out["app_peak_rss_mb"] = app_peak_memory_mb()
        log(f"app peak memory: {out['app_peak_rss_mb']:.0f} MB")
        out["app_first_visit"] = app_first_visit()
        log("fresh server's first visit: " + ("not measured (no Chromium or playwright)" if out["app_first_visit"]
                                               is None else f"text {out['app_first_visit']['text']:.1f} s, "
                                               f"figure {out['app_first_visit']['figure']:.1f} s"))
    return out


def plan_description(plan: Plan) -> dict[str, object]:
    return dataclasses.asdict(plan)


def plan_from_description(description: dict) -> Plan:
    """The inverse of :func:`plan_description` (JSON lists back to tuples)."""
    def suite(values: dict) -> Suite:
        return Suite(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})

    return Plan(**{k: tuple(suite(s) for s in v) if k == "suites" else tuple(v) if isinstance(v, list) else v
                   for k, v in description.items()})


def remeasure_performance(out_dir: Path, log: Callable[[str], None] = print) -> None:
    """Measure :func:`performance` again, with the plan of ``out_dir/results.json``, and replace that
    section of the file (marked as a separate pass); the rows and the run's epoch times stay."""
    path = out_dir / "results.json"
    payload = json.loads(path.read_text())
    plan = plan_from_description(payload["plan"])
    payload["performance"] = {**performance(plan, log), "separate_pass": True}
    path.write_text(json.dumps(payload, indent=0))


def add_note(path: Path, note: str) -> None:
    """Append ``note`` (one line on how the times in ``path``'s results were measured) to its ``notes``:
    the report prints each under its times (:func:`explorer.jobs.report.performance_section`)."""
    payload = json.loads(path.read_text())
    payload["notes"] = [*payload.get("notes", []), " ".join(note.split())]
    path.write_text(json.dumps(payload, indent=0))


TIMES = ("epoch_seconds", "images_per_second", "seconds_per_1000", "recalibration_seconds", "seconds")
"""Measures that are times: a pass that measures again cannot repeat them, so :func:`merge_rows` never
compares them."""
RTOL, ATOL = 1e-4, 1e-12
"""How far a number measured again may lie from the one in the file (:func:`merge_rows`). The same code,
seeds and thread count reproduce a model's numbers exactly on one machine; 1e-4 relative leaves room for
a different order of float32 sums, nowhere near the difference another model makes. No absolute slack
to speak of: the bootstrap variances are 1e-6 to 1e-4."""


def _key(row: dict) -> tuple:
    return row["suite"], row["method"], row["seed"], row["condition"], row["measure"]


def _recalibrated(row: dict) -> bool:
    """Whether ``row`` is one the ``"+best"`` recalibration adds: a best-recalibrated method's, or a
    paired bootstrap against one."""
    return row["method"].endswith(BEST) or row["condition"].endswith(BEST)


def merge_rows(kept: list[dict], again: list[dict]) -> tuple[list[dict], dict[str, float]]:
    """``kept`` with the best-recalibrated rows of ``again`` (:func:`_recalibrated`) it lacks appended, in
    ``again``'s order (so that the i-th value of each new row still comes from the plan's i-th unit), and
    what was checked: {"checked": rows of ``again`` that ``kept`` holds too, times aside; "added";
    "largest_difference": the largest relative difference |again − kept| / |kept| among the checked}.

    Raises an ArgumentError, and so adds nothing, where the rows measured again cannot be the models of
    ``kept``: a value differs by more than :data:`RTOL`; a row other than a best-recalibrated one is
    missing from ``kept`` (another plan, or names changed since); or a model behind an added row had
    none of its numbers checked."""
    values = {_key(row): row["value"] for row in kept}
    shared = [(row, values[_key(row)]) for row in again if _key(row) in values and row["measure"] not in TIMES]
    differ = [(row, value) for row, value in shared
              if not np.isclose(row["value"], value, rtol=RTOL, atol=ATOL, equal_nan=True)]
    if differ:
        shown = "; ".join(f"{row['suite']} {row['method']} seed {row['seed']} {row['condition']} {row['measure']}: "
                          f"{value:.6g} in the file, {row['value']:.6g} now" for row, value in differ[:5])
        raise ArgumentError(f"{len(differ)} of {len(shared)} numbers measured again differ from the results "
                            f"file, so the models trained again are not its models: {shown}")
    missing = [row for row in again if _key(row) not in values and not _recalibrated(row)]
    if missing:
        shown = "; ".join(" ".join(map(str, _key(row))) for row in missing[:5])
        raise ArgumentError(f"the results file lacks {len(missing)} rows measured again that are not "
                            f"best-recalibrated ones, so it was made with another plan or other names: {shown}")
    added = [row for row in again if _key(row) not in values]
    checked_models = {(row["suite"], row["method"], row["seed"]) for row, _ in shared}
    unchecked = {(row["suite"], row["method"].removesuffix(BEST), row["seed"]) for row in added} - checked_models
    if unchecked:
        raise ArgumentError(f"no number of {len(unchecked)} models was measured again to check them against the "
                            f"results file: {sorted(unchecked)[:5]}")
    largest = max((abs(row["value"] - value) / abs(value) for row, value in shared if value and np.isfinite(value)),
                  default=0.0)
    return kept + added, {"checked": len(shared), "added": len(added), "largest_difference": float(largest)}


def add_post_hoc(out_dir: Path, log: Callable[[str], None] = print) -> dict[str, float]:
    """Add to ``out_dir/results.json`` the best-recalibrated rows (``"<arm>+best"``, with their paired
    bootstrap) of results made before them, without running their attacks, latent fits and low-data runs
    again: the arms of :data:`SCALED` are trained again with the file's plan and seeds and measured as
    :attr:`Plan.post_hoc_only` says, every number the file already holds is checked against it as each
    unit finishes (:func:`merge_rows`: the same models, or an error and the file untouched), and the
    new rows are added. Units are kept under ``out_dir/units`` as :func:`run` keeps them. Records the pass
    in the file's ``post_hoc_pass`` and returns it."""
    path = out_dir / "results.json"
    if not path.is_file():
        raise ArgumentError(f"{path}: no results to add to; run the benchmark first")
    payload = Results.load(path).payload
    if any(_recalibrated(row) for row in payload["rows"]):
        raise ArgumentError(f"{path} already holds best-recalibrated rows: nothing to add")
    try:
        plan = dataclasses.replace(plan_from_description(payload["plan"]), post_hoc_only=True)
    except (KeyError, TypeError) as error:
        raise ArgumentError(f"{path}: its plan is not one this version can run ({error})") from None
    check_writable(path)
    made_with = payload.get("performance", {}).get("machine", {}).get("torch")
    if made_with and made_with != torch.__version__:
        log(f"note: {path} was made with torch {made_with}, this is {torch.__version__}: its numbers may not "
            "be reproduced, and then nothing is added")
    started = time.perf_counter()
    rows = run(plan, log=log, units_dir=out_dir / "units", check=lambda unit: merge_rows(payload["rows"], unit))
    merged, checked = merge_rows(payload["rows"], rows)
    ran = {row["method"] for row in rows}
    record = {**checked, "wall_seconds": time.perf_counter() - started, "arms": [a for a in SCALED if a in ran]}
    payload.update(rows=merged, post_hoc_pass=record)
    with atomic_write(path) as f:
        f.write(json.dumps(payload, indent=0).encode())
    _write_csv(out_dir, merged)
    return record


def _write_csv(out_dir: Path, rows: list[dict]) -> None:
    import csv

    with open(out_dir / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def write_results(out_dir: Path, rows: list[dict], perf: dict, plan: Plan, seconds: float, kept: int = 0) -> None:
    """``results.json`` (rows, performance, plan, wall time, and how many units an earlier, stopped run
    had finished: ``seconds`` leaves their time out) and ``results.csv`` (the rows)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    payload = {"plan": plan_description(plan), "wall_seconds": seconds, "kept_units": kept, "performance": perf,
               "rows": rows}
    (out_dir / "results.json").write_text(json.dumps(payload, indent=0))
    _write_csv(out_dir, rows)
