"""The report is computed from the raw results: its tables follow the rows, never typed-in numbers."""

import json
from pathlib import Path

import numpy as np
import pytest

from explorer.cli import main
from explorer.core.errors import BrowserUnavailableError
from explorer.figures.static import browser
from explorer.jobs.report import README_END, README_START, corruption_table, figure_panels, fmt, headline_table, \
    readme_block, render, shift_table, update_readme, verdict_rows
from explorer.jobs.results import Results
from explorer.jobs.verdicts import comparisons, tally

ROOT = Path(__file__).resolve().parents[2]


def rows(**values):
    """Rows of one suite: values[method] = per-seed accuracies (clean)."""
    return [{"suite": "s d=16", "dataset": "s", "d": 16, "method": m, "seed": i, "condition": "clean",
             "measure": "accuracy", "value": v} for m, vs in values.items() for i, v in enumerate(vs)]


def test_fmt_gives_mean_and_sample_std():
    assert fmt(np.array([0.5, 0.7])) == "0.600 ± 0.141"
    assert fmt(np.array([0.25]), percent=True, digits=1) == "25.0"
    assert fmt(np.array([])) == "–"


def test_each_row_is_a_comparison_judged_by_the_rule_and_formatted():
    results = Results({"rows": rows(softmax=[0.90, 0.92], vc=[0.95, 0.97])
                       + [{**r, "condition": "pgd10:0.1", "measure": "robust_accuracy"}
                          for r in rows(softmax=[0.5, 0.5], vc=[0.4, 0.4])]})
    claims = comparisons(results, "s d=16")
    judged = verdict_rows(results, "s d=16")
    assert [c.what for c in claims] == [row[0] for row in judged]
    # +0.05 at both seeds: no spread, the interval is the point
    assert judged[0] == ("accuracy (clean)", "0.9600 ± 0.0141", "0.9100 ± 0.0141", "+0.0500 [+0.0500, +0.0500]",
                         "wins")
    assert judged[-1][1:] == ("0.4000 ± 0.0000", "0.5000 ± 0.0000", "-0.1000 [-0.1000, -0.1000]", "loses")
    assert judged[1][1:] == ("–", "–", "–", "–")  # ECE was not measured
    assert tally(row[-1] for row in judged) == {"wins": 1, "ties": 0, "loses": 1}
    one_seed = verdict_rows(Results({"rows": rows(softmax=[0.9], vc=[0.8])}), "s d=16")[0]
    assert one_seed[3:] == ("one seed: no interval", "–")


def test_the_report_runs_the_rule_aa_and_says_when_it_could_not(tmp_path):
    from explorer.jobs.results import AA_ARM

    plan = {"seeds": [0, 1, 2], "suites": []}
    base = rows(softmax=[0.90, 0.92, 0.91], vc=[0.95, 0.97, 0.96])
    text = render(Results({"plan": plan, "rows": base}), tmp_path, "results", write_figures=False)
    assert "## A/A check" in text and "trained no A/A arm" in text and "over seeds only" in text
    aa = Results({"plan": plan, "rows": base + rows(**{AA_ARM: [0.80, 0.82, 0.81]})})  # a made-up false call
    text = render(aa, tmp_path, "results", write_figures=False)
    assert "**1 call in 1 comparisons.**" in text and "trained no A/A arm" not in text
    assert "A/A check (softmax against softmax on other seeds, the same rule): 1 call in 1 comparisons." \
        in readme_block(aa)


def test_headline_table_follows_the_rows():
    results = Results({"rows": rows(softmax=[0.9, 0.92], vc=[0.95, 0.97])})
    text = headline_table(results, "s d=16")
    assert "| softmax | 91.00 ± 1.41 |" in text and "| vc | 96.00 ± 1.41 |" in text


def test_corruption_table_averages_each_corruption_over_its_severities():
    raw = [{"suite": "s d=16", "method": m, "seed": seed, "condition": f"{name}:{level}", "measure": "accuracy",
            "value": value + 0.1 * seed}
           for m, name, values in (("softmax", "rotation", (0.9, 0.5)), ("vc", "rotation", (0.8, 0.6)),
                                   ("softmax", "gaussian_noise", (0.7, 0.7)), ("vc", "gaussian_noise", (0.4, 0.2)),
                                   ("vc+ts", "rotation", (0.8, 0.6)))
           for level, value in enumerate(values, start=1) for seed in (0, 1)]
    text = corruption_table(Results({"rows": raw}), "s d=16", "accuracy")
    assert text.splitlines()[0] == "| corruption | softmax | vc |"  # +ts keeps the argmax: left out
    assert "| rotation | 0.750 ± 0.071 | 0.750 ± 0.071 |" in text
    assert "| gaussian noise | 0.750 ± 0.071 | 0.350 ± 0.071 |" in text


