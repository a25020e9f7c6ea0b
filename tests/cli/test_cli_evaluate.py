"""``evaluate``: a checkpoint on its test split, shifted, temperature-scaled, on the validation split it
held out, or with its latent fit; and a predictions bundle's outputs measured with the same keys."""

import json
import re

import pytest

from cli_calls import evaluate_json, one_line_error
from explorer.cli import main
from explorer.core.checkpoints import SHIPPED_DIR, load_checkpoint


def test_evaluate_json(vc_checkpoint, capsys):
    assert main(["evaluate", str(vc_checkpoint), "--json"]) == 0
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


def test_softmax_latents_are_read_against_the_fitted_member_of_the_implied_family(capsys):
    """Σ = I puts digits d = 2 softmax latents thousands of times beyond χ²'s median; the member fitted to
    the 136 validation latents, a few times (METHOD.md §1)."""
    fits = {}
    for implied in ("identity", "diagonal", "full"):
        assert main(["evaluate", str(SHIPPED_DIR / "digits-mlp-d2-softmax.pt"), "--latent-fit", "--implied", implied,
                     "--json"]) == 0
        fits[implied] = json.loads(capsys.readouterr().out)
    assert fits["identity"]["r2_ratio"] > 1000 and fits["identity"]["implied_gaussians"] == "Σ = I, a convention"
    for implied in ("diagonal", "full"):
        assert 1 < fits[implied]["r2_ratio"] < 20 and fits[implied]["mean_ks"] < fits["identity"]["mean_ks"]
        assert "136 validation latents" in fits[implied]["implied_gaussians"]


