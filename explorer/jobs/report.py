"""The results report as Markdown, and the README's results block, rendered from the raw results alone.

Every table, section and figure is computed here from ``results.json`` (read through
:class:`explorer.jobs.results.Results`): means and standard deviations over seeds, and the verdicts of
:mod:`explorer.jobs.verdicts`, so re-rendering after a new run can never leave a number behind. Figures
are static PNGs (plotly, exported through a headless Chrome or Chromium) so that the Markdown shows
them.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from explorer.core.config import COVARIANCE_NAMES, OBJECTIVE_DEFAULTS
from explorer.core.data import DATASETS, domain_of
from explorer.core.errors import ArgumentError
from explorer.jobs.results import AA_ARM, BEST, BOOTSTRAP, HEADLINE, POST_HOC, REFERENCE, TS, Results, post_hoc
from explorer.jobs.verdicts import AA, NAMES, NO_VERDICT, RULE, VC, Verdict, judged, tally
from explorer.measure.recalibration import N_FOLDS, RECALIBRATORS
from explorer.measure.intervals import LEVEL
from explorer.measure.ood import SCORES, cause_sentence

if TYPE_CHECKING:  # the figures tier loads plotly: imported where a figure is drawn, not with the report
    from explorer.figures.sweeps import SweepPanel


def _calls(n: int) -> str:
    """"1 call", "3 calls"."""
    return f"{n} call" + ("" if n == 1 else "s")


def fmt(values: np.ndarray, digits: int = 3, percent: bool = False) -> str:
    """mean ± std over seeds (sample std); "–" without values."""
    if not len(values):
        return "–"
    scale = 100 if percent else 1
    mean = scale * float(np.mean(values))
    if len(values) == 1:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {scale * float(np.std(values, ddof=1)):.{digits}f}"


def interval_text(verdict: Verdict, digits: int = 4) -> str:
    """The mean difference and its interval, "+0.0123 [+0.0045, +0.0201]"; of a verdict on paired values
    without one, that a single seed gives none."""
    if verdict.interval is None:
        return "one seed: no interval"
    mean, low, high, _ = verdict.interval
    return f"{mean:+.{digits}f} [{low:+.{digits}f}, {high:+.{digits}f}]"


def verdict_rows(results: Results, suite: str, pair: tuple[str, str] = VC) -> list[tuple[str, str, str, str, str]]:
    """(what, a, b, a − b with its interval, verdict) for the claims of METHOD.md
    (:func:`explorer.jobs.verdicts.judged`) on ``pair`` (VC against softmax unless said), the values as
    mean ± std over seeds; the verdict last."""
    return [(c.what, fmt(c.a, 4), fmt(c.b, 4),
             "–" if not len(c.a) or len(c.a) != len(c.b) else interval_text(v), v.verdict)
            for c, v in judged(results, suite, pair)]


def _bootstrapped(results: Results) -> bool:
    """Whether the run stored the paired bootstrap over test examples (:data:`BOOTSTRAP` rows)."""
    return any(len(results.conditions(suite, BOOTSTRAP)) for suite in results.suites)


def _has_best(results: Results) -> bool:
    """Whether the run recalibrated models by the recalibrator chosen on validation (``"+best"`` rows)."""
    return any(m.endswith(BEST) for suite in results.suites for m in results.methods(suite, aa=True))


BEST_WORDS = (f"*+best*: recalibrated by the post-hoc recalibrator (of {', '.join(RECALIBRATORS)}) with the lowest "
              f"{N_FOLDS}-fold cross-validated NLL on the model's validation split, refitted on all of it")
"""What a ``"+best"`` row is, as the report says it."""


def recalibrator_note(results: Results, suite: str) -> str:
    """Which recalibrator was chosen for each model of ``suite``, seed by seed; "" where none was recorded
    (results made before the choice was)."""
    chosen = []
    for method in results.methods(suite, aa=True):
        if picks := results.recalibrators(suite, method):
            arm = method.removesuffix(BEST)
            chosen.append(f"{NAMES.get(arm, arm)}: " + ", ".join(f"{name} (seed {seed})" for seed, name in picks))
    if not chosen:
        return ""
    return f"Recalibrator chosen on each model's validation split (*+best*): {'; '.join(chosen)}." + _against_ts(
        results, suite)


def _against_ts(results: Results, suite: str) -> str:
    """How the chosen recalibrators did on the test split against temperature scaling of the same models
    (test NLL, model by model, joined on the seed), with the worst case: a choice made on a small
    validation split can be worse on test than the simplest map. A model whose choice was temperature
    scaling is the same map; one missing either NLL is left out."""
    def clean_nll(method: str) -> dict[int, float]:
        return {row["seed"]: row["value"] for row in results.payload["rows"] if row["suite"] == suite
                and row["method"] == method and row["condition"] == "clean" and row["measure"] == "nll"}

    same, lower, higher = 0, 0, []  # higher: (difference, arm, seed, recalibrator, best NLL, ts NLL)
    for method in results.methods(suite, aa=True):
        if not method.endswith(BEST):
            continue
        arm = method.removesuffix(BEST)
        best, ts = clean_nll(method), clean_nll(f"{arm}{TS}")
        for seed, name in results.recalibrators(suite, method):
            b, t = best.get(seed, np.nan), ts.get(seed, np.nan)
            if name == "temperature":
                same += 1
            elif np.isfinite(b) and np.isfinite(t):
                lower += b <= t
                higher += [(b - t, arm, seed, name, b, t)] if b > t else []
    if not same + lower + len(higher):
        return ""
    text = (f" Test NLL of the chosen recalibrator against temperature scaling of the same model: lower for "
            f"{lower}, " + (f"the same for {same} (temperature chosen), " if same else "")
            + f"higher for {len(higher)} of {same + lower + len(higher)} models")
    if not higher:
        return text + "."
    _, arm, seed, name, b, t = max(higher)
    return text + f" (the largest gap: {NAMES.get(arm, arm)} seed {seed}, {name} {b:.3f} against {t:.3f})."


def post_hoc_tally(rows: Sequence[tuple[str, ...]], b: str = "softmax") -> str:
    """The verdicts of :func:`verdict_rows` against ``b`` temperature-scaled and against ``b``
    best-recalibrated, in one sentence; "" where the rows have no best-recalibrated comparison."""
    parts = []
    for suffix in (TS, BEST):
        said = f"against {POST_HOC[suffix]} {b}"
        counts = tally(row[-1] for row in rows if said in row[0])
        parts.append(f"{said}: wins {counts['wins']}, ties {counts['ties']}, loses {counts['loses']}")
    return "Of these, " + "; ".join(parts) + "." if any(f"against {POST_HOC[BEST]}" in row[0] for row in rows) else ""


def _has_aa(results: Results) -> bool:
    return any(AA_ARM in results.methods(suite, aa=True) for suite in results.suites)


def aa_section(results: Results) -> str:
    """The A/A check: the rule run on softmax against softmax trained on other seeds, its calls per
    suite and in all; what is missing where the run trained no A/A arm."""
    head = ("## A/A check: softmax against softmax\n\nThe same comparisons and the same rule, with softmax "
            f"trained on a second, disjoint set of seeds (*{AA_ARM}*) in VC's place. No method differs from "
            f"itself, so every *wins* or *loses* here is a false call: at a {LEVEL:.0%} level the rule should "
            f"make about {1 - LEVEL:.0%} of them.")
    if not _has_aa(results):
        return (head + "\n\nThis run trained no A/A arm (its plan predates it), so the rule has not been run "
                "A/A on these results; `tests/jobs/test_verdicts.py` runs it on simulated null data. The next "
                "`python -m explorer benchmark` trains it.")
    parts, calls, total = [head], 0, 0
    for suite in results.suites:
        rows = [row for row in verdict_rows(results, suite, AA) if row[-1] != NO_VERDICT]
        counts = tally(row[-1] for row in rows)
        calls += counts["wins"] + counts["loses"]
        total += len(rows)
        parts.append(f"### {suite}\n\n{_calls(counts['wins'] + counts['loses'])} in {len(rows)} comparisons "
                     f"(wins {counts['wins']}, ties {counts['ties']}, loses {counts['loses']}).\n\n"
                     + table(["measure", AA_ARM, "softmax", f"{AA_ARM} − softmax [{LEVEL:.0%} interval]", "verdict"],
                             rows))
    parts.insert(1, f"**{_calls(calls)} in {total} comparisons.**")
    return "\n\n".join(parts)


FIT = (("accuracy", "accuracy", 4), ("ece", "ECE", 4), ("nll", "NLL", 4), ("r2_ratio", "median r² ÷ χ² median", 3),
       ("mean_ks", "KS", 3))
"""(measure, column title, digits) of the table that shows validation and test side by side."""


def _text(results: Results) -> bool:
    """Whether every suite of the results is a text set's."""
    names = [s.get("dataset") for s in results.payload.get("plan", {}).get("suites", [])]
    return bool(names) and all(domain_of(name) == "text" for name in names)