def test_the_severity_table_reads_corruptions_alone():
    """Other conditions also read "name:number" (the NLL after epoch 7, PGD at ε): never severities."""
    raw = [{"suite": "s d=16", "method": "vc", "seed": 0, "condition": condition, "measure": "accuracy", "value": 0.5}
           for condition in ("clean", "rotation:1", "rotation:2", "epoch:7", "pgd10:0.1", "fraction:0.1")]
    text = shift_table(Results({"rows": raw}), "s d=16", "accuracy")
    assert text.splitlines()[0] == "| method | clean | severity 1 | severity 2 |"


def test_the_rendered_report_changes_with_the_raw_results(tmp_path):
    payload = {"plan": {"seeds": [0, 1], "suites": []}, "rows": rows(softmax=[0.9, 0.92], vc=[0.95, 0.97])}
    first = render(Results(payload), tmp_path, "results")
    payload["rows"][-1]["value"] = 0.5
    second = render(Results(payload), tmp_path, "results")
    assert "96.00 ± 1.41" in first and "96.00" not in second and "72.50 ± 31.82" in second


def test_the_performance_section_prints_the_first_visit_when_it_was_measured(tmp_path):
    from explorer.jobs.report import performance_section

    payload = {"plan": {"seeds": [0], "suites": []}, "rows": rows(softmax=[0.9], vc=[0.8]),
               "performance": {"app_first_visit": {"text": 1.04, "figure": 4.66}}}
    assert "Home's text after **1.0 s**, its figure after **4.7 s**" in performance_section(Results(payload))
    payload["performance"]["app_first_visit"] = None  # no Chromium where the run was made
    assert "First visit" not in performance_section(Results(payload))


def test_report_only_rerenders_from_the_committed_raw_results(tmp_path):
    raw = tmp_path / "results"
    raw.mkdir()
    (raw / "results.json").write_text(json.dumps({"plan": {"seeds": [0]}, "rows": rows(softmax=[0.9], vc=[0.8])}))
    assert main(["benchmark", "--report-only", "--out-dir", str(tmp_path)]) == 0
    assert "| vc | 80.00 |" in (tmp_path / "results.md").read_text()


def test_a_note_on_the_times_is_kept_in_the_raw_results_and_printed_under_them(tmp_path):
    raw = tmp_path / "results"
    raw.mkdir()
    (raw / "results.json").write_text(json.dumps({"plan": {"seeds": [0]}, "rows": rows(softmax=[0.9], vc=[0.8])}))
    assert main(["benchmark", "--report-only", "--out-dir", str(tmp_path), "--note", "measured on a  busy machine"]) == 0
    assert json.loads((raw / "results.json").read_text())["notes"] == ["measured on a busy machine"]
    assert "*Note on these times:* measured on a busy machine" in (tmp_path / "results.md").read_text()
    assert main(["benchmark", "--report-only", "--out-dir", str(tmp_path)]) == 0  # kept, not asked again
    assert (tmp_path / "results.md").read_text().count("*Note on these times:*") == 1


def test_update_readme_replaces_only_the_marked_block(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n\n{README_START}\nold\n{README_END}\n\noutro\n")
    update_readme(readme, Results({"rows": rows(softmax=[0.9, 0.92], vc=[0.95, 0.97])}))
    text = readme.read_text()
    assert text.startswith("intro\n\n") and text.endswith("\n\noutro\n") and "old" not in text
    assert "| vc | 96.00 ± 1.41 |" in text
    readme.write_text("no markers")
    with pytest.raises(ValueError, match="no <!-- results:start -->"):
        update_readme(readme, Results({"rows": rows(softmax=[0.9])}))


def test_the_readme_and_the_report_show_the_committed_results(tmp_path):
    committed = ROOT / "docs" / "results" / "results.json"
    block = readme_block(Results.load(committed))
    assert block in (ROOT / "README.md").read_text()
    text = render(Results.load(committed), tmp_path, "results", write_figures=False)
    assert (ROOT / "docs" / "results.md").read_text() == text and list(tmp_path.iterdir()) == []


@pytest.mark.skipif(browser() is None, reason="no Chrome or Chromium to export the figures (apt-get install chromium)")
def test_the_report_with_its_figures_is_the_committed_one(tmp_path):
    committed = ROOT / "docs" / "results" / "results.json"
    assert (ROOT / "docs" / "results.md").read_text() == render(Results.load(committed), tmp_path, "results")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in (ROOT / "docs" / "results").glob("*.png"))


