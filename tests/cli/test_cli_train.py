"""``train``: its help shows the configs' defaults, its flags reach training, a dry run writes nothing,
and a failure (no data, an unwritable output) is one line before any training."""

import json

import pytest

from explorer.cli import main
from explorer.core.checkpoints import load_checkpoint
from explorer.core.config import ModelConfig, TrainConfig, field_names, help_of


def test_train_help_shows_defaults_from_the_configs(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    assert "--lambda-prior" in out and "(default: 0.1)" in out and "(default: dataset's)" in out
    # λ_kl's default depends on the objective; argparse wraps the help, so compare words
    assert "default: 0.1 with --objective paper, 0.01 with released" in " ".join(out.split())


def test_every_setting_has_a_flag_with_the_settings_own_help(capsys, monkeypatch):
    from explorer.cli._common import NOT_FLAGS

    monkeypatch.setenv("COLUMNS", "10000")  # no wrapping: argparse may break a line at a hyphen
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    for cls in (ModelConfig, TrainConfig):
        for name in sorted(set(field_names(cls)) - NOT_FLAGS) + (["method"] if cls is ModelConfig else []):
            assert f"--{name.replace('_', '-')}" in out and help_of(cls, name) in out, name


def test_a_none_default_the_objectives_do_not_choose_keeps_its_plain_help(capsys, monkeypatch):
    import dataclasses

    from explorer.cli import _common

    @dataclasses.dataclass(frozen=True)
    class Wider(TrainConfig):
        warmup: float | None = dataclasses.field(default=None, metadata={"help": "warm-up epochs; None: none"})

    monkeypatch.setattr(_common, "TrainConfig", Wider)
    monkeypatch.setenv("COLUMNS", "10000")
    with pytest.raises(SystemExit) as info:
        main(["train", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert " ".join(out.split()).endswith("--warmup WARMUP warm-up epochs; None: none")  # the last flag
    assert "default: 0.1 with --objective paper, 0.01 with released" in out  # the objectives' own still say so
    with pytest.raises(SystemExit) as info:
        main(["evaluate", "--help"])  # every command builds the whole parser
    assert info.value.code == 0


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


def test_saved_checkpoint_carries_its_metrics(vc_checkpoint):
    _, meta = load_checkpoint(vc_checkpoint)
    assert meta["dataset"] == "digits" and meta["train_config"]["epochs"] == 10
    assert meta["metrics"]["n"] == 450 and len(meta["history"]) == 10


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


def test_a_text_model_trains_evaluates_and_refuses_pixel_attacks(data_copy, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("EXPLORER_DATA_DIR", str(data_copy))
    out = tmp_path / "r8.pt"
    assert main(["train", "--dataset", "reuters-r8", "--method", "vc", "--epochs", "3", "--train-fraction", "0.3", "--batch-size", "64",
                 "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(out), "--json", "--latent-fit", "--temperature-scaling"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["n"] == 2189 and metrics["accuracy"] > 0.6 and metrics["dataset"] == "reuters-r8"
    assert main(["attack", str(out), "--attack", "fgsm", "--eps", "0.1"]) == 1
    assert "token ids of text have no pixels" in capsys.readouterr().err
    assert main(["evaluate", str(out), "--corruption", "gaussian_noise"]) == 1
    assert "gaussian_noise corrupts images, (N, C, H, W) floats in [0, 1]; documents take word_deletion" in capsys.readouterr().err
    assert main(["evaluate", str(out), "--corruption", "word_deletion", "--severity", "5", "--json"]) == 0
    shifted = json.loads(capsys.readouterr().out)
    assert shifted["corruption"] == "word_deletion" and shifted["accuracy"] < metrics["accuracy"]