def _trained(results: Results, suite: str) -> list[str]:
    """The suite's methods without the text reference (it is measured on the clean test split alone)."""
    return [m for m in results.methods(suite) if m != REFERENCE]


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A Markdown table: ``header`` and one line per row of cells."""
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def headline_table(results: Results, suite: str) -> str:
    """Clean test metrics per method; classwise ECE too where the suite has it (the text sets)."""
    columns = list(HEADLINE)
    if any(len(results.get(suite, m, "clean", "classwise_ece")) for m in results.methods(suite)):
        columns.insert(2, ("classwise_ece", "classwise ECE", False))
    return table(["method", *(title for _, title, _ in columns)], (
        [m, *(fmt(results.get(suite, m, "clean", k), 2 if k == "accuracy" else 4, percent=k == "accuracy")
              for k, _, _ in columns)] for m in results.methods(suite)))


def _severity_conditions(results: Results, suite: str) -> dict[int, list[str]]:
    """severity → the corrupted conditions of ``suite`` at that severity, severities ascending."""
    by_severity: dict[int, list[str]] = defaultdict(list)
    for _, level, c in results.corrupted(suite):
        by_severity[level].append(c)
    return dict(sorted(by_severity.items()))


def _corruption_conditions(results: Results, suite: str) -> dict[str, list[str]]:
    """corruption → its conditions of ``suite`` (one per severity), in the rows' order."""
    by_name: dict[str, list[str]] = defaultdict(list)
    for name, _, c in results.corrupted(suite):
        by_name[name].append(c)
    return dict(by_name)