def test_each_suite_figure_has_a_panel_per_swept_setting_with_mean_and_std_over_seeds():
    raw = [{"suite": "s d=16", "method": m, "seed": seed, "condition": c, "measure": k, "value": v + 0.1 * seed}
           for m in ("softmax", "vc", "vc+ts")
           for c, k, v in (("clean", "accuracy", 0.9), ("clean", "ece", 0.1), ("rotation:1", "accuracy", 0.8),
                           ("rotation:1", "ece", 0.2), ("pgd10:0.1", "robust_accuracy", 0.3),
                           ("fraction:0.1", "accuracy", 0.7), ("epoch:1", "test_nll", 0.5))
           for seed in (0, 1)]
    raw += [{"suite": "s d=16", "method": "vc", "seed": 0, "condition": "rotation:2", "measure": "accuracy",
             "value": 0.6}]  # one seed: no error bar; softmax not measured there: a gap
    panels = figure_panels(Results({"rows": raw}), "s d=16")
    assert [p.title for p in panels] == ["accuracy under corruption (mean of all)",
                                         "ECE under corruption (mean of all)", "robust accuracy, PGD", "low data",
                                         "test NLL after each epoch"]
    accuracy = panels[0]
    assert list(accuracy.means) == ["softmax", "vc"]  # temperature scaling keeps the argmax: left out
    assert accuracy.x == [0, 1, 2] and np.allclose(accuracy.means["vc"], [0.95, 0.85, 0.6])
    assert np.allclose(accuracy.stds["vc"], [np.std([0.9, 1.0], ddof=1)] * 2 + [0])
    assert np.isnan(accuracy.means["softmax"][2])
    assert panels[3].log_x and panels[3].x == [0.1, 1.0] and not panels[0].log_x
    assert figure_panels(Results({"rows": raw[:2]}), "s d=16") == []  # clean accuracy alone: nothing to draw


def test_without_a_browser_the_report_refuses_before_writing_anything(tmp_path, monkeypatch):
    from choreographer.browsers import Chromium

    monkeypatch.setattr(Chromium, "find_browser", classmethod(lambda cls, **kwargs: None))
    monkeypatch.delenv("BROWSER_PATH", raising=False)
    raw = tmp_path / "results"
    raw.mkdir()
    rows_ = rows(softmax=[0.9, 0.92], vc=[0.95, 0.97])
    (raw / "results.json").write_text(json.dumps({"plan": {"seeds": [0, 1]}, "rows": rows_ + [
        {**r, "condition": "pgd10:0.1", "measure": "robust_accuracy"} for r in rows_]}))
    (tmp_path / "results.md").write_text("the older report")
    with pytest.raises(BrowserUnavailableError, match="apt-get install chromium"):
        render(Results.load(raw / "results.json"), raw, "results")
    assert main(["benchmark", "--report-only", "--out-dir", str(tmp_path)]) == 1
    assert (tmp_path / "results.md").read_text() == "the older report"
    assert sorted(p.name for p in raw.iterdir()) == ["results.json"]


