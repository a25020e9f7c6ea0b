"""The Lesson's six steps: the mismatch told in six steps, each a few sentences and live figures of
the lesson's d = 2 models (:mod:`.choice`).

Every number a step's text gives is measured when the step is drawn (from the cached outputs of the
models on their test split), or read from the results report's raw numbers (:mod:`.quotes`); the
sentences around them are chosen by those numbers, so the text never claims more than they show.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from explorer.app import cache, sources
from explorer.app.views import adversarial, calibration
from explorer.app.views.latent_space import chi2_figure, latent_figure
from explorer.app.views.lesson.choice import Lesson
from explorer.app.views.lesson.quotes import claims_table, claims_text, wins_elsewhere
from explorer.app.views.shift import DEFAULT_CORRUPTIONS, SHIFT_POINTS
from explorer.core.config import AttackConfig, DEFAULT_COVARIANCE, N_BINS, ProjectionConfig
from explorer.core.data import dataset_info, domain_of
from explorer.core.errors import ArgumentError, DatasetUnavailableError
from explorer.figures import accuracy_vs, latent_replay
from explorer.measure.calibration import accuracy, calibration_report
from explorer.measure.intervals import Interval, bootstrap_difference
from explorer.measure.ood import cause_sentence, latent_placement

ATTACK = AttackConfig(attack="pgd", eps=0.1, steps=10, seed=0)
"""Step 5's attack: the Adversarial page's default PGD."""
REPORT_CLAIMS = ("corruption", "PGD", "training data", "OOD")
"""Step 6 quotes the report's comparisons whose description names one of these."""


@dataclass
class Step:
    """One step as drawn: its text (Markdown), its figures (two per row), an optional table, and the
    page that shows the same thing in full."""

    title: str
    text: str
    figures: list[go.Figure]
    page: str
    """The name of the page (``explorer.app.guide``) that opens on the lesson's models."""
    link_label: str
    table: pd.DataFrame | None = None


def fit_numbers(path: Path, dataset: str, implied: str = DEFAULT_COVARIANCE) -> dict[str, float]:
    """The χ² check of the model's test latents as the steps quote it: their median distance from their
    class mean in σ (``median_sigma``), that median under the prior itself (``prior_median_sigma``),
    median r² ÷ the law's median (``ratio``), the mean KS over classes (``mean_ks``), the mean KS
    that chance alone stays under at 5 % at these class sizes (``ks_critical``), and how many of the
    ``classes`` exceed their own (``beyond``). A softmax model's Gaussians: the ``implied`` member."""
    fit = cache.fit(path, dataset, implied)
    return {"median_sigma": float(np.median(np.sqrt(fit.r2))), "prior_median_sigma": float(np.sqrt(fit.law.median())),
            "ratio": fit.median_ratio, "mean_ks": float(fit.mean_ks), "ks_critical": fit.mean_ks_critical(),
            "beyond": fit.classes_beyond(), "classes": int(np.sum(~np.isnan(fit.ks)))}


def _fit_in_words(fit: dict[str, float]) -> str:
    """What the fitted Gaussians show of a model's latents: their spread, then their shape against chance."""
    ratio = fit["ratio"]
    spread = (f"spread wider than those Gaussians (median r² {ratio:.2g} times the expected)" if ratio > 1.5 else
              f"gather inside them (median r² {ratio:.2g} times the expected)" if ratio < 1 / 1.5 else
              f"spread about as those Gaussians do (median r² {ratio:.2f} times the expected)")
    if fit["beyond"] == 0:
        return f"The latents {spread}, and no class's r² differs from χ² by more than chance allows at its size."
    return (f"The latents {spread}, and in {fit['beyond']:.0f} of the {fit['classes']:.0f} classes the shape of "
            "their r² differs from χ² by more than chance allows at its size.")


def _accuracy(path: Path, dataset: str) -> float:
    out = cache.outputs(path, dataset)
    return accuracy(out["probs"], out["labels"])


def _norm_history(path: Path) -> list[float]:
    """Mean over classes of the validation latents' mean norm, after each training epoch."""
    _, meta = cache.model(path)
    return [float(np.nanmean(record["latent_norm"])) for record in meta.get("history", [])]


@cache.shared_figure_of_file
def _replay(path: Path, side: str, seed: int) -> go.Figure:
    """The checkpoint's latent snapshots (the same validation points after every epoch), animated; its
    test latents as training left them if it kept no snapshots."""
    _, meta = cache.model(path)
    if meta.get("snapshots") is None:  # trained with --snapshot-points 0
        return latent_figure(path, "class", ProjectionConfig(seed=seed), seed, side)[0]
    snapshots = np.asarray(meta["snapshots"], dtype=np.float64)
    chosen = sources.source(path)
    return latent_replay(snapshots, np.asarray(meta["snapshot_labels"]), chosen.class_names,
                         title=f"{chosen.name(side)}, replayed")