def shift_table(results: Results, suite: str, measure: str) -> str:
    """Per method, ``measure`` on the clean split and averaged over the corruptions at each severity."""
    levels = _severity_conditions(results, suite)
    return table(["method", "clean", *(f"severity {s}" for s in levels)], (
        [m, fmt(results.get(suite, m, "clean", measure), 3),
         *(fmt(results.mean_over(suite, m, cs, measure), 3) for cs in levels.values())]
        for m in _trained(results, suite)))


def corruption_table(results: Results, suite: str, measure: str) -> str:
    """One row per corruption: each method's ``measure`` averaged over the severities, ± over seeds.
    Temperature scaling keeps the argmax, so accuracy leaves out the +ts methods (not the +best ones: the
    chosen map can move it)."""
    methods = [m for m in _trained(results, suite) if measure != "accuracy" or not m.endswith(TS)]
    return table(["corruption", *methods], (
        [name.replace("_", " "), *(fmt(results.mean_over(suite, m, cs, measure), 3) for m in methods)]
        for name, cs in _corruption_conditions(results, suite).items()))


def attack_table(results: Results, suite: str) -> str:
    """Robust accuracy per method under each FGSM and PGD ε; "" where the suite ran no attack."""
    conditions = results.conditions(suite, "fgsm") + results.conditions(suite, "pgd")
    if not conditions:
        return ""
    header = [c.replace("fgsm:", "FGSM ε=").replace(":", " ε=").replace("pgd", "PGD-") for c in conditions]
    methods = [m for m in results.methods(suite) if not post_hoc(m)]  # attacks meet the trained model alone
    return table(["method", *header], ([m, *(fmt(results.get(suite, m, c, "robust_accuracy"), 3) for c in conditions)]
                                       for m in methods))


def low_data_table(results: Results, suite: str) -> str:
    """Accuracy / ECE per method at each training fraction, the suite's own last; "" without low data."""
    conditions = results.conditions(suite, "fraction:")
    if not conditions and results.train_fraction(suite) == 1:  # no low-data run and the whole split
        return ""
    methods = [m for m in _trained(results, suite) if not post_hoc(m)]
    header = [f"{f:.0%}: acc / ECE" for f in [*(float(c.split(":")[1]) for c in conditions),
                                              results.train_fraction(suite)]]  # the last: the suite's own
    return table(["method", *header], (
        [m, *(f"{fmt(results.get(suite, m, c, 'accuracy'), 3)} / {fmt(results.get(suite, m, c, 'ece'), 3)}"
              for c in [*conditions, "clean"])] for m in methods))


def ood_table(results: Results, suite: str) -> str:
    """AUROC per out-of-distribution set and method for every score of
    :data:`explorer.measure.ood.SCORES` the results hold (``auroc_<score>`` rows: results written before
    the other scores hold max probability and log p(z) alone)."""
    conditions = results.conditions(suite, "ood:")
    methods = [m for m in _trained(results, suite) if not post_hoc(m)]
    scores = [k for k in SCORES if any(len(results.get(suite, m, c, f"auroc_{k}")) for m in methods for c in conditions)]
    rows = [[c.split(":")[1], m, *(fmt(results.get(suite, m, c, f"auroc_{k}"), 3) for k in scores)]
            for c in conditions for m in methods]
    return table(["out-of-distribution set", "method", *(f"AUROC, {SCORES[k]}" for k in scores)], rows)


OOD_PLACEMENT = "ood_placement"
"""The key of ``results.json`` that holds where a dataset's OOD latents land among the class Gaussians of
shipped models (written by ``benchmarks/explain_ood.py --into``; :func:`placement_note` reads it)."""


def placement_note(results: Results, suite: str) -> str:
    """Why VC's log p(z) ranks the suite's OOD set as it does, from where the OOD latents land among the
    class Gaussians of the models ``results.json`` holds under :data:`OOD_PLACEMENT` for the suite's
    dataset and latent dimension; "" without them. Stored models of the dataset at a d no suite of the
    results measures follow in a paragraph of their own, named by their d."""
    plan = results.plan_of(suite)
    dataset, d = plan.get("dataset"), plan.get("latent_dim")
    stored = results.payload.get(OOD_PLACEMENT, {})
    of_dataset = [row for row in stored.get("models", []) if row["in"] == dataset]
    placed = [row for row in of_dataset if row["d"] == d]
    if not placed:
        return ""
    out, into = placed[0]["out"], placed[0]["in"]
    vc = results.get(suite, "vc", f"ood:{out}", "auroc_log_density")
    said = [f"Where the {out} latents land among each shipped d = {d} model's class Gaussians, beside the {into} "
            f"latents (test latents of the shipped checkpoints, not the seeds above; `{stored['command']}`; each "
            f"cell {into} → {out}), and what that does to log p(z), whose AUROC for VC's seeds is {fmt(vc, 3)} "
            "above:", _placement_table(placed, out), _causes(placed)]
    shipped_vc = [row for row in placed if row.get("method") == "vc"]
    if len(vc) and np.mean(vc) < 0.5 and shipped_vc and all(r["auroc"]["log_density"] >= 0.5 for r in shipped_vc):
        said.append(f"The shipped VC checkpoint does not reproduce the seeds' below-chance {fmt(vc, 3)}: its {out} "
                    "latents score lower than its test latents, so the figures above do not explain the seeds' "
                    "figure.")
    measured = {results.plan_of(s).get("latent_dim") for s in results.suites
                if results.plan_of(s).get("dataset") == dataset}
    for other in sorted({row["d"] for row in of_dataset} - measured):
        rows = [row for row in of_dataset if row["d"] == other]
        said += [f"At d = {other} (no suite of this report measures {into} at d = {other}), the shipped models show:",
                 _placement_table(rows, rows[0]["out"]), _causes(rows)]
    return "\n\n".join(said)


