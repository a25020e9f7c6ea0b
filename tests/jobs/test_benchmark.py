"""The benchmark's quick plan runs end to end through the command line, and its raw rows hold every
measurement the report needs."""

import json

import numpy as np
import pytest

from explorer.cli import main
from explorer.core.errors import ArgumentError
from explorer.figures.static import browser
from explorer.jobs import benchmark


SELECTED: list[np.ndarray] = []
"""The labels every recalibrator selection of the quick run was given."""


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    if browser() is None:
        pytest.skip("no Chrome or Chromium to export the report's figures (apt-get install chromium)")
    out = tmp_path_factory.mktemp("benchmark")
    select = benchmark.select_recalibrator

    def recorded(logits, labels, **kwargs):
        SELECTED.append(np.asarray(labels))
        return select(logits, labels, **kwargs)

    with pytest.MonkeyPatch.context() as patch:  # QUICK runs in this process (one worker)
        patch.setattr(benchmark, "select_recalibrator", recorded)
        assert main(["benchmark", "--quick", "--out-dir", str(out)]) == 0
    return out


def test_quick_run_writes_raw_results_and_the_report(quick):
    payload = json.loads((quick / "results" / "results.json").read_text())
    assert payload["plan"]["seeds"] == list(benchmark.QUICK.seeds)
    rows = payload["rows"]
    methods = {r["method"] for r in rows}
    assert methods == {"softmax", "softmax+ts", "softmax+best", "gaussian", "lgm", "vc-released", "vc", "vc+ts",
                       "vc+best", "softmax'", "softmax'+ts", "softmax'+best"}
    conditions = {r["condition"] for r in rows}
    assert {"clean", "validation", "gaussian_noise:5", "fgsm:0.1", "pgd3:0.1", "fraction:0.1", "epoch:1",
            "epoch:3"} <= conditions
    measures = {r["measure"] for r in rows}
    assert {"accuracy", "ece", "adaptive_ece", "nll", "brier", "robust_accuracy", "mean_ks", "r2_ratio",
            "kl_estimate", "epoch_seconds", "temperature", "val_nll", "test_nll"} <= measures
    # low data for the arms the suite names only, and the A/A arm wherever softmax has it
    assert {r["method"] for r in rows if r["condition"] == "fraction:0.1"} == {"softmax", "vc", "softmax'"}
    # the A/A arm trains with the second set of seeds, the i-th beside the i-th
    aa = [r["seed"] for r in rows
          if r["method"] == "softmax'" and r["condition"] == "clean" and r["measure"] == "accuracy"]
    assert aa == list(benchmark.QUICK.aa_seeds)
    # one paired bootstrap variance a seed for every clean comparison, of the report's and of the A/A check
    boot = {(r["method"], r["condition"], r["measure"]) for r in rows if r["condition"].startswith("bootstrap:")}
    assert ("vc", "bootstrap:softmax", "brier") in boot and ("vc+ts", "bootstrap:softmax+ts", "adaptive_ece") in boot
    assert ("softmax'+ts", "bootstrap:softmax+ts", "nll") in boot and len(boot) == (5 + 2 + 3 + 3 + 4) + (5 + 3 + 4)
    assert ("softmax'", "bootstrap:softmax+ts", "nll") not in boot  # A/A: one method a side, no mixed pair
    assert ("vc", "bootstrap:softmax+best", "brier") in boot and ("softmax'+best", "bootstrap:softmax+best", "ece") in boot
    variances = [r["value"] for r in rows if r["condition"] == "bootstrap:softmax" and r["method"] == "vc"]
    assert len(variances) == 2 * 5 and all(v > 0 for v in variances)
    # one value per seed for every (method, condition, measure)
    vc_accuracy = [r for r in rows if r["method"] == "vc" and r["condition"] == "clean" and r["measure"] == "accuracy"]
    assert sorted(r["seed"] for r in vc_accuracy) == list(benchmark.QUICK.seeds)
    assert (quick / "results" / "results.csv").read_text().count("\n") == len(rows) + 1
    # +best: calibration on the clean and corrupted test images, the recalibrator chosen per model
    assert {r["measure"] for r in rows if r["method"] == "vc+best" and r["condition"] == "clean"} == set(
        benchmark.CALIBRATION)
    assert {r["measure"] for r in rows if r["method"] == "vc+best" and r["condition"] == "gaussian_noise:5"} == {
        "accuracy", "ece"}
    chosen = [(r["method"], r["seed"]) for r in rows if r["measure"].startswith("recalibrator:")]
    assert sorted(chosen) == sorted([(f"{arm}+best", seed) for arm in ("softmax", "vc") for seed in benchmark.QUICK.seeds]
                                    + [("softmax'+best", seed) for seed in benchmark.QUICK.aa_seeds])
    cv = {r["measure"] for r in rows if r["method"] == "softmax+best" and r["measure"].startswith("cv_nll:")}
    assert "cv_nll:temperature" in cv and all(r["value"] > 0 for r in rows if r["measure"].startswith("cv_nll:"))
    assert (quick / "results.md").exists() and list((quick / "results").glob("*.png"))
    text = (quick / "results.md").read_text()
    assert "NLL (clean), VC against best-recalibrated softmax" in text and "Recalibrator chosen" in text


