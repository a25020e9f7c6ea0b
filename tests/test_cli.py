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


@pytest.mark.parametrize("command", ["train", "evaluate", "export", "attack", "compare"])
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


def test_project_writes_the_maps_the_latent_page_reads(tmp_path, capsys):
    d16, d2 = SHIPPED_DIR / "digits-mlp-d16-vc.pt", SHIPPED_DIR / "digits-mlp-d2-vc.pt"
    assert main(["project", str(d16), str(d2), "--method", "pca", "--out-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "PCA" in out and "fitted jointly on 450 latents and 600 prior samples" in out
    assert "d = 2, drawn as it is" in out
    assert len(list(tmp_path.glob("*.npz"))) == 1


def test_project_maps_every_latent_of_an_array_or_a_bundle(tmp_path, capsys, logistic_bundle):
    import numpy as np

    from explorer.measure.projection import load_projection

    bundle = logistic_bundle[0] / "full.npz"
    latents = np.random.default_rng(0).normal(size=(5000, 8))
    np.save(tmp_path / "big.npy", latents)
    assert main(["project", str(tmp_path / "big.npy"), str(bundle), "--method", "pca",
                 "--out-dir", str(tmp_path / "maps")]) == 0
    out = capsys.readouterr().out
    assert "big.npy: 5,000 latents, d = 8: PCA" in out and "peak memory" in out
    placed = load_projection(tmp_path / "maps" / "big-pca.npz")
    assert placed.points.shape == (5000, 2) and placed.d == 8
    with np.load(tmp_path / "maps" / "full-pca.npz") as f:  # a bundle's labels travel
        assert len(f["labels"]) == len(f["points"])


def test_project_refuses_latent_files_it_cannot_map(tmp_path, capsys):
    import numpy as np

    np.save(tmp_path / "flat.npy", np.zeros(10))
    assert main(["project", str(tmp_path / "flat.npy"), "--method", "pca", "--out-dir", str(tmp_path)]) == 1
    assert "shape (10,); latents are (N, d) with d >= 2" in capsys.readouterr().err
    (tmp_path / "junk.npy").write_bytes(b"no array")
    assert main(["project", str(tmp_path / "junk.npy"), "--out-dir", str(tmp_path)]) == 1
    assert "is not a readable .npy array" in capsys.readouterr().err


def test_project_refuses_a_bad_file_before_any_work(tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    assert main(["project", str(SHIPPED_DIR / "digits-mlp-d16-vc.pt"), str(bad), "--out-dir", str(tmp_path)]) == 1
    assert "error" in capsys.readouterr().err and not list(tmp_path.glob("*.npz"))


# ---------------------------------------------------------------------------------------------------
# Predictions bundles: evaluate FILE.npz, and export


@pytest.fixture(scope="module")
def logistic_bundle(tmp_path_factory):
    """A scikit-learn logistic regression on digits' pixels as a bundle: logits = decision_function, latents =
    the pixels, weight and bias its coefficients; validation outputs from training images it did not fit."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from explorer.core.bundles import save_bundle
    from explorer.core.data import load_dataset

    train, test = load_dataset("digits", "train"), load_dataset("digits", "test")
    x_train, x_test = train.x.flatten(1).double().numpy(), test.x.flatten(1).double().numpy()
    fit = LogisticRegression(C=0.05, max_iter=2000).fit(x_train[:1000], train.y[:1000].numpy())
    arrays = {"logits": fit.decision_function(x_test), "labels": test.y.numpy(), "latents": x_test,
              "weight": fit.coef_, "bias": fit.intercept_, "dataset": np.asarray("digits"),
              "val_logits": fit.decision_function(x_train[1000:]), "val_labels": train.y[1000:].numpy()}
    folder = tmp_path_factory.mktemp("bundles")
    save_bundle(folder / "full.npz", **arrays)
    save_bundle(folder / "bare.npz", logits=arrays["logits"], labels=arrays["labels"])
    return folder, arrays


def _evaluate_json(*args, capsys):
    assert main(["evaluate", *map(str, args), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _one_line_error(argv, capsys) -> str:
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    return err


def test_evaluate_a_bundle_measures_its_logits_with_a_checkpoints_keys(logistic_bundle, capsys):
    from scipy.special import softmax

    from explorer.measure.calibration import calibration_report

    folder, arrays = logistic_bundle
    metrics = _evaluate_json(folder / "full.npz", "--bins", "10", capsys=capsys)
    direct = calibration_report(softmax(arrays["logits"], axis=1), arrays["labels"], n_bins=10)
    assert metrics["ece"] == pytest.approx(direct["ece"], abs=1e-12) and metrics["ece"] > 0
    assert {k: metrics[k] for k in direct} == pytest.approx(direct)
    assert metrics["dataset"] == "digits" and metrics["split"] == "test" and metrics["temperature"] == 1.0
    checkpoint_keys = set(_evaluate_json(SHIPPED_DIR / "digits-mlp-d2-vc.pt", capsys=capsys))
    assert set(metrics) == checkpoint_keys - {"corruption", "severity"}  # a bundle cannot be shifted
    assert _evaluate_json(folder / "bare.npz", capsys=capsys)["dataset"] is None


def test_bundle_temperature_is_fitted_on_its_validation_outputs(logistic_bundle, capsys):
    from explorer.measure.calibration import calibration_report
    from explorer.measure.recalibration import apply_temperature, fit_temperature

    folder, arrays = logistic_bundle
    plain = _evaluate_json(folder / "full.npz", capsys=capsys)
    scaled = _evaluate_json(folder / "full.npz", "--temperature-scaling", capsys=capsys)
    t = fit_temperature(arrays["val_logits"], arrays["val_labels"])
    assert t != pytest.approx(1.0, abs=0.05) and scaled["temperature"] == pytest.approx(t)
    assert scaled["ece"] == pytest.approx(calibration_report(apply_temperature(arrays["logits"], t),
                                                             arrays["labels"])["ece"])
    assert scaled["accuracy"] == plain["accuracy"] and scaled["nll"] < plain["nll"]
    held_out = _evaluate_json(folder / "full.npz", "--split", "validation", capsys=capsys)
    assert held_out["split"] == "validation" and held_out["n"] == len(arrays["val_labels"]) == 347
    for flags in (["--temperature-scaling"], ["--split", "validation"]):
        err = _one_line_error(["evaluate", str(folder / "bare.npz"), *flags], capsys)
        assert "no val_logits/val_labels" in err


def test_bundle_latent_fit_reads_its_latents_against_its_last_layer(logistic_bundle, capsys):
    from explorer.core.bundles import load_bundle
    from explorer.measure.latents import fit_latents

    folder, arrays = logistic_bundle
    metrics = _evaluate_json(folder / "full.npz", "--latent-fit", capsys=capsys)
    bundle = load_bundle(folder / "full.npz")
    fit = fit_latents(bundle.linear_head(), arrays["latents"], arrays["labels"])
    assert metrics["reference_law"] == "χ²(64)" and metrics["r2_ratio"] == pytest.approx(fit.median_ratio)
    assert metrics["mean_ks"] == pytest.approx(fit.mean_ks)
    assert "no latents" in _one_line_error(["evaluate", str(folder / "bare.npz"), "--latent-fit"], capsys)
    assert "no validation latents" in _one_line_error(
        ["evaluate", str(folder / "full.npz"), "--latent-fit", "--split", "validation"], capsys)


def test_bundle_latent_fit_needs_the_last_layer(logistic_bundle, tmp_path, capsys):
    from explorer.core.bundles import save_bundle

    _, arrays = logistic_bundle
    save_bundle(tmp_path / "z.npz", logits=arrays["logits"], labels=arrays["labels"], latents=arrays["latents"])
    assert "no weight/bias" in _one_line_error(["evaluate", str(tmp_path / "z.npz"), "--latent-fit"], capsys)


@pytest.mark.parametrize("flags", [["--corruption", "gaussian_noise"], ["--dataset", "mnist"]])
def test_a_bundle_cannot_be_shifted(logistic_bundle, flags, capsys):
    folder, _ = logistic_bundle
    err = _one_line_error(["evaluate", str(folder / "full.npz"), *flags], capsys)
    assert f"{flags[0]} needs the model itself" in err and "predictions only" in err


@pytest.mark.parametrize("damage, message", [
    ("truncated", "not a readable .npz bundle"),
    ("objects", "cannot be read without running code"),
    ("nan", "not finite"),
])
def test_bad_bundles_give_one_line_and_no_traceback(logistic_bundle, tmp_path, damage, message, capsys):
    import numpy as np

    folder, arrays = logistic_bundle
    path = tmp_path / "bad.npz"
    if damage == "truncated":
        whole = (folder / "full.npz").read_bytes()
        path.write_bytes(whole[: len(whole) // 2])
    elif damage == "objects":
        np.savez(path, logits=arrays["logits"], labels=np.array([{"x": 1}] * 450, dtype=object))
    else:
        logits = arrays["logits"].copy()
        logits[3, 4] = np.nan
        np.savez(path, logits=logits, labels=arrays["labels"])
    assert message in _one_line_error(["evaluate", str(path)], capsys)


TINY_CNN = '''
import torch
from torch import nn


class TinyCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                                      nn.Linear(8 * 4 * 4, 32), nn.ReLU())
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        return self.fc(self.features(x))


def make():
    return TinyCNN()


def make_wider():
    model = TinyCNN()
    model.fc = nn.Linear(32, 12)
    return model


def not_a_model():
    return "a string"
'''


@pytest.fixture
def factory_folder(tmp_path, monkeypatch):
    """tmp_path as the current folder, holding tiny_digits_cnn.py; sys.path and sys.modules restored after."""
    (tmp_path / "tiny_digits_cnn.py").write_text(TINY_CNN)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    yield tmp_path
    sys.modules.pop("tiny_digits_cnn", None)


def test_export_a_factory_model_with_its_weights_then_evaluate_it(factory_folder, capsys):
    import runpy

    import torch

    from explorer.core.bundles import load_bundle
    from explorer.core.data import load_dataset

    torch.manual_seed(0)
    net = runpy.run_path(str(factory_folder / "tiny_digits_cnn.py"))["make"]()
    train, test = load_dataset("digits", "train"), load_dataset("digits", "test")
    optimiser = torch.optim.Adam(net.parameters(), lr=1e-2)
    for start in [*range(0, len(train), 64)] * 2:  # two epochs: far above chance, and the file's factory is not
        optimiser.zero_grad()
        torch.nn.functional.cross_entropy(net(train.x[start: start + 64]), train.y[start: start + 64]).backward()
        optimiser.step()
    net.eval()
    with torch.no_grad():
        own_accuracy = (net(test.x).argmax(1) == test.y).double().mean().item()
    torch.save({"state_dict": net.state_dict(), "epochs": 2}, factory_folder / "tiny.pt")

    assert main(["export", "--factory", "tiny_digits_cnn:make", "--weights", "tiny.pt", "--dataset", "digits",
                 "--out", "tiny.npz", "--validation", "--ood"]) == 0
    captured = capsys.readouterr()
    assert "random weights" not in captured.err
    assert "seed 0, val_fraction 0.1" in captured.out and "honest only if" in captured.out
    assert "running tiny_digits_cnn:make" in captured.out and "wrote tiny.npz: N = 450, K = 10, d = 32" in captured.out
    bundle = load_bundle(factory_folder / "tiny.npz")
    assert bundle.dataset_name == "digits" and list(bundle.class_names) == [str(i) for i in range(10)]
    assert bundle.images.shape == (450, 1, 8, 8) and bundle.weight.shape == (10, 32)
    assert bundle.val_logits.shape == (136, 10) and bundle.ood_latents.shape == (450, 32)
    metrics = _evaluate_json(factory_folder / "tiny.npz", capsys=capsys)
    assert own_accuracy > 0.5 and metrics["accuracy"] == pytest.approx(own_accuracy, abs=1e-9)
    assert metrics["dataset"] == "digits" and metrics["n"] == 450


def test_export_a_torchvision_resnet_on_grey_digits(tmp_path, capsys):
    from explorer.core.bundles import load_bundle

    out = tmp_path / "r18.npz"
    assert main(["export", "--torchvision", "resnet18", "--dataset", "digits", "--out", str(out),
                 "--no-images"]) == 0
    captured = capsys.readouterr()
    assert "random weights" in captured.err and "grey images repeated to the 3 channels" in captured.out
    bundle = load_bundle(out)
    assert bundle.logits.shape == (450, 10) and bundle.latents.shape == (450, 512)
    assert bundle.weight.shape == (10, 512) and bundle.images is None and bundle.val_logits is None
    assert bundle.dataset_name == "digits"


@pytest.mark.parametrize("flags, message", [
    (["--torchvision", "resnet81"], "did you mean resnet18"),
    (["--torchvision", "resnet18", "--last-layer", "head"], "its linear layers: fc"),
    (["--torchvision", "resnet18", "--mean", "0.5", "0.5"], "give both --mean and --std"),
    (["--torchvision", "resnet18", "--mean", "0.5", "0.5", "--std", "0.2", "0.2"], "3 once repeated"),
    (["--torchvision", "alexnet", "--last-layer", "classifier.6"], "the model fails on the digits images"),
    (["--factory", "tiny_digits_cnn"], "MODULE:FUNCTION"),
    (["--factory", "no_such_module_here:make"], "No module named 'no_such_module_here'"),
    (["--factory", "tiny_digits_cnn:missing"], "has no attribute 'missing'"),
    (["--factory", "tiny_digits_cnn:not_a_model"], "returned a str, not an nn.Module"),
    (["--factory", "tiny_digits_cnn:make_wider"], "gives 12 outputs but digits has 10 classes"),
    (["--factory", "tiny_digits_cnn:make", "--weights", "missing.pt"], "missing.pt: no such file"),
    (["--factory", "tiny_digits_cnn:make", "--weights", "wider.pt"], "fc.weight is (12, 32) in the file"),
    (["--factory", "tiny_digits_cnn:make", "--weights", "partial.pt"], "missing fc.weight, fc.bias"),
    (["--factory", "tiny_digits_cnn:make", "--weights", "code.pt"], "would run code from it"),
    (["--factory", "tiny_digits_cnn:make", "--weights", "tiny_digits_cnn.py"], "not a file torch.load reads"),
])
def test_export_errors_are_one_line_and_write_nothing(factory_folder, flags, message, capsys):
    import runpy

    import torch

    module = runpy.run_path(str(factory_folder / "tiny_digits_cnn.py"))
    torch.save(module["make_wider"]().state_dict(), "wider.pt")
    torch.save({k: v for k, v in module["make"]().state_dict().items() if not k.startswith("fc.")}, "partial.pt")
    torch.save({"model": torch.nn.Linear(2, 2)}, "code.pt")  # a pickled module, not its weights
    err = _one_line_error(["export", "--dataset", "digits", "--out", "never.npz", *flags], capsys)
    assert message in err
    assert not (factory_folder / "never.npz").exists()


def test_export_refuses_an_output_that_is_not_a_writable_npz(tmp_path, capsys):
    assert "ends in .npz" in _one_line_error(["export", "--torchvision", "resnet18", "--dataset", "digits",
                                               "--out", str(tmp_path / "b.pt")], capsys)
    assert "cannot write" in _one_line_error(["export", "--torchvision", "resnet18", "--dataset", "digits",
                                               "--out", "/proc/forbidden.npz"], capsys)


def test_export_and_bundle_help(capsys):
    with pytest.raises(SystemExit):
        main(["export", "--help"])
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps the help: compare words
    assert "channel repeated to 3 inside the model" in out and "--last-layer still names" in out
    assert "(seed 0, val_fraction 0.1); honest only if the model did not train on those images" in out
    assert "default: none, the model gets pixels in [0, 1]" in out and "list_models" in out
    with pytest.raises(SystemExit):
        main(["evaluate", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "predictions bundle (a name ending in .npz" in out and "val_logits/val_labels" in out