def _placement_table(rows: list[dict], out: str) -> str:
    """The stored placement figures of :data:`OOD_PLACEMENT` rows, one model a line."""
    header = ["model (its Gaussians)", "median \\|z\\|", "median distance to the means' centre",
              "median r² to the nearest class", "share nearer than a typical latent", "median log p(z) (nats)",
              "log p(z) AUROC", "\\|z\\| AUROC", f"{out} nearest"]
    def shares(row: dict) -> str:
        return f"{row['inside']['closer_than_typical']:.0%} → {row['outside']['closer_than_typical']:.0%}"
    return table(header, ([f"{row['file']} ({row['gaussians']})", _pair(row, "norm", 2),
                           _pair(row, "centre_distance", 2),
                           _pair(row, "r2_nearest", 2) + f" (χ²_{row['d']} median {row['typical_r2']:.2f})",
                           shares(row), _pair(row, "log_density", 2), f"{row['auroc']['log_density']:.3f}",
                           f"{row['auroc']['norm']:.3f}",
                           ", ".join(f"{k} {v:.0%}" for k, v in row["nearest_classes"].items())] for row in rows))


def _causes(rows: list[dict]) -> str:
    """Per stored model, why its log p(z) ranks the OOD set as it does (:func:`explorer.measure.ood.cause_sentence`)."""
    return "\n".join(f"- {row['file']}: {cause_sentence(row['inside'], row['outside'], row['auroc'])}." for row in rows)


def _pair(row: dict, key: str, digits: int) -> str:
    """A placement measure in → out: "3.10 → 1.06"."""
    return f"{row['inside'][key]:.{digits}f} → {row['outside'][key]:.{digits}f}"


def implied_note(results: Results) -> str:
    """Which of softmax's implied Gaussians (METHOD.md §1) the latent fit and log p(z) rows use."""
    covariance = results.implied_covariance
    if covariance == "identity":
        return ("Softmax's rows use the Σ = I member of the Gaussians its linear layer implies, a convention of "
                "arbitrary scale that overstates the mismatch (METHOD.md §1): this results file was written "
                "before the fitted member was measured.")
    return (f"Softmax's rows use the member of the Gaussians its linear layer implies fitted by maximum "
            f"likelihood to each model's validation latents ({COVARIANCE_NAMES[covariance]}, METHOD.md §1).")


def fit_table(results: Results, suite: str) -> str:
    """The latent fit per method: median r² ratio, mean KS of the χ² check, discriminator KL estimate."""
    methods = [m for m in _trained(results, suite) if not post_hoc(m)]
    header = ["method", "median r² ÷ reference median", "mean KS of the χ² check", "discriminator KL estimate"]
    return table(header, (
        [m, fmt(results.get(suite, m, "clean", "r2_ratio"), 3), fmt(results.get(suite, m, "clean", "mean_ks"), 3),
         fmt(results.get(suite, m, "clean", "kl_estimate"), 2)] for m in methods))


def split_table(results: Results, suite: str) -> str:
    """Per method, validation and test side by side: accuracy, ECE, NLL and the latent fit."""
    methods = [m for m in results.methods(suite) if not post_hoc(m)]
    if not any(len(results.get(suite, m, "validation", "accuracy")) for m in methods):
        return ""
    return table(["method", *(f"{title}, {split}" for _, title, _ in FIT for split in ("val", "test"))], (
        [m, *(fmt(results.get(suite, m, condition, k), digits) for k, _, digits in FIT
              for condition in ("validation", "clean"))] for m in methods))