def test_the_recalibrator_is_chosen_on_each_model_validation_split_alone(quick):
    """Every selection of the quick run was given the labels of the validation split its model's training
    held out (:func:`split_indices` of that seed), never the test split's."""
    from explorer.core.config import default_configs
    from explorer.core.data import load_dataset, split_indices

    y = load_dataset("digits", "train").y
    held_out = {}
    for seed in (*benchmark.QUICK.seeds, *benchmark.QUICK.aa_seeds):
        _, config = default_configs("digits", "softmax", latent_dim=16, epochs=3, seed=seed, snapshot_points=0)
        held_out[seed] = y[split_indices(y, config)[1]].numpy()
    test_size = len(load_dataset("digits", "test"))
    order = (0, 0, 2, 1, 1, 3)  # unit by unit: softmax, VC, then softmax' with the A/A seed beside
    assert len(SELECTED) == len(order) and all(len(labels) != test_size for labels in SELECTED)
    assert all(np.array_equal(labels, held_out[seed]) for labels, seed in zip(SELECTED, order))


def test_a_plan_whose_aa_seeds_cannot_pair_is_refused():
    import dataclasses

    for aa_seeds in ((1, 2), (2,)):  # one shared with the seeds; fewer than the seeds
        with pytest.raises(ArgumentError, match="aa_seeds"):
            benchmark.run(dataclasses.replace(benchmark.QUICK, aa_seeds=aa_seeds))


def test_quick_needs_an_output_folder(capsys):
    assert main(["benchmark", "--quick"]) == 1
    assert "need --out-dir" in capsys.readouterr().err


def test_without_a_browser_the_benchmark_stops_before_it_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("explorer.figures.static.browser", lambda: None)
    assert main(["benchmark", "--quick", "--out-dir", str(tmp_path)]) == 1
    assert "needs Chrome or Chromium" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # nothing trained, nothing written


def test_performance_only_measures_again_and_keeps_the_rows(quick):
    before = json.loads((quick / "results" / "results.json").read_text())
    assert main(["benchmark", "--performance-only", "--out-dir", str(quick)]) == 0
    after = json.loads((quick / "results" / "results.json").read_text())
    assert after["rows"] == before["rows"] and after["wall_seconds"] == before["wall_seconds"]
    assert after["performance"]["separate_pass"] and after["performance"]["machine"]["cpus"]
    assert "measured again in a separate pass" in (quick / "results.md").read_text()


@pytest.mark.parametrize("plan", [benchmark.FULL, benchmark.QUICK, benchmark.CIFAR10, benchmark.TEXT])
def test_a_plan_is_rebuilt_from_its_description_in_the_results(plan):
    description = json.loads(json.dumps(benchmark.plan_description(plan)))
    assert benchmark.plan_from_description(description) == plan


def test_peak_memory_is_the_measured_process_own_not_its_parent():
    ballast = np.ones(2**28)  # 2 GiB, touched: this process's peak is above it
    code = "import json; from explorer.jobs.benchmark import peak_rss_mb; print(json.dumps({'mb': peak_rss_mb()}))"
    assert benchmark.peak_rss_mb() > 2048
    assert benchmark._subprocess_json("-c", code)["mb"] < 1024  # getrusage would report this process's peak
    del ballast