@cache.shared_figure
def _norms(history: dict[str, list[float]]) -> go.Figure:
    """Each model's mean validation latent norm after each epoch (``history``: model → norms, model A first)."""
    epochs = len(next(iter(history.values())))
    return accuracy_vs(np.arange(1, epochs + 1), history, "epoch", "mean ‖z‖ (validation)",
                       title="Latent norms during training")


def _clean_predictions(lesson: Lesson) -> tuple[list[calibration.Predictions], list[calibration.Predictions]]:
    """Both models' predictions on the clean test split, before and after temperature scaling."""
    clean = calibration.Shift(seed=lesson.seed)
    before = [calibration.predictions(path, side, clean) for side, path in lesson.models]
    after = [calibration.predictions(path, side, clean, "temperature") for side, path in lesson.models]
    return before, after


def calibration_table(lesson: Lesson) -> pd.DataFrame:
    """Both models' calibration metrics (:data:`N_BINS` bins, clean test split), before and after
    temperature scaling: two rows a model (:func:`explorer.app.views.calibration.metrics_table`)."""
    before, after = _clean_predictions(lesson)
    return calibration.metrics_table(after, N_BINS, before)


def spokes(lesson: Lesson) -> Step:
    a, b = _norm_history(lesson.softmax), _norm_history(lesson.vc)
    if min(len(a), len(b)) < 2:
        raise ArgumentError("the lesson's models record fewer than two epochs of history: nothing to replay")
    history = {sources.source(path).name(side): h for (side, path), h in zip(lesson.models, (a, b))}
    _, meta = cache.model(lesson.softmax)
    replayed = meta.get("snapshots") is not None
    growth = a[-1] / a[-2] - 1
    grew = sum(later > earlier for earlier, later in zip(a, a[1:]))
    cosine = meta.get("train_config", {}).get("schedule") == "cosine"
    slowed = len(a) > 2 and a[-1] - a[-2] < a[1] - a[0]
    still = (f"it grew at {grew} of the {len(a) - 1} epochs after the first"
             + (f", and slowed as the cosine schedule took the learning rate to zero (the last epoch added "
                f"{growth:.2%})" if cosine and slowed else f" (the last epoch added {growth:+.2%})"))
    text = (
        "Model A is an ordinary softmax classifier whose latent *z* has two dimensions, so the map shows the "
        "latents themselves, without a projection. Each class stretches into a **spoke** from the origin: "
        "once a latent is classified correctly, the cross-entropy still falls when it moves further out "
        "along its class's direction, so training keeps pushing it outwards.\n\n"
        + ("The left panel replays training from the checkpoint: press ▶ replay to watch the same validation "
           "latents after every epoch, or drag the slider. " if replayed else
           "The left panel shows the test latents as training left them (this checkpoint kept no snapshots "
           "to replay). ")
        + "The right panel follows the norms during training. Model A's mean latent "
        f"norm ‖z‖ on the validation split went from {a[0]:.3g} after epoch 1 to {a[-1]:.3g} after epoch {len(a)} "
        f"(×{a[-1] / a[0]:.1f}): {still}. Model B (VC) went from {b[0]:.3g} to {b[-1]:.3g}.")
    return Step("Softmax latents grow into spokes", text,
                [_replay(lesson.softmax, "Model A", lesson.seed), _norms(history)], "train",
                "Train a model live and replay its latents epoch by epoch")


def mismatch(lesson: Lesson) -> Step:
    fit = fit_numbers(lesson.softmax, lesson.dataset)
    convention = fit_numbers(lesson.softmax, lesson.dataset, "identity")
    fitted_on = cache.gaussians(lesson.softmax).fitted_on
    text = (
        "Read as Bayes' rule, model A's softmax layer assumes that the latents of class *y* follow a Gaussian "
        "N(μ_y, Σ) with one Σ shared by the classes. Which Σ it does not say: every Σ, with means set from "
        "the weights, gives the very same probabilities. The convention Σ = I puts model A's test latents a "
        f"median {convention['median_sigma']:.3g} σ from their class means, but that figure means little: "
        "multiplying the latents by c and the weights by 1/c changes no prediction and every distance about "
        "c times.\n\n"
        "The fair question is whether the *best* member of the family fits. The ellipses are the 1σ and 2σ "
        f"contours of the member fitted by maximum likelihood to {fitted_on} (a diagonal Σ, the family VC's "
        f"Gaussians have). If the latents followed them, a latent would lie a median "
        f"{fit['prior_median_sigma']:.2f} σ from its class mean; model A's test latents lie a median "
        f"**{fit['median_sigma']:.3g} σ** away. The histogram compares one class's squared distances r² with "
        "the χ²(2) law they would follow; the KS statistic between the two, averaged over classes, is "
        f"**{fit['mean_ks']:.2f}** (0: a perfect fit, 1: none; chance alone stays under about "
        f"{fit['ks_critical']:.2f} at these class sizes, 5 %). {_fit_in_words(fit)}")
    figure, _ = latent_figure(lesson.softmax, "class", ProjectionConfig(seed=lesson.seed), lesson.seed, "Model A")
    chi2, _ = chi2_figure(lesson.softmax, 0)
    return Step("The Gaussians its layer implies: the mismatch", text, [figure, chi2], "latent_space",
                "Open the Latent space page on these models")