def performance_section(results: Results) -> str:
    """Times (epochs, evaluation, attacks, UMAP), the app's memory and first visit, and the machine."""
    perf = results.payload.get("performance", {})
    lines = []
    rows = []
    for suite in results.suites:
        soft, vc = (results.get(suite, m, "clean", "epoch_seconds") for m in ("softmax", "vc"))
        def pooled(conditions: Sequence[str], measure: str) -> np.ndarray:
            return np.concatenate([[], *(results.get(suite, m, c, measure) for m in results.methods(suite)
                                         for c in conditions)])

        speed = pooled(["clean"], "images_per_second")
        fgsm = pooled(results.conditions(suite, "fgsm"), "seconds_per_1000")
        pgd = pooled(results.conditions(suite, "pgd"), "seconds_per_1000")
        ratio = f"{np.mean(vc) / np.mean(soft):.2f}" if len(vc) and len(soft) else "–"
        rows.append([suite, fmt(soft, 2), fmt(vc, 2), ratio, f"{np.mean(speed):,.0f}" if len(speed) else "–",
                     fmt(fgsm, 2), fmt(pgd, 2)])
    if any(len(results.conditions(suite, "fgsm")) for suite in results.suites) or not _text(results):
        lines.append(table(["suite", "epoch, softmax (s)", "epoch, VC (s)", "VC ÷ softmax", "evaluation (images/s)",
                            "FGSM (s / 1000 images)", "PGD (s / 1000 images)"], rows))
    else:  # text: no attacks
        lines.append(table(["suite", "epoch, softmax (s)", "epoch, VC (s)", "VC ÷ softmax",
                            "evaluation (documents/s)"], (row[:5] for row in rows)))
    lines += [f"*Note on these times:* {note}" for note in results.payload.get("notes", [])]
    selection = {suite: seconds for suite in results.suites if len(seconds := np.concatenate(
        [[], *(results.get(suite, m, "validation", "recalibration_seconds") for m in results.methods(suite, aa=True))]))}
    if selection:
        lines.append(f"Choosing the *+best* recalibrator ({N_FOLDS}-fold cross-validation of {len(RECALIBRATORS)} "
                     "recalibrators on the validation logits, then the winner's refit), seconds per model"
                     + (" (in the separate pass that added them)" if results.payload.get("post_hoc_pass") else "")
                     + ": "
                     + "; ".join(f"{suite} {fmt(seconds, 1)}" for suite, seconds in selection.items()) + ".")
    umap = perf.get("umap") or []
    if umap:
        sizes = sorted({r["n"] for r in umap})
        kinds = list(dict.fromkeys(r["measure"] for r in umap))
        lookup = {(r["measure"], r["n"]): r["value"] for r in umap}
        lines.append(table(["latents", *(k.replace("_seconds", "").replace("_", ", ") + " (s)" for k in kinds)],
                           ([f"{n:,}", *(f"{lookup.get((k, n), float('nan')):.3g}" for k in kinds)] for n in sizes)))
    if perf.get("app_peak_rss_mb"):
        lines.append(f"Peak memory of one process running every page of the app on the MNIST models: "
                     f"**{perf['app_peak_rss_mb']:.0f} MB**.")
    if perf.get("app_first_visit"):
        first = perf["app_first_visit"]
        lines.append(f"First visit of a freshly started app server (`streamlit run explorer/Home.py`, headless "
                     f"Chromium, `benchmarks/bench_app.py` measures the same): Home's text after "
                     f"**{first['text']:.1f} s**, its figure after **{first['figure']:.1f} s**.")
    if perf.get("separate_pass"):
        lines.append("The UMAP, PCA, memory and first-visit figures were measured again in a separate pass after the run "
                     "(`python -m explorer benchmark --performance-only`); the epoch times are the run's.")
    m = perf.get("machine", {})
    if m:
        lines.append(f"Machine: {m.get('cpus')} CPUs ({m.get('cpu')}), torch {m.get('torch')} with "
                     f"{m.get('threads')} threads, Python {m.get('python')}, GPU: {m.get('gpu') or 'none'}.")
    return "\n\n".join(lines)


def figure_panels(results: Results, suite: str) -> list[SweepPanel]:
    """The panels of ``suite``'s figure (:class:`explorer.figures.sweeps.SweepPanel`), each a measure
    against a swept setting, per trained method (no recalibrated rows): accuracy and
    ECE against corruption severity (0: clean), robust accuracy against PGD's ε, accuracy against the
    training fraction (the last point: the suite's own), the test NLL after each epoch; [] for none."""
    from explorer.figures.sweeps import SweepPanel

    methods = [m for m in results.methods(suite) if not post_hoc(m)]
    specs = []  # (title, x title, y title, x, values over seeds at each x per method, log x)
    levels = _severity_conditions(results, suite)
    if levels:
        for measure, name in (("accuracy", "accuracy"), ("ece", "ECE")):
            specs.append((f"{name} under corruption (mean of all)", "severity", name, [0, *levels],
                          lambda m, measure=measure: [results.get(suite, m, "clean", measure),
                                                      *(results.mean_over(suite, m, cs, measure)
                                                        for cs in levels.values())], False))
    pgd = results.conditions(suite, "pgd")
    if pgd:
        specs.append(("robust accuracy, PGD", "ε (pixels in [0, 1])", "robust accuracy",
                      [float(c.split(":")[1]) for c in pgd],
                      lambda m: [results.get(suite, m, c, "robust_accuracy") for c in pgd], False))
    fractions = results.conditions(suite, "fraction:")
    if fractions:
        specs.append(("low data", "fraction of the training split", "accuracy",
                      [float(c.split(":")[1]) for c in fractions] + [results.train_fraction(suite)],
                      lambda m: [results.get(suite, m, c, "accuracy") for c in fractions]
                      + [results.get(suite, m, "clean", "accuracy")], True))
    epochs = results.conditions(suite, "epoch:")
    if epochs and any(len(results.get(suite, m, epochs[0], "test_nll")) for m in methods):
        specs.append(("test NLL after each epoch", "epoch", "NLL (nats)", [int(c.split(":")[1]) for c in epochs],
                      lambda m: [results.get(suite, m, c, "test_nll") for c in epochs], False))
    panels = []
    for title, x_title, y_title, x, series, log_x in specs:
        values = {m: series(m) for m in methods}
        panels.append(SweepPanel(
            title, x_title, y_title, x, log_x=log_x,
            means={m: [float(np.mean(v)) if len(v) else np.nan for v in vs] for m, vs in values.items()},
            stds={m: [float(np.std(v, ddof=1)) if len(v) > 1 else 0.0 for v in vs] for m, vs in values.items()}))
    return panels


