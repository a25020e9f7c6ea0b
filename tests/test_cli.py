import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from explorer.cli import main
from explorer.core.checkpoints import SHIPPED_DIR, load_checkpoint

ROOT = Path(__file__).resolve().parents[1]
QUICK = ["--latent-dim", "2", "--epochs", "10", "--hidden", "64"]


def run_cli(*args, env=None):
    """The real entry point in a subprocess: exit code, stdout, stderr."""
    done = subprocess.run([sys.executable, "-m", "explorer", *args], cwd=ROOT, capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=300)
    return done.returncode, done.stdout, done.stderr


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "vc.pt"
    assert main(["train", "--dataset", "digits", "--method", "vc", "--out", str(path), "--quiet", *QUICK]) == 0
    return path


@pytest.mark.parametrize("command", ["train", "evaluate", "attack", "compare"])
def test_every_subcommand_has_help(command, capsys):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    assert "usage:" in capsys.readouterr().out


def test_train_help_shows_defaults_from_the_configs(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    assert "--lambda-prior" in out and "(default: 0.1)" in out and "(default: dataset's)" in out
    # λ_kl's default depends on the objective; argparse wraps the help, so compare words
    assert "default: 0.1 with --objective paper, 0.01 with released" in " ".join(out.split())


def test_the_objective_estimator_and_prior_flags_reach_training(tmp_path, capsys):
    out = tmp_path / "paper.pt"
    assert main(["train", "--dataset", "digits", "--method", "vc", "--out", str(out), "--epochs", "1", "--quiet",
                 "--objective", "paper", "--kl-estimator", "moment", "--latent-dim", "2"]) == 0
    _, meta = load_checkpoint(out)
    assert meta["train_config"]["objective"] == "paper" and meta["train_config"]["kl_estimator"] == "moment"
    assert main(["train", "--dataset", "digits", "--method", "vc", "--out", str(out), "--dry-run", "--quiet",
                 "--prior", "student_t", "--nu", "4", "--kl-estimator", "quadratic"]) == 0
    assert main(["train", "--dataset", "digits", "--method", "vc", "--out", str(out), "--dry-run",
                 "--prior", "student_t", "--kl-estimator", "moment"]) == 1
    assert "needs a Gaussian prior" in capsys.readouterr().err


def test_dry_run_writes_nothing(tmp_path, capsys):
    out = tmp_path / "never.pt"
    assert main(["train", "--dataset", "digits", "--method", "vc", "--out", str(out), "--dry-run",
                 "--quiet"]) == 0
    assert not out.exists()
    assert "dry run" in capsys.readouterr().out


def test_evaluate_json(checkpoint, capsys):
    assert main(["evaluate", str(checkpoint), "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert {"accuracy", "ece", "mce", "nll", "brier", "n"} <= set(metrics)
    assert metrics["n"] == 450 and 0 <= metrics["ece"] <= 1


def test_evaluate_latent_fit_reads_the_test_latents_against_the_heads_law(capsys):
    """The shipped d = 2 pair: the project's VC spreads as its prior, the released step gathers inside."""
    fits = {}
    for name in ("digits-mlp-d2-vc", "digits-mlp-d2-vc-released"):
        assert main(["evaluate", str(SHIPPED_DIR / f"{name}.pt"), "--latent-fit", "--json"]) == 0
        fits[name] = json.loads(capsys.readouterr().out)
    assert fits["digits-mlp-d2-vc"]["reference_law"] == "χ²(2)"
    assert 0.8 <= fits["digits-mlp-d2-vc"]["r2_ratio"] <= 1.25 and fits["digits-mlp-d2-vc"]["mean_ks"] <= 0.2
    assert fits["digits-mlp-d2-vc-released"]["r2_ratio"] < 0.5
    assert main(["evaluate", str(SHIPPED_DIR / "digits-mlp-d2-vc.pt"), "--json"]) == 0
    assert "r2_ratio" not in json.loads(capsys.readouterr().out)  # only when asked: it costs a pass


def test_evaluate_on_the_validation_split_the_checkpoint_held_out(capsys):
    path = str(SHIPPED_DIR / "digits-mlp-d2-vc.pt")
    assert main(["evaluate", path, "--split", "validation", "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["split"] == "validation" and metrics["n"] == 136  # 10 % of digits' 1347 training images
    _, meta = load_checkpoint(path)
    assert metrics["accuracy"] == pytest.approx(meta["history"][-1]["val_accuracy"])  # what training saw
    assert main(["evaluate", path, "--split", "validation", "--dataset", "mnist"]) == 1
    assert "drop --dataset" in capsys.readouterr().err


def test_evaluate_under_corruption_loses_accuracy(checkpoint, capsys):
    main(["evaluate", str(checkpoint), "--json"])
    clean = json.loads(capsys.readouterr().out)
    main(["evaluate", str(checkpoint), "--corruption", "gaussian_noise", "--severity", "5", "--json"])
    shifted = json.loads(capsys.readouterr().out)
    assert shifted["corruption"] == "gaussian_noise" and shifted["severity"] == 5
    assert shifted["accuracy"] < clean["accuracy"]


def test_temperature_scaling_is_fitted_on_validation_data_and_keeps_accuracy(checkpoint, capsys):
    main(["evaluate", str(checkpoint), "--json"])
    plain = json.loads(capsys.readouterr().out)
    main(["evaluate", str(checkpoint), "--temperature-scaling", "--json"])
    scaled = json.loads(capsys.readouterr().out)
    assert plain["temperature"] == 1.0 and scaled["temperature"] > 0 and scaled["temperature"] != 1.0
    assert scaled["accuracy"] == plain["accuracy"]  # dividing logits by T > 0 keeps every argmax


@pytest.mark.parametrize("attack", ["fgsm", "pgd"])
def test_attack_json(checkpoint, attack, capsys):
    assert main(["attack", str(checkpoint), "--attack", attack, "--eps", "0.2", "--n", "200", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n"] == 200
    assert result["robust_accuracy"] <= result["clean_accuracy"]


def test_saved_checkpoint_carries_its_metrics(checkpoint):
    _, meta = load_checkpoint(checkpoint)
    assert meta["dataset"] == "digits" and meta["train_config"]["epochs"] == 10
    assert meta["metrics"]["n"] == 450 and len(meta["history"]) == 10


@pytest.mark.parametrize("args, message", [
    (["train", "--dataset", "digits", "--method", "magic", "--out", "x.pt"], "invalid choice: 'magic'"),
    (["train", "--dataset", "digits", "--method", "vc", "--out", "x.pt", "--epochs", "0"], "epochs must be a finite number > 0"),
    (["evaluate", "missing.pt"], "missing.pt: no such file"),
    (["attack", "missing.pt", "--attack", "pgd", "--eps", "0.1"], "no such file"),
    (["evaluate", "README.md"], "not a readable checkpoint"),
])
def test_bad_arguments_give_one_line_and_no_traceback(args, message):
    code, out, err = run_cli(*args)
    assert code != 0
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_bad_attack_budget(checkpoint):
    code, _, err = run_cli("attack", str(checkpoint), "--attack", "fgsm", "--eps", "2")
    assert code == 1 and "eps must be in [0, 1]" in err and "Traceback" not in err


def test_offline_dataset_error_names_the_folder(tmp_path, monkeypatch, capsys):
    import urllib.error

    import torchvision.datasets.utils as tv_utils

    def offline(*args, **kwargs):
        raise urllib.error.URLError("network is unreachable")

    monkeypatch.setattr(tv_utils, "download_url", offline)  # never touch the network in a test
    monkeypatch.setenv("EXPLORER_DATA_DIR", str(tmp_path))
    assert main(["train", "--dataset", "mnist", "--method", "vc", "--out", str(tmp_path / "x.pt"),
                 "--dry-run", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "mnist" in err.lower() and str(tmp_path) in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("out", ["folder", "/proc/forbidden.pt"])
def test_unwritable_output_is_refused_before_training(tmp_path, out, capsys, monkeypatch):
    import explorer.jobs.runs

    if out == "folder":
        out = str(tmp_path)
    monkeypatch.setattr(explorer.jobs.runs, "train", lambda *a, **k: pytest.fail("trained before checking --out"))
    assert main(["train", "--dataset", "digits", "--method", "vc", "--out", out, "--quiet"]) == 1
    err = capsys.readouterr().err
    assert ("is a folder" in err or "cannot write" in err) and len(err.strip().splitlines()) == 1


def test_mnist_dry_run_from_local_files(data_copy, capsys, monkeypatch):
    monkeypatch.setenv("EXPLORER_DATA_DIR", str(data_copy))
    assert main(["train", "--dataset", "mnist", "--method", "vc", "--out", "unused.pt", "--dry-run",
                 "--quiet"]) == 0
    assert "accuracy" in capsys.readouterr().out


def test_project_writes_the_maps_the_latent_page_reads(tmp_path, capsys):
    d16, d2 = SHIPPED_DIR / "digits-mlp-d16-vc.pt", SHIPPED_DIR / "digits-mlp-d2-vc.pt"
    assert main(["project", str(d16), str(d2), "--method", "pca", "--out-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "PCA" in out and "fitted jointly on 450 latents and 600 prior samples" in out
    assert "d = 2, drawn as it is" in out
    assert len(list(tmp_path.glob("*.npz"))) == 1


def test_project_refuses_a_bad_file_before_any_work(tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    assert main(["project", str(SHIPPED_DIR / "digits-mlp-d16-vc.pt"), str(bad), "--out-dir", str(tmp_path)]) == 1
    assert "error" in capsys.readouterr().err and not list(tmp_path.glob("*.npz"))