def variational(lesson: Lesson) -> Step:
    a, b = fit_numbers(lesson.softmax, lesson.dataset), fit_numbers(lesson.vc, lesson.dataset)
    acc_a, acc_b = _accuracy(lesson.softmax, lesson.dataset), _accuracy(lesson.vc, lesson.dataset)
    closer = "closer to" if b["mean_ks"] < a["mean_ks"] else "no closer to"
    text = (
        "Model B is trained with the variational-classification objective: its class Gaussians are fitted to "
        "the latents, and a KL term makes the latents fill them rather than run outwards. The ellipses are "
        "the Gaussians it learnt.\n\n"
        f"Its test latents lie a median **{b['median_sigma']:.3g} σ** from their class means "
        f"({b['prior_median_sigma']:.2f} σ if they followed their Gaussians), and their mean KS against χ²(2) "
        f"is **{b['mean_ks']:.2f}**, against {a['mean_ks']:.2f} for model A and its fitted Gaussians: {closer} "
        f"the assumed law (chance alone stays under about {b['ks_critical']:.2f}). {_fit_in_words(b)} Test "
        f"accuracy: model A {acc_a:.1%}, model B {acc_b:.1%}.")
    figure, _ = latent_figure(lesson.vc, "class", ProjectionConfig(seed=lesson.seed), lesson.seed, "Model B")
    chi2, _ = chi2_figure(lesson.vc, 0)
    return Step("VC: latents inside their Gaussians", text, [figure, chi2], "latent_space",
                "Open the Latent space page on these models")


def reliability(lesson: Lesson) -> Step:
    before, after = _clean_predictions(lesson)
    ece = [[calibration_report(p.probs, p.labels, N_BINS)["ece"] for p in preds] for preds in (before, after)]
    # Both models are measured on the same test examples: a paired bootstrap of the difference.
    differences = [bootstrap_difference(a.probs, b.probs, a.labels, "ece", N_BINS, seed=lesson.seed)
                   for a, b in (before, after)]

    def lower(difference: Interval) -> str:
        said = (f"ECE A − ECE B = {difference.mean:+.4f}, {difference.level:.0%} interval "
                f"[{difference.low:+.4f}, {difference.high:+.4f}]")
        if not difference.excludes_zero:
            return f"the two are not told apart ({said}, which holds 0)"
        return (f"model A (softmax) has the lower ECE ({said})" if difference.high < 0 else
                f"model B (VC) has the lower ECE ({said})")

    text = (
        "A reliability diagram sorts the test predictions into bins of confidence and compares each bin's "
        "accuracy (the bar) with its mean confidence (the diagonal): a bar below the diagonal is "
        "over-confident. ECE is the gap averaged over the bins, weighted by their counts "
        f"({N_BINS} bins). Temperature scaling divides the logits by one T per model, fitted on its "
        "validation split.\n\n"
        f"ECE of model A: **{ece[0][0]:.4f}**, {ece[1][0]:.4f} after scaling (T = {after[0].temperature:.2f}); "
        f"of model B: **{ece[0][1]:.4f}**, {ece[1][1]:.4f} after scaling (T = {after[1].temperature:.2f}). "
        f"Before scaling, {lower(differences[0])}; after it, {lower(differences[1])}."
        + "".join(f" Here scaling raised {name}'s ECE: T minimises the NLL on the validation split, and the "
                  "test split's ECE need not follow." for name, was, now in
                  (("model A", ece[0][0], ece[1][0]), ("model B", ece[0][1], ece[1][1])) if now > was)
        + f" The intervals come from a paired bootstrap of the difference over the {len(before[0].labels):,} "
          "test examples: each resample draws the examples once and measures both models on them, since "
          "both were measured on the same ones.")
    figures = [calibration.reliability_figure(p, N_BINS) for p in (*before, *after)]
    return Step("Reliability, before and after temperature scaling", text, figures, "calibration",
                "Open the Calibration page on these models", table=calibration_table(lesson))