def check_figures_can_be_written() -> None:
    """Raise :class:`explorer.core.errors.BrowserUnavailableError` now where the report's figures could
    not be written (no Chrome or Chromium): the benchmark asks before its run, not an hour later."""
    from explorer.figures.static import require_browser

    require_browser()


def figures(results: Results, out_dir: Path, write: bool = True) -> dict[str, list[Path]]:
    """{suite: [``out_dir/<suite as a file name>.png``]} for every suite that has :func:`figure_panels`;
    with ``write``, each suite's panels are drawn to its file, all in one browser session. Without
    Chrome or Chromium, a :class:`explorer.core.errors.BrowserUnavailableError` before any file is
    written."""
    panels = {suite: drawn for suite in results.suites if (drawn := figure_panels(results, suite))}
    # a plain file name: "mnist d=16, 10% × 30 epochs" -> "mnist-d-16-10-30-epochs"
    paths = {suite: out_dir / f"{re.sub(r'[^a-z0-9]+', '-', suite.lower()).strip('-')}.png" for suite in panels}
    if write:
        from explorer.figures.static import write_pngs
        from explorer.figures.sweeps import sweep_panels

        write_pngs({paths[suite]: sweep_panels(drawn, suite) for suite, drawn in panels.items()})
    return {suite: [path] for suite, path in paths.items()}


SECTION_NOTES = {
    "Latent fit": (
        "Three views of whether the latents follow the Gaussians, and they see different things. The "
        "discriminator is linear in z, like the one the authors' released step trains, and a linear T only "
        "sees where the latents sit, not how widely they spread: the log ratio of two Gaussians with "
        "different variances is quadratic in z. The χ² check and the median ratio see the spread. A small KL "
        "estimate together with a mean KS near 1 therefore means latents centred where their Gaussians are "
        "but spread differently; a median ratio far below 1, latents gathered inside them. The χ² "
        "histograms of the app's Latent space page show it."),
}
"""Text under a section's title: how to read its numbers."""
IMPLIED_SECTIONS = ("Out-of-distribution detection", "Latent fit")
"""Sections whose softmax rows depend on which implied Gaussians they use (:func:`implied_note`)."""
AFTER = {"Out-of-distribution detection": (placement_note,)}
"""Paragraphs a section prints after a suite's table, each ``f(results, suite) -> str`` ("": none)."""


def _sizing(plan: dict, wall_seconds: float, kept: int = 0) -> str:
    """The run's sizing in words, from its plan (results made before low-data runs matched steps say so)."""
    suites = plan.get("suites", [])

    def one(s: dict) -> str:
        fraction = s.get("train_fraction", 1)
        return (f"{s['dataset']} d = {s['latent_dim']}: {s['epochs']} epochs" if fraction == 1 else
                f"{s['dataset']} d = {s['latent_dim']}: {fraction:.0%} of the training split for {s['epochs']} epochs")

    rows = "images" if plan.get("eps", True) else "documents"  # a text plan runs no pixel attacks
    attacks = (f"attacks: {plan.get('attack_points')} test images, PGD with {plan.get('pgd_steps')} steps"
               if plan.get("eps", True) else "no attacks (pixel attacks do not apply to text)")
    text = (f"**Sizing.** Seeds {', '.join(map(str, plan.get('seeds', [])))}; {', '.join(map(one, suites))}. "
            f"Corruptions: {plan.get('corruption_points')} test {rows}; {attacks}; latent fit: "
            f"{plan.get('fit_points')} test {rows}. ")
    if plan.get("fractions") and any(s.get("low_data") for s in suites):
        fractions = ", ".join(f"{f:.0%}" for f in plan["fractions"])
        if any(isinstance(s.get("low_data"), list) for s in suites):  # arms named: steps matched
            text += (f"Low data: {fractions} of the training split (those below the suite's own share), each "
                     "trained for as many optimisation steps as the suite's run, so that they measure scarce "
                     "data, not shorter training. ")
        else:
            text += (f"Low data: {fractions} of the training split, each trained for the suite's epochs, so a "
                     "fraction f gets f of the optimisation steps: these figures mix scarce data with short "
                     "training. ")
    if plan.get("aa_seeds"):
        text += (f"A/A arm (*{AA_ARM}*): softmax again on every suite with seeds "
                 f"{', '.join(map(str, plan['aa_seeds']))}, the i-th beside the i-th seed above. ")
    if plan.get("bootstrap_resamples", 0) >= 2:
        text += (f"Paired bootstrap of each clean comparison: {plan['bootstrap_resamples']} resamples of the "
                 f"test {rows}. ")
    if plan.get("epoch_points"):
        text += f"Test NLL after every epoch: {plan['epoch_points']} test {rows}. "
    if plan.get("workers", 1) > 1:
        text += (f"The units (a suite and a seed) ran in {plan['workers']} processes of one thread each, side by "
                 "side: every time below is a one-thread figure. ")
    if kept:
        return text + (f"Wall time of the last run: {wall_seconds / 60:.0f} minutes, besides the {kept} units an "
                       "earlier, stopped run of the same plan had finished.")
    return text + f"Wall time of this run: {wall_seconds / 60:.0f} minutes."


