"""The raw results as data (explorer/jobs/results.py): rows grouped by suite, method, condition and measure."""


from explorer.cli import main
from explorer.jobs.results import METHOD_ORDER, Results, post_hoc


def row(method, condition, value, seed=0, measure="accuracy", suite="s d=16"):
    return {"suite": suite, "method": method, "seed": seed, "condition": condition, "measure": measure,
            "value": value}


def test_values_are_grouped_per_seed_and_methods_follow_the_method_order():
    results = Results({"rows": [row("vc", "clean", 0.9), row("softmax", "clean", 0.8), row("vc", "clean", 0.7, seed=1),
                                row("tfidf+logreg", "clean", 0.85)]})
    assert results.methods("s d=16") == ["tfidf+logreg", "softmax", "vc"]
    assert [m for m in METHOD_ORDER if m in results.methods("s d=16")] == results.methods("s d=16")
    assert results.get("s d=16", "vc", "clean", "accuracy").tolist() == [0.9, 0.7]
    assert results.get("s d=16", "vc", "rotation:1", "accuracy").shape == (0,)


def test_corrupted_reads_corruptions_alone_and_mean_over_averages_per_seed():
    """Other conditions also read "name:number" (the NLL after epoch 7, PGD at ε): never severities."""
    raw = [row("vc", c, v, seed) for c in ("clean", "rotation:1", "gaussian_noise:1", "epoch:7", "pgd10:0.1",
                                           "fraction:0.1", "ood:fashion-mnist")
           for seed, v in ((0, 0.5), (1, 0.7))]
    raw += [row("vc", "rotation:1", 0.1, seed=2)]  # no third seed elsewhere: left out of the per-seed mean
    results = Results({"rows": raw})
    assert results.corrupted("s d=16") == [("rotation", 1, "rotation:1"), ("gaussian_noise", 1, "gaussian_noise:1")]
    assert results.conditions("s d=16", "pgd") == ["pgd10:0.1"]
    assert results.mean_over("s d=16", "vc", ["gaussian_noise:1", "epoch:7"], "accuracy").tolist() == [0.5, 0.7]
    assert results.mean_over("s d=16", "softmax", ["rotation:1"], "accuracy").shape == (0,)


def test_the_train_fraction_is_the_suite_own_or_one():
    results = Results({"rows": [row("vc", "clean", 0.1, measure="train_fraction"), row("vc", "clean", 0.9,
                                                                                      suite="t d=16")]})
    assert results.train_fraction("s d=16") == 0.1 and results.train_fraction("t d=16") == 1.0


def test_a_results_file_that_is_not_json_gives_one_line(tmp_path, capsys):
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "results.json").write_text('{"rows": [')
    assert main(["benchmark", "--report-only", "--out-dir", str(tmp_path)]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "results.json: not a results file" in error


def test_a_suite_is_found_by_the_dataset_its_plan_names():
    results = Results({"plan": {"suites": [{"dataset": "mnist"}, {"dataset": "digits"}]},
                       "rows": [{"suite": s, "method": "vc", "condition": "clean", "measure": "accuracy", "value": 1.0}
                                for s in ("mnist d=16", "digits d=16")]})
    assert results.suite_for("digits") == "digits d=16" and results.suite_for("cifar10") is None
    assert results.plan_of("mnist d=16") == {"dataset": "mnist"} and results.plan_of("nothing") == {}


def test_the_recalibrator_chosen_for_each_model_is_read_with_its_seed():
    raw = [row("vc+best", "validation", 1.0, seed, f"recalibrator:{name}") for seed, name in ((0, "vector"), (1, "matrix"))]
    raw += [row("vc+best", "validation", 0.3, 0, "cv_nll:vector"), row("vc+best", "clean", 0.9),
            row("vc+best", "validation", 1.0, 0, "recalibrator:isotonic", suite="other")]
    results = Results({"rows": raw})
    assert results.recalibrators("s d=16", "vc+best") == [(0, "vector"), (1, "matrix")]
    assert results.recalibrators("s d=16", "softmax+best") == []  # not recorded: results from before
    assert results.methods("s d=16") == ["vc+best"]
    assert [post_hoc(m) for m in ("vc", "vc+ts", "softmax'+best", "vc-released")] == [False, True, True, False]