def attack(lesson: Lesson) -> Step:
    n = len(cache.test_split(lesson.dataset).y)
    index = adversarial.example_index("random", n, lesson.seed, 0)
    names = sources.source(lesson.softmax).class_names
    label = names[int(cache.test_split(lesson.dataset).y[index])]
    flipped, said, figures = [], [], []
    for side, path in lesson.models:
        result = adversarial.attack_example(path, lesson.dataset, index, ATTACK)
        before, after = (names[int(p.argmax())] for p in (result.probs, result.probs_adv))
        flipped.append(before != after)
        said.append(f"{side} predicted {before} before the attack and **{after}** after it"
                    + (" (flipped)" if before != after else " (held)"))
        figures.append(adversarial.path_figure(path, lesson.dataset, result, lesson.seed,
                                               f"{sources.source(path).name(side)}: the latent under attack"))
    report = claims_text(lesson.dataset, ("PGD",))
    text = (
        f"PGD moves every pixel of test example #{index} (label {label}) by at most ε = {ATTACK.eps} "
        f"(images in [0, 1]), {ATTACK.steps} steps, each model with its own gradient. {'; '.join(said)}. "
        "The dark line is the latent's path, step by step"
        + (": the attack walks it out of its class's region towards another's." if any(flipped) else
           "; here it stays in its class's region for both models.")
        + "\n\n"
        "One example shows the mechanism, not a rate." + (f" {report}" if report else ""))
    return Step("An adversarial example and its path in latent space", text, figures, "adversarial",
                "Open the Adversarial page on these models")


def shift(lesson: Lesson) -> Step:
    corruption = DEFAULT_CORRUPTIONS[domain_of(lesson.dataset)][0]
    curves = {sources.source(path).name(side): cache.shift_curve(path, lesson.dataset, corruption, SHIFT_POINTS,
                                                                  lesson.seed)
              for side, path in lesson.models}
    severities = next(iter(curves.values()))["severity"]
    figures = [accuracy_vs(severities, {name: c[measure] for name, c in curves.items()}, "severity (0: clean)",
                           y_title=title, title=f"{title} under {corruption.replace('_', ' ')}")
               for measure, title in (("accuracy", "accuracy"), ("ece", f"ECE ({N_BINS} bins)"))]
    a, b = curves.values()
    n = min(len(cache.test_split(lesson.dataset).y), SHIFT_POINTS)
    report = claims_text(lesson.dataset, REPORT_CLAIMS)
    text = (
        f"The figures corrupt {n} test images with {corruption.replace('_', ' ')} of growing severity. At "
        f"severity 5, model A's accuracy is {a['accuracy'][-1]:.1%} (ECE {a['ece'][-1]:.3f}) and model B's "
        f"{b['accuracy'][-1]:.1%} (ECE {b['ece'][-1]:.3f}).\n\n"
        + (report or f"The results report has no measurements on {lesson.dataset}.") + wins_elsewhere(lesson.dataset)
        + "\n\n" + ood_text(lesson)
        + "\n\nThe Shift page also trains on a fraction of the data and draws the OOD inputs on the latent map.")
    table = claims_table(lesson.dataset, REPORT_CLAIMS)
    return Step("Shift and out-of-distribution: what the measurements say", text, figures, "shift",
                "Open the Shift, low data and OOD page on these models", table=table)


def ood_text(lesson: Lesson) -> str:
    """Where each model's out-of-distribution latents land among its class Gaussians, and so how its
    log p(z) ranks them (:func:`explorer.measure.ood.latent_placement`, :func:`explorer.measure.ood.cause_sentence`:
    a cause only where the figures show it), measured on the Shift page's inputs; a sentence saying the OOD
    set is unavailable where its files are missing (the rest of the step stands without it)."""
    other = dataset_info(lesson.dataset).ood
    versus = f"{other} test images" if other else f"uniform-noise images (seed {lesson.seed})"
    said = []
    for side, path in lesson.models:
        try:
            z_in, _, z_out = cache.ood_latents(path, lesson.dataset, SHIFT_POINTS, lesson.seed)
        except DatasetUnavailableError:
            return f"Out of distribution: the {versus} are unavailable here, so this step does not place them."
        placed = latent_placement(cache.gaussians(path, DEFAULT_COVARIANCE), z_in, z_out)
        said.append(f"For {side} ({sources.source(path).label}), "
                    f"{cause_sentence(placed.inside, placed.outside, placed.auroc)}.")
    return f"Out of distribution ({versus}), each model's OOD latents among its class Gaussians. " + " ".join(said)


STEPS: tuple[Callable[[Lesson], Step], ...] = (spokes, mismatch, variational, reliability, attack, shift)
TITLES = ("Softmax latents grow into spokes", "The Gaussians its layer implies", "VC: latents inside their Gaussians",
          "Reliability and temperature scaling", "An adversarial example", "Shift and out-of-distribution")
"""The steps in order, and their short names for the step picker."""


def steps(lesson: Lesson) -> list[Step]:
    """Every step, drawn in order."""
    return [make(lesson) for make in STEPS]