def _post_hoc_pass(payload: dict) -> str:
    """How the recalibrated rows were added after the run (:func:`explorer.jobs.benchmark.add_post_hoc`),
    if they were; "" otherwise."""
    done = payload.get("post_hoc_pass")
    if not done:
        return ""
    return (f" The *+best* rows were measured in a separate pass (`benchmark --add-post-hoc`, "
            f"{done['wall_seconds'] / 60:.0f} minutes), which trained {', '.join(done['arms'])} again with this "
            f"plan and these seeds and measured only their training, calibration and paired bootstrap: the "
            f"{done['checked']:,} "
            f"numbers it measured again (times aside) matched this file's, the largest relative difference "
            f"{done['largest_difference']:.1g}, so its rows are of the same models.")


def _own_vc(plan: dict) -> str:
    """The suites' datasets whose VC default differs from the objective's own (DatasetInfo.paper_vc)."""
    names = dict.fromkeys(suite["dataset"] for suite in plan.get("suites", []))
    own = [(name, DATASETS[name].paper_vc) for name in names if name in DATASETS and DATASETS[name].paper_vc]
    words = {"kl_estimator": "the {} estimator", "lambda_kl": "λ_kl = {:g}"}
    return "".join(f"; on {name}, " + " at ".join(words.get(k, k + " = {}").format(v) for k, v in vc.items())
                   for name, vc in own)