def test_the_report_names_the_best_recalibrator_comparisons_and_the_winners_and_old_results_render_without(tmp_path):
    from explorer.jobs.results import AA_ARM

    plan = {"seeds": [0, 1], "aa_seeds": [2, 3], "suites": []}
    old = rows(softmax=[0.90, 0.92], vc=[0.95, 0.97], **{AA_ARM: [0.91, 0.90]})
    old += [{**r, "measure": "nll"} for r in rows(**{"softmax+ts": [0.30, 0.31], "vc": [0.20, 0.22]})]
    text = render(Results({"plan": plan, "rows": old}), tmp_path, "results", write_figures=False)
    assert "NLL (clean), VC against temperature-scaled softmax" in text
    assert "best" not in text and "Recalibrator chosen" not in text  # a file from before: left out, no error
    new = old + [{**r, "measure": "nll"} for r in rows(**{"softmax+best": [0.25, 0.26], "vc+best": [0.18, 0.19],
                                                           AA_ARM: [0.31, 0.30], f"{AA_ARM}+best": [0.26, 0.25]})]
    for method, seed, name in (("softmax+best", 0, "vector"), ("softmax+best", 1, "temperature"),
                               ("vc+best", 0, "matrix"), ("vc+best", 1, "matrix"), (f"{AA_ARM}+best", 2, "isotonic"),
                               (f"{AA_ARM}+best", 3, "vector")):
        new += [{"suite": "s d=16", "method": method, "seed": seed, "condition": "validation", "measure": measure,
                 "value": value} for measure, value in ((f"recalibrator:{name}", 1.0),
                                                        ("recalibration_seconds", 10.0 + seed))]
    results = Results({"plan": plan, "rows": new})
    text = render(results, tmp_path, "results", write_figures=False)
    assert "*+best*: recalibrated by the post-hoc recalibrator (of temperature, vector, matrix, dirichlet, " \
           "histogram, isotonic) with the lowest 5-fold cross-validated NLL" in text
    assert "| NLL (clean), VC against best-recalibrated softmax | 0.2100 ± 0.0141 | 0.2550 ± 0.0071 |" in text
    assert "| NLL (clean), both best-recalibrated | 0.1850 ± 0.0071 | 0.2550 ± 0.0071 |" in text
    assert ("Of these, against temperature-scaled softmax: wins 1, ties 0, loses 0; against best-recalibrated "
            "softmax: wins 0, ties 1, loses 0.") in text
    assert ("Recalibrator chosen on each model's validation split (*+best*): softmax: vector (seed 0), temperature "
            "(seed 1); softmax': isotonic (seed 2), vector (seed 3); VC: matrix (seed 0), matrix (seed 1).") in text
    assert "softmax' against best-recalibrated softmax" not in text  # no A/A null: two methods
    assert "| softmax+best | – | – | – | 0.2550 ± 0.0071 | – |" in headline_table(results, "s d=16")
    assert "seconds per model: s d=16 11.2 ± 1.2." in text


def test_the_report_says_where_the_chosen_recalibrator_did_worse_on_test_than_temperature_scaling():
    from explorer.jobs.report import recalibrator_note

    nll = [{**r, "measure": "nll"} for r in rows(**{"softmax+best": [0.25, 0.40], "vc+best": [0.20, 0.21],
                                                    "vc+ts": [0.20, 0.21], "softmax'+best": [0.5]})]
    nll += [{**r, "measure": "nll"} for r in reversed(rows(**{"softmax+ts": [0.30, 0.31]}))]  # joined on the seed
    picks = [{"suite": "s d=16", "method": method, "seed": seed, "condition": "validation",
              "measure": f"recalibrator:{name}", "value": 1.0}
             for method, seed, name in (("softmax+best", 0, "vector"), ("softmax+best", 1, "isotonic"),
                                        ("vc+best", 0, "temperature"), ("vc+best", 1, "temperature"),
                                        ("softmax'+best", 0, "matrix"))]  # no softmax'+ts: left out
    note = recalibrator_note(Results({"rows": nll + picks}), "s d=16")
    assert note.endswith("Test NLL of the chosen recalibrator against temperature scaling of the same model: lower "
                         "for 1, the same for 2 (temperature chosen), higher for 1 of 4 models (the largest gap: "
                         "softmax seed 1, isotonic 0.400 against 0.310).")
    assert recalibrator_note(Results({"rows": nll}), "s d=16") == ""  # no choice recorded: nothing to say


def _ood_rows(measures: dict[str, dict[str, list[float]]]) -> list[dict]:
    """OOD rows of suite "s d=16" against "t": measures[method][measure] = per-seed values."""
    return [{"suite": "s d=16", "dataset": "s", "d": 16, "method": m, "seed": i, "condition": "ood:t", "measure": k,
             "value": v} for m, by in measures.items() for k, vs in by.items() for i, v in enumerate(vs)]