def test_a_text_suite_measures_text_corruptions_beside_the_reference_and_runs_no_attack(
        data_copy, monkeypatch, tmp_path):
    import dataclasses

    from explorer.jobs import report
    from explorer.jobs.results import Results

    monkeypatch.setenv("EXPLORER_DATA_DIR", str(data_copy))
    plan = dataclasses.replace(benchmark.TEXT, suites=(benchmark.Suite("reuters-r8", 4, 2),), seeds=(0,), aa_seeds=(9,),
                               corruption_points=100, fit_points=200, epoch_points=0, workers=1)
    rows = benchmark.run(plan, log=lambda line: None)
    clean = {(r["method"], r["measure"]): r["value"] for r in rows if r["condition"] == "clean"}
    assert clean["tfidf+logreg", "accuracy"] > 0.9 and ("tfidf+logreg", "classwise_ece") in clean
    assert {("softmax", "classwise_ece"), ("vc", "classwise_ece"), ("vc", "mean_ks"),
            ("softmax'", "accuracy")} <= set(clean)
    conditions = {r["condition"] for r in rows}
    assert {"word_deletion:5", "unknown_words:1", "word_swap:3", "ood:20newsgroups"} <= conditions
    assert not any(c.startswith(("fgsm", "pgd", "gaussian_noise", "fraction:")) for c in conditions)
    benchmark.write_results(tmp_path, rows, {}, plan, 1.0)
    text = report.render(Results.load(tmp_path / "results.json"), tmp_path, "results")
    assert "| tfidf+logreg |" in text and "no attacks (pixel attacks do not apply to text)" in text
    assert "classwise ECE" in text and "word deletion" in text
    assert "Adversarial robustness" not in text and "CIFAR-10" not in text


def test_a_stopped_run_goes_on_where_it_stopped(tmp_path, monkeypatch):
    """Finished units are kept under the plan's hash and read back; another plan runs its own; a unit file
    cut short while written is run again."""
    import dataclasses

    ran = []

    def unit(plan, suite, seed, log=print):
        ran.append((suite.dataset, seed))
        if len(ran) == 2 and plan.seeds == (0, 1):
            raise KeyboardInterrupt  # stopped in the middle of the second unit
        return [{"suite": suite.name, "seed": seed, "measure": "accuracy", "value": 0.5 + seed}]

    monkeypatch.setattr(benchmark, "run_unit", unit)
    plan = dataclasses.replace(benchmark.QUICK, seeds=(0, 1), aa_seeds=(10, 11), workers=1)
    with pytest.raises(KeyboardInterrupt):
        benchmark.run(plan, log=lambda line: None, units_dir=tmp_path)
    assert benchmark.kept_units(plan, tmp_path) == 1
    rows = benchmark.run(plan, log=lambda line: None, units_dir=tmp_path)
    assert ran == [("digits", 0), ("digits", 1), ("digits", 1)]  # only the unit that had not finished
    assert [r["seed"] for r in rows] == [0, 1] and benchmark.kept_units(plan, tmp_path) == 2
    other = dataclasses.replace(plan, pgd_steps=plan.pgd_steps + 1)
    assert benchmark.kept_units(other, tmp_path) == 0
    next(tmp_path.rglob("*seed0.json")).write_text('{"rows": [')  # cut short
    assert benchmark.kept_units(plan, tmp_path) == 1
    checked = []  # a check sees the units read back as well as the units run
    rows = benchmark.run(plan, log=lambda line: None, units_dir=tmp_path, check=checked.append)
    assert [unit[0]["seed"] for unit in checked] == [1, 0] and ran[-1] == ("digits", 0)


