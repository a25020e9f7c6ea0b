"""The benchmark's quick plan runs end to end through the command line, and its raw rows hold every
measurement the report needs."""

import json

import numpy as np
import pytest

from explorer.cli import main
from explorer.jobs import benchmark


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("benchmark")
    assert main(["benchmark", "--quick", "--out-dir", str(out)]) == 0
    return out


def test_quick_run_writes_raw_results_and_the_report(quick):
    payload = json.loads((quick / "results" / "results.json").read_text())
    assert payload["plan"]["seeds"] == list(benchmark.QUICK.seeds)
    rows = payload["rows"]
    methods = {r["method"] for r in rows}
    assert methods == {"softmax", "softmax+ts", "gaussian", "lgm", "vc-released", "vc", "vc+ts"}
    conditions = {r["condition"] for r in rows}
    assert {"clean", "validation", "gaussian_noise:5", "fgsm:0.1", "pgd3:0.1", "fraction:0.1", "epoch:1",
            "epoch:3"} <= conditions
    measures = {r["measure"] for r in rows}
    assert {"accuracy", "ece", "adaptive_ece", "nll", "brier", "robust_accuracy", "mean_ks", "r2_ratio",
            "kl_estimate", "epoch_seconds", "temperature", "val_nll", "test_nll"} <= measures
    # low data for the arms the suite names only
    assert {r["method"] for r in rows if r["condition"] == "fraction:0.1"} == {"softmax", "vc"}
    # one value per seed for every (method, condition, measure)
    vc_accuracy = [r for r in rows if r["method"] == "vc" and r["condition"] == "clean" and r["measure"] == "accuracy"]
    assert sorted(r["seed"] for r in vc_accuracy) == list(benchmark.QUICK.seeds)
    assert (quick / "results" / "results.csv").read_text().count("\n") == len(rows) + 1
    assert (quick / "results.md").exists() and list((quick / "results").glob("*.png"))


def test_quick_needs_an_output_folder(capsys):
    assert main(["benchmark", "--quick"]) == 1
    assert "need --out-dir" in capsys.readouterr().err


def test_performance_only_measures_again_and_keeps_the_rows(quick):
    before = json.loads((quick / "results" / "results.json").read_text())
    assert main(["benchmark", "--performance-only", "--out-dir", str(quick)]) == 0
    after = json.loads((quick / "results" / "results.json").read_text())
    assert after["rows"] == before["rows"] and after["wall_seconds"] == before["wall_seconds"]
    assert after["performance"]["separate_pass"] and after["performance"]["machine"]["cpus"]
    assert "measured again in a separate pass" in (quick / "results.md").read_text()


@pytest.mark.parametrize("plan", [benchmark.FULL, benchmark.QUICK, benchmark.CIFAR10])
def test_a_plan_is_rebuilt_from_its_description_in_the_results(plan):
    description = json.loads(json.dumps(benchmark.plan_description(plan)))
    assert benchmark.plan_from_description(description) == plan


def test_peak_memory_is_the_measured_process_own_not_its_parent():
    ballast = np.ones(2**28)  # 2 GiB, touched: this process's peak is above it
    code = "import json; from explorer.jobs.benchmark import peak_rss_mb; print(json.dumps({'mb': peak_rss_mb()}))"
    assert benchmark.peak_rss_mb() > 2048
    assert benchmark._subprocess_json("-c", code)["mb"] < 1024  # getrusage would report this process's peak
    del ballast