def test_the_ood_table_shows_every_score_the_results_hold_and_old_results_their_two():
    from explorer.jobs.report import ood_table

    old = Results({"rows": _ood_rows({"softmax": {"auroc_max_softmax": [0.9, 0.92], "auroc_log_density": [0.6, 0.62]},
                                      "vc": {"auroc_max_softmax": [0.95, 0.97], "auroc_log_density": [0.4, 0.44]}})})
    lines = ood_table(old, "s d=16").splitlines()
    assert lines[0] == ("| out-of-distribution set | method | AUROC, max-softmax probability | "
                        "AUROC, latent density log p(z) |")
    assert "| t | vc | 0.960 ± 0.014 | 0.420 ± 0.028 |" in lines
    new = Results({"rows": _ood_rows({"vc": {"auroc_max_softmax": [0.9], "auroc_energy": [0.5],
                                             "auroc_mahalanobis": [0.7], "auroc_log_density": [0.4]}})})
    lines = ood_table(new, "s d=16").splitlines()
    assert lines[0] == ("| out-of-distribution set | method | AUROC, max-softmax probability | AUROC, energy (T = 1) | "
                        "AUROC, Mahalanobis, max_k −r²_k | AUROC, latent density log p(z) |")
    assert lines[2] == "| t | vc | 0.900 | 0.500 | 0.700 | 0.400 |"


def test_the_placement_note_is_written_from_the_stored_figures_of_the_suites_dataset_and_d():
    from explorer.jobs.report import OOD_PLACEMENT, placement_note

    rows_ = _ood_rows({"vc": {"auroc_max_softmax": [0.9, 0.92], "auroc_log_density": [0.4, 0.44]}})
    plan = {"suites": [{"dataset": "s", "latent_dim": 16}]}
    assert placement_note(Results({"plan": plan, "rows": rows_}), "s d=16") == ""

    def side(norm, r2, share, log_density, log_det=0.0):
        return {"norm": norm, "centre_distance": norm + 0.5, "r2_nearest": r2, "closer_than_typical": share,
                "nearest_log_det": log_det, "log_density": log_density}

    low = {"file": "low.pt", "method": "vc", "in": "s", "out": "t", "n_in": 10, "n_out": 10, "gaussians": "its prior",
           "inside": side(3.25, 1.5, 0.5, -4.5), "outside": side(1.125, 0.5, 0.875, -3.25), "typical_r2": 1.39,
           "nearest_classes": {"one": 0.5}, "auroc": {"log_density": 0.125, "mahalanobis": 0.25, "norm": 0.875},
           "d": 2}
    high = {**low, "file": "high.pt", "d": 16, "typical_r2": 15.34, "inside": side(4.75, 14.5, 0.5, -24.0),
            "outside": side(4.5, 17.75, 0.375, -25.0),
            "auroc": {"log_density": 0.625, "mahalanobis": 0.625, "norm": 0.625}}
    other = {**high, "in": "u"}  # another dataset's: not this suite's
    only_low = {OOD_PLACEMENT: {"command": "c", "models": [low, other]}}
    # the suite's d has no stored rows: no note, the d = 2 model's figures are not the d = 16 suite's
    assert placement_note(Results({"plan": plan, "rows": rows_, **only_low}), "s d=16") == ""

    stored = {OOD_PLACEMENT: {"command": "python benchmarks/explain_ood.py", "models": [low, high, other]}}
    note = placement_note(Results({"plan": plan, "rows": rows_, **stored}), "s d=16")
    ours, _, at_two = note.partition("At d = 2")
    assert "`python benchmarks/explain_ood.py`" in ours and "0.420 ± 0.028" in ours
    assert ours.count("| high.pt (its prior) |") == 1 and "low.pt" not in ours
    assert "| high.pt (its prior) | 4.75 → 4.50 | 5.25 → 5.00 | 14.50 → 17.75 (χ²_16 median 15.34) | 50% → 38% | " \
           "-24.00 → -25.00 | 0.625 | 0.625 | one 50% |" in ours
    assert "high.pt: log p(z) ranks the OOD latents below the test latents (AUROC 0.625): they land farther from " \
           "the nearest class mean (median r² 14.50 → 17.75)." in ours
    assert "does not reproduce the seeds' below-chance 0.420 ± 0.028" in ours
    # the d = 2 model in its own paragraph, its cause read from its figures: nearer and collapsed
    assert at_two.count("| low.pt (its prior) |") == 1
    assert "low.pt: log p(z) ranks the OOD latents above the test latents (AUROC 0.125): they land nearer" in at_two
    assert "collapse toward the centre of the class means (median distance 3.75 → 1.62" in at_two
    assert "tighter" not in at_two  # equal log det: not shown
    seeds_above = _ood_rows({"vc": {"auroc_log_density": [0.6, 0.64]}})
    assert "does not reproduce" not in placement_note(Results({"plan": plan, "rows": seeds_above, **stored}), "s d=16")