def test_evaluate_on_the_validation_split_the_checkpoint_held_out(capsys):
    path = str(SHIPPED_DIR / "digits-mlp-d2-vc.pt")
    assert main(["evaluate", path, "--split", "validation", "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["split"] == "validation" and metrics["n"] == 136  # 10 % of digits' 1347 training images
    _, meta = load_checkpoint(path)
    assert metrics["accuracy"] == pytest.approx(meta["history"][-1]["val_accuracy"])  # what training saw
    assert main(["evaluate", path, "--split", "validation", "--dataset", "mnist"]) == 1
    assert "drop --dataset" in capsys.readouterr().err


def test_evaluate_under_corruption_loses_accuracy(vc_checkpoint, capsys):
    main(["evaluate", str(vc_checkpoint), "--json"])
    clean = json.loads(capsys.readouterr().out)
    main(["evaluate", str(vc_checkpoint), "--corruption", "gaussian_noise", "--severity", "5", "--json"])
    shifted = json.loads(capsys.readouterr().out)
    assert shifted["corruption"] == "gaussian_noise" and shifted["severity"] == 5
    assert shifted["accuracy"] < clean["accuracy"]


def test_temperature_scaling_is_fitted_on_validation_data_and_keeps_accuracy(vc_checkpoint, capsys):
    main(["evaluate", str(vc_checkpoint), "--json"])
    plain = json.loads(capsys.readouterr().out)
    main(["evaluate", str(vc_checkpoint), "--temperature-scaling", "--json"])
    scaled = json.loads(capsys.readouterr().out)
    assert plain["temperature"] == 1.0 and scaled["temperature"] > 0 and scaled["temperature"] != 1.0
    assert scaled["accuracy"] == plain["accuracy"]  # dividing logits by T > 0 keeps every argmax


def test_evaluate_a_bundle_measures_its_logits_with_a_checkpoints_keys(logistic_bundle, capsys):
    from scipy.special import softmax

    from explorer.measure.calibration import calibration_report

    folder, arrays = logistic_bundle
    metrics = evaluate_json(folder / "full.npz", "--bins", "10", capsys=capsys)
    direct = calibration_report(softmax(arrays["logits"], axis=1), arrays["labels"], n_bins=10)
    assert metrics["ece"] == pytest.approx(direct["ece"], abs=1e-12) and metrics["ece"] > 0
    assert {k: metrics[k] for k in direct} == pytest.approx(direct)
    assert metrics["dataset"] == "digits" and metrics["split"] == "test" and metrics["temperature"] == 1.0
    checkpoint_keys = set(evaluate_json(SHIPPED_DIR / "digits-mlp-d2-vc.pt", capsys=capsys))
    assert set(metrics) == checkpoint_keys - {"corruption", "severity"}  # a bundle cannot be shifted
    assert evaluate_json(folder / "bare.npz", capsys=capsys)["dataset"] is None


def test_bundle_temperature_is_fitted_on_its_validation_outputs(logistic_bundle, capsys):
    from explorer.measure.calibration import calibration_report
    from explorer.measure.recalibration import apply_temperature, fit_temperature

    folder, arrays = logistic_bundle
    plain = evaluate_json(folder / "full.npz", capsys=capsys)
    scaled = evaluate_json(folder / "full.npz", "--temperature-scaling", capsys=capsys)
    t = fit_temperature(arrays["val_logits"], arrays["val_labels"])
    assert t != pytest.approx(1.0, abs=0.05) and scaled["temperature"] == pytest.approx(t)
    assert scaled["ece"] == pytest.approx(calibration_report(apply_temperature(arrays["logits"], t),
                                                             arrays["labels"])["ece"])
    assert scaled["accuracy"] == plain["accuracy"] and scaled["nll"] < plain["nll"]
    held_out = evaluate_json(folder / "full.npz", "--split", "validation", capsys=capsys)
    assert held_out["split"] == "validation" and held_out["n"] == len(arrays["val_labels"]) == 347
    for flags in (["--temperature-scaling"], ["--split", "validation"]):
        err = one_line_error(["evaluate", str(folder / "bare.npz"), *flags], capsys)
        assert "no val_logits/val_labels" in err


def test_bundle_latent_fit_reads_its_latents_against_its_last_layer(logistic_bundle, capsys):
    from explorer.core.bundles import load_bundle
    from explorer.measure.latents import fit_latents

    folder, arrays = logistic_bundle
    bundle = load_bundle(folder / "full.npz")
    for implied in ("diagonal", "identity"):
        metrics = evaluate_json(folder / "full.npz", "--latent-fit", "--implied", implied, capsys=capsys)
        fit = fit_latents(bundle.implied_gaussians(implied), arrays["latents"], arrays["labels"])
        assert metrics["reference_law"] == "χ²(64)" and metrics["r2_ratio"] == pytest.approx(fit.median_ratio)
        assert metrics["mean_ks"] == pytest.approx(fit.mean_ks)
    # this bundle has no val_latents: the member is fitted on the test latents, and the output says so
    assert "no validation latents" in evaluate_json(folder / "full.npz", "--latent-fit", capsys=capsys)[
        "implied_gaussians"]
    assert "no latents" in one_line_error(["evaluate", str(folder / "bare.npz"), "--latent-fit"], capsys)
    assert "drop --split validation" in one_line_error(
        ["evaluate", str(folder / "full.npz"), "--latent-fit", "--split", "validation"], capsys)


def test_bundle_latent_fit_needs_the_last_layer(logistic_bundle, tmp_path, capsys):
    from explorer.core.bundles import save_bundle

    _, arrays = logistic_bundle
    save_bundle(tmp_path / "z.npz", logits=arrays["logits"], labels=arrays["labels"], latents=arrays["latents"])
    assert "no weight/bias" in one_line_error(["evaluate", str(tmp_path / "z.npz"), "--latent-fit"], capsys)


@pytest.mark.parametrize("flags", [["--corruption", "gaussian_noise"], ["--dataset", "mnist"]])
def test_a_bundle_cannot_be_shifted(logistic_bundle, flags, capsys):
    folder, _ = logistic_bundle
    err = one_line_error(["evaluate", str(folder / "full.npz"), *flags], capsys)
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
    assert message in one_line_error(["evaluate", str(path)], capsys)


def test_every_metric_comes_with_its_bootstrap_interval(capsys):
    from explorer.measure.calibration import METRICS
    from explorer.measure.intervals import LEVEL

    metrics = evaluate_json(SHIPPED_DIR / "digits-mlp-d2-vc.pt", "--resamples", "200", capsys=capsys)
    assert set(metrics["intervals"]) == set(METRICS)
    assert metrics["level"] == LEVEL and metrics["n_resamples"] == 200
    for k, (low, high) in metrics["intervals"].items():
        assert 0 <= low < high, k
    for k in ("accuracy", "nll", "brier"):  # means over the examples; a calibration error's interval may
        low, high = metrics["intervals"][k]  # leave its biased estimate out (explorer.measure.intervals.BASIC)
        assert low <= metrics[k] <= high, k
    assert "intervals" not in evaluate_json(SHIPPED_DIR / "digits-mlp-d2-vc.pt", "--resamples", "0", capsys=capsys)
    assert main(["evaluate", str(SHIPPED_DIR / "digits-mlp-d2-vc.pt"), "--resamples", "100"]) == 0
    table = capsys.readouterr().out
    assert re.search(r"\n\s+ece  0\.\d{4} \[0\.\d{4}, 0\.\d{4}\]\n", table), table


def test_recalibrate_fits_on_validation_and_measures_the_test_split(logistic_bundle, capsys):
    from explorer.measure.calibration import calibration_report
    from explorer.measure.recalibration import RECALIBRATORS, fit_recalibrator

    folder, arrays = logistic_bundle
    plain = evaluate_json(folder / "full.npz", "--resamples", "0", capsys=capsys)
    for name in RECALIBRATORS:
        fixed = evaluate_json(folder / "full.npz", "--recalibrate", name, "--resamples", "0", capsys=capsys)
        fitted = fit_recalibrator(name, arrays["val_logits"], arrays["val_labels"])
        direct = calibration_report(fitted.probs(arrays["logits"]), arrays["labels"])
        assert {k: fixed[k] for k in direct} == pytest.approx(direct), name
        assert fixed["recalibration"] == f"{name}: {fitted.describe()}"
        assert fixed["nll"] < plain["nll"] or name in ("histogram", "isotonic"), name
    assert evaluate_json(folder / "full.npz", "--temperature-scaling", "--resamples", "0",
                         capsys=capsys)["recalibration"].startswith("temperature: T = ")


def test_recalibrate_refuses_what_it_cannot_do(logistic_bundle, capsys):
    folder, _ = logistic_bundle
    err = one_line_error(["evaluate", str(folder / "bare.npz"), "--recalibrate", "vector"], capsys)
    assert "no val_logits/val_labels" in err
    err = one_line_error(["evaluate", str(folder / "full.npz"), "--recalibrate", "matrix", "--split", "validation"],
                         capsys)
    assert "drop --split validation" in err
    err = one_line_error(["evaluate", str(folder / "full.npz"), "--recalibrate", "matrix", "--temperature-scaling"],
                         capsys)
    assert "choose one" in err
    err = one_line_error(["evaluate", str(folder / "full.npz"), "--resamples", "1"], capsys)
    assert "--resamples" in err


def test_selective_gives_aurc_with_intervals_and_risks_at_coverages(logistic_bundle, capsys):
    from scipy.special import softmax

    from explorer.cli.evaluate import COVERAGES
    from explorer.measure.selective import aurc, e_aurc, selective_risk

    folder, arrays = logistic_bundle
    metrics = evaluate_json(folder / "full.npz", "--selective", "--resamples", "200", capsys=capsys)
    probs = softmax(arrays["logits"], axis=1)
    confidence, correct = probs.max(axis=1), probs.argmax(axis=1) == arrays["labels"]
    assert metrics["aurc"] == pytest.approx(aurc(confidence, correct))
    assert metrics["e_aurc"] == pytest.approx(e_aurc(confidence, correct))
    for k in ("aurc", "e_aurc"):
        low, high = metrics["intervals"][k]
        assert low <= metrics[k] <= high
    assert metrics["selective_risk"] == pytest.approx({f"{c:g}": selective_risk(confidence, correct, c)
                                                       for c in COVERAGES})
    assert metrics["selective_risk"]["0.5"] <= metrics["selective_risk"]["0.95"]
    assert "aurc" not in evaluate_json(folder / "full.npz", "--resamples", "0", capsys=capsys)
    assert main(["evaluate", str(folder / "full.npz"), "--selective", "--resamples", "100"]) == 0
    table = capsys.readouterr().out
    assert re.search(r"\n\s+e_aurc  -?0\.\d{4} \[-?0\.\d{4}, 0\.\d{4}\]\n", table), table
    assert "risk @ 0.9" in table


def test_selective_on_a_checkpoint(capsys):
    metrics = evaluate_json(SHIPPED_DIR / "digits-mlp-d2-vc.pt", "--selective", "--resamples", "0", capsys=capsys)
    assert 0 <= metrics["e_aurc"] <= metrics["aurc"] <= 1 - metrics["accuracy"] + 0.05


def test_conformal_calibrates_on_validation_outputs_and_covers_the_test_split(logistic_bundle, capsys):
    from scipy.special import softmax

    from explorer.measure.conformal import prediction_sets, set_coverage

    folder, arrays = logistic_bundle
    for score in ("lac", "aps", "raps"):
        found = evaluate_json(folder / "full.npz", "--conformal", "--score", score, "--alpha", "0.2",
                              "--resamples", "0", capsys=capsys)["conformal"]
        sets = prediction_sets(softmax(arrays["val_logits"], axis=1), arrays["val_labels"],
                               softmax(arrays["logits"], axis=1), 0.2, score)
        direct = set_coverage(sets, arrays["labels"])
        assert found["coverage"] == pytest.approx(direct.coverage) and found["score"] == score
        assert found["mean_set_size"] == pytest.approx(direct.mean_size)
        assert found["n_calibration"] == len(arrays["val_labels"]) and len(found["per_class_coverage"]) == 10
        assert abs(found["coverage"] - 0.8) < 4 * found["coverage_se"] + 0.02
    assert main(["evaluate", str(folder / "full.npz"), "--conformal", "--resamples", "0"]) == 0
    table = capsys.readouterr().out
    assert re.search(r"coverage  0\.\d{4} ± 0\.\d{4} \(binomial SE\)", table), table
    assert "per-class cov." in table and "mean set size" in table


def test_conformal_on_a_checkpoint_uses_its_validation_split(capsys):
    found = evaluate_json(SHIPPED_DIR / "digits-mlp-d2-vc.pt", "--conformal", "--mondrian", "--resamples", "0",
                          capsys=capsys)["conformal"]
    assert found["n_calibration"] == 136 and found["mondrian"] and found["n"] == 450
    assert 0.8 < found["coverage"] <= 1 and found["mean_set_size"] > 0


def test_conformal_refuses_what_it_cannot_do(logistic_bundle, capsys):
    folder, _ = logistic_bundle
    err = one_line_error(["evaluate", str(folder / "bare.npz"), "--conformal"], capsys)
    assert "no val_logits/val_labels" in err and "--conformal" in err
    err = one_line_error(["evaluate", str(folder / "full.npz"), "--conformal", "--split", "validation"], capsys)
    assert "drop --split validation" in err
    err = one_line_error(["evaluate", str(folder / "full.npz"), "--conformal", "--alpha", "1.5"], capsys)
    assert "--alpha" in err


def test_conformal_flags_an_infinite_threshold(capsys):
    # 136 validation examples, about 14 a class: too few for a class's threshold at alpha 0.05 (19 needed)
    found = evaluate_json(SHIPPED_DIR / "digits-mlp-d2-vc.pt", "--conformal", "--mondrian", "--alpha", "0.05",
                          "--resamples", "0", capsys=capsys)["conformal"]
    assert found["infinite_threshold"] and found["infinite_threshold_classes"]
    assert None in found["threshold"] and "threshold +inf for class" in found["warning"]
    assert main(["evaluate", str(SHIPPED_DIR / "digits-mlp-d2-vc.pt"), "--conformal", "--mondrian", "--alpha",
                 "0.05", "--resamples", "0"]) == 0
    assert re.search(r"WARNING\s+threshold \+inf for class", capsys.readouterr().out)
    found = evaluate_json(SHIPPED_DIR / "digits-mlp-d2-vc.pt", "--conformal", "--resamples", "0",
                          capsys=capsys)["conformal"]
    assert not found["infinite_threshold"] and found["warning"] is None


def test_conformal_keep_top_leaves_no_set_empty(logistic_bundle, capsys):
    folder, _ = logistic_bundle
    args = ("--conformal", "--score", "aps", "--alpha", "0.2", "--resamples", "0")
    plain = evaluate_json(folder / "full.npz", *args, capsys=capsys)["conformal"]
    kept = evaluate_json(folder / "full.npz", *args, "--keep-top", capsys=capsys)["conformal"]
    assert kept["keep_top"] and not plain["keep_top"] and kept["set_size_counts"][0] == 0
    assert kept["coverage"] >= plain["coverage"]