def render(results: Results, figure_dir: Path, figure_link: str, write_figures: bool = True) -> str:
    """The whole report as Markdown; figures are written to ``figure_dir`` (unless ``write_figures`` is
    False: the text alone, the same text) and linked as ``figure_link/<name>.png``."""
    plan = results.payload.get("plan", {})
    pngs = figures(results, figure_dir, write=write_figures)
    parts = ["# Results: does VC keep its promises against softmax?", (
        "Generated by `python -m explorer benchmark` from `results/results.json` (raw numbers, also as "
        "`results/results.csv`); nothing below is typed in. Every method uses the same encoder, data, "
        "budget and seeds; hyperparameters are the defaults of `explorer/core/data/registry.py` and "
        "`explorer/core/config.py`, chosen on validation splits (see the docstrings there), and "
        "temperature scaling fits T on each model's validation split. Means ± standard deviations over "
        "seeds. *vc* is the project's VC: the paper's objective, with the prior fitted to detached latents "
        f"and the closed-form moment KL (λ_kl = {OBJECTIVE_DEFAULTS['paper']['lambda_kl']:g}"
        f"{_own_vc(plan)}); *vc-released* is "
        "the authors' released step (prior term on the encoder's latents, linear discriminator, λ_kl = "
        f"{OBJECTIVE_DEFAULTS['released']['lambda_kl']:g}), kept for comparison; *+ts*: temperature-scaled"
        + (f"; {BEST_WORDS}." if _has_best(results) else "."))]
    suites = plan.get("suites", [])
    parts.append(_sizing(plan, results.payload.get("wall_seconds", 0), results.payload.get("kept_units", 0))
                 + _post_hoc_pass(results.payload))
    scope = ("The clean rows' intervals include the paired bootstrap over test examples." if _bootstrapped(results)
             else "This run stored no bootstrap over test examples (it predates it): every interval is over "
                  "seeds only, and the clean rows' are narrower than they should be.")
    against = ("temperature-scaled softmax, and against softmax recalibrated by the best post-hoc recalibrator "
               "chosen on its validation split, *best-recalibrated*" if _has_best(results) else
               "temperature-scaled softmax")
    parts.append("## Where VC wins, ties and loses\n\nVC against softmax (and, where the row says so, against "
                 f"{against}), suite by suite. {RULE} {scope}")
    for suite in results.suites:
        rows = verdict_rows(results, suite)
        counts = tally(row[-1] for row in rows)
        said = [f"VC wins {counts['wins']}, ties {counts['ties']}, loses {counts['loses']}.", post_hoc_tally(rows),
                recalibrator_note(results, suite)]
        parts.append(f"### {suite}\n\n{' '.join(filter(None, said))}\n\n"
                     + table(["measure", "VC", "softmax", f"VC − softmax [{LEVEL:.0%} interval]", "verdict for VC"],
                             rows))
    parts.append(aa_section(results))
    parts.append("## Clean test split")
    parts += [f"### {suite}\n\n{headline_table(results, suite)}" for suite in results.suites]
    splits = {s: split_table(results, s) for s in results.suites}
    if any(splits.values()):
        parts.append("## Validation and test: accuracy, calibration and latent fit\n\nThe validation split is "
                     "the part of the training split each model held out (what choices are made on); the test "
                     "split is where the claims are measured. Median r² ÷ χ² median is 1, and KS near 0, when "
                     "the latents follow their class Gaussians (METHOD.md §4). " + implied_note(results) + "\n\n"
                     + "\n\n".join(f"### {s}\n\n{text}" for s, text in splits.items() if text))
    for title, render_one in (("Distribution shift: accuracy (mean over corruptions)",
                               lambda s: shift_table(results, s, "accuracy")),
                              ("Distribution shift: ECE (mean over corruptions)",
                               lambda s: shift_table(results, s, "ece")),
                              ("Distribution shift, corruption by corruption: accuracy (mean over severities)",
                               lambda s: corruption_table(results, s, "accuracy")),
                              ("Distribution shift, corruption by corruption: ECE (mean over severities)",
                               lambda s: corruption_table(results, s, "ece")),
                              ("Adversarial robustness: robust accuracy", lambda s: attack_table(results, s)),
                              ("Low data", lambda s: low_data_table(results, s)),
                              ("Out-of-distribution detection", lambda s: ood_table(results, s)),
                              ("Latent fit", lambda s: fit_table(results, s))):
        tables = {s: render_one(s) for s in results.suites}
        chunks = ["\n\n".join(filter(None, [f"### {s}", text, *(after(results, s) for after in AFTER.get(title, ()))]))
                  for s, text in tables.items() if text.count("\n") > 1]  # rows, not a header
        if chunks:
            notes = [SECTION_NOTES[title]] if title in SECTION_NOTES else []
            if title in IMPLIED_SECTIONS:
                notes.append(implied_note(results))
            parts.append("\n\n".join([f"## {title}", *notes, *chunks]))
    if pngs:
        parts.append("## Figures\n\n" + "\n\n".join(f"![{suite}]({figure_link}/{p.name})"
                                                    for suite, paths in pngs.items() for p in paths))
    parts.append("## Performance\n\n" + performance_section(results))
    text = _text(results)
    if text and any(len(results.get(s, "tfidf+logreg", "clean", "accuracy")) for s in results.suites):
        parts.insert(2, "*tfidf+logreg* is the reference: scikit-learn's TF-IDF (sublinear tf, words in at "
                        "least 2 training documents) and logistic regression (C = 10), fitted once on the same "
                        "training split (it is deterministic).")
    if not text and not any(s.get("dataset") == "cifar10" for s in suites):
        parts.append("## CIFAR-10\n\nResNet-18 on CIFAR-10 (d = 64, 30 epochs, 3 seeds, the same measures) is "
                     "`python -m explorer benchmark --cifar10 --out-dir docs/cifar10`. It needs a GPU: none "
                     "was available for this report, so it has not been run, and neither has "
                     "`benchmarks/bench_gpu.py` (ResNet-18's training throughput with and without bf16 "
                     "autocast and `torch.compile`, on uint8 images crop-flipped on the GPU).")
    return "\n\n".join(parts) + "\n"


README_START, README_END = "<!-- results:start -->", "<!-- results:end -->"


def readme_block(results: Results, link: str = "docs/results.md") -> str:
    """The README's results section: VC's tally on every suite, and the clean metrics of every method on
    the headline suite, the plan's first."""
    headline = results.suites[0]
    tallies = []
    for suite in results.suites:
        rows = verdict_rows(results, suite)
        counts = ", ".join(f"{v} {n}" for v, n in tally(row[-1] for row in rows).items())
        tallies.append(f"- **{suite}**: VC against softmax on {len(rows)} measures: {counts}.")
    if _has_aa(results):
        aa = [row[-1] for suite in results.suites for row in verdict_rows(results, suite, AA) if row[-1] != NO_VERDICT]
        tallies.append(f"- A/A check (softmax against softmax on other seeds, the same rule): "
                       f"{_calls(sum(v != 'ties' for v in aa))} in {len(aa)} comparisons.")
    seeds = len(results.payload.get("plan", {}).get("seeds", [])) or "the"
    return "\n\n".join([
        README_START,
        f"From [the results report]({link}), regenerated by `python -m explorer benchmark`. A verdict is "
        f"paired seed by seed over {seeds} seeds: *wins* or *loses* only where the {LEVEL:.0%} interval of the "
        "mean difference excludes 0"
        + ("" if _bootstrapped(results) else " (over seeds only: this run predates the bootstrap over test "
                                            "examples)")
        + "; the table gives means ± standard deviations over seeds.",
        "\n".join(tallies),
        f"Clean test split, **{headline}**:\n\n{headline_table(results, headline)}",
        README_END])


def update_readme(path: str | Path, results: Results) -> None:
    """Replace the block between :data:`README_START` and :data:`README_END` in the README at ``path``."""
    path = Path(path)
    text = path.read_text()
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        raise ArgumentError(f"{path} has no {README_START} ... {README_END} block to update")
    path.write_text(text[:start] + readme_block(results) + text[end + len(README_END):])