def test_add_post_hoc_puts_back_the_recalibrated_rows_of_the_same_models(quick, tmp_path):
    """Results made before the +best rows get them from a pass that trains only the recalibrated arms: the
    rows come back as the full run measured them, paired seed by seed as the report reads them, every
    number measured again is checked, and the report says so."""
    import shutil

    from explorer.jobs.results import Results

    out = tmp_path / "older"
    shutil.copytree(quick, out, ignore=shutil.ignore_patterns("units"))
    path = out / "results" / "results.json"
    full = json.loads(path.read_text())
    older = [r for r in full["rows"] if "+best" not in r["method"] + r["condition"]]
    path.write_text(json.dumps({**full, "rows": older}))

    assert main(["benchmark", "--add-post-hoc", "--out-dir", str(out)]) == 0
    after = json.loads(path.read_text())
    assert after["rows"][:len(older)] == older  # what the file held stays, in its order
    added = after["rows"][len(older):]
    assert added and all("+best" in r["method"] + r["condition"] for r in added)

    def values(payload):  # what the report reads: each row's values over seeds, in order; times aside
        return {k: v for k, v in Results(payload).values.items() if k[3] not in benchmark.TIMES}

    again, measured = values(after), values(full)
    assert again.keys() == measured.keys()
    assert all(np.allclose(again[k], measured[k], rtol=benchmark.RTOL, atol=benchmark.ATOL) for k in measured)
    done = after["post_hoc_pass"]
    assert done["added"] == len(added) and done["checked"] > 100 and done["largest_difference"] <= benchmark.RTOL
    assert "separate pass (`benchmark --add-post-hoc`" in (out / "results.md").read_text()
    # a second pass has nothing to add, and says so rather than claiming the rows again
    with pytest.raises(ArgumentError, match="already holds best-recalibrated rows"):
        benchmark.add_post_hoc(out / "results")


ROW = {"suite": "s", "method": "softmax", "seed": 0, "condition": "clean", "measure": "ece", "value": 0.05}
BEST_ROW = {**ROW, "method": "softmax+best", "value": 0.01}


def test_merging_adds_only_recalibrated_rows_of_models_it_checked():
    kept = [ROW, {**ROW, "measure": "epoch_seconds", "value": 3.0}]
    boot = {**ROW, "method": "vc", "condition": "bootstrap:softmax+best", "value": 2e-5}
    merged, checked = benchmark.merge_rows(kept + [{**ROW, "method": "vc"}],
                                           [{**ROW, "value": 0.05000001}, {**kept[1], "value": 9.0}, BEST_ROW,
                                            {**ROW, "method": "vc"}, boot])
    assert merged == [*kept, {**ROW, "method": "vc"}, BEST_ROW, boot]
    assert checked["checked"] == 2 and checked["added"] == 2  # times are never compared
    with pytest.raises(ArgumentError, match="1 of 1 numbers measured again differ.*softmax seed 0 clean ece: 0.05"):
        benchmark.merge_rows(kept, [{**ROW, "value": 0.0500051}, BEST_ROW])  # 1e-4 relative is the limit
    with pytest.raises(ArgumentError, match="lacks 1 rows .* not best-recalibrated"):
        benchmark.merge_rows(kept, [ROW, {**ROW, "measure": "nll"}, BEST_ROW])  # another plan or other names
    with pytest.raises(ArgumentError, match="no number of 1 models"):
        benchmark.merge_rows(kept, [ROW, {**BEST_ROW, "seed": 1}])  # the model of seed 1 was never checked


def test_add_post_hoc_refuses_before_it_writes(tmp_path, monkeypatch):
    path = tmp_path / "results.json"
    with pytest.raises(ArgumentError, match="no results to add to"):
        benchmark.add_post_hoc(tmp_path)
    path.write_text('{"rows": [')
    with pytest.raises(ArgumentError, match="not a results file"):
        benchmark.add_post_hoc(tmp_path)
    path.write_text(json.dumps({"plan": {"seeds": [0], "no_such_field": 1}, "rows": [ROW]}))
    with pytest.raises(ArgumentError, match="its plan is not one this version can run"):
        benchmark.add_post_hoc(tmp_path)

    ran = []

    def run(plan, log, units_dir, check):  # the first unit disagrees: the run stops there
        for unit in ([{**ROW, "value": 0.06}, BEST_ROW], [ROW, BEST_ROW]):
            check(unit)
            ran.append(unit)

    kept = json.dumps({"plan": benchmark.plan_description(benchmark.QUICK), "rows": [ROW]})
    path.write_text(kept)
    monkeypatch.setattr(benchmark, "run", run)
    with pytest.raises(ArgumentError, match="differ from the results file"):
        benchmark.add_post_hoc(tmp_path)
    assert ran == [] and path.read_text() == kept  # the file untouched
