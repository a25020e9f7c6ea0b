"""Tests for explorer.measure.evaluation: a model's, its outputs', a bundle's and a checkpoint's report,
and temperature scaling fitted on the held-out outputs each comes with."""

import numpy as np
import pytest
from scipy.special import softmax

from calibration_data import labelled_logits
from conftest import quick_configs
from explorer.core.data import load_dataset, split_indices
from explorer.jobs.training import train
from explorer.measure.calibration import calibration_report
from explorer.measure.evaluation import (bundle_recalibrator, checkpoint_recalibrator, checkpoint_temperature,
                                         evaluate, evaluate_bundle, evaluate_outputs, validation_temperature)
from explorer.measure.inference import predict
from explorer.measure.recalibration import fit_recalibrator, fit_temperature


@pytest.fixture(scope="module")
def trained():
    data = load_dataset("digits", "train")
    model_config, train_config = quick_configs("vc", epochs=5, hidden=64)
    return data, train(data, model_config, train_config).model, train_config


def test_evaluate_reports_every_metric_and_temperature_keeps_accuracy(trained):
    _, model, _ = trained
    test = load_dataset("digits", "test")
    plain, hot = evaluate(model, test.x, test.y), evaluate(model, test.x, test.y, temperature=3.0)
    assert {"accuracy", "ece", "mce", "adaptive_ece", "classwise_ece", "nll", "brier", "n"} <= set(plain)
    assert plain["accuracy"] == hot["accuracy"] and plain["nll"] != hot["nll"]


def test_validation_temperature_uses_only_the_held_out_split(trained):
    data, model, train_config = trained
    _, val_idx = split_indices(data.y, train_config)
    logits, _ = predict(model, data.x[val_idx])
    expected = fit_temperature(logits.numpy(), data.y[val_idx].numpy())
    assert validation_temperature(model, data, train_config) == pytest.approx(expected)
    assert np.isfinite(expected) and expected > 0


def test_checkpoint_temperature_needs_the_recorded_training_config(trained):
    import dataclasses

    data, model, train_config = trained
    meta = {"train_config": dataclasses.asdict(train_config)}
    assert checkpoint_temperature(model, meta, data) == pytest.approx(
        validation_temperature(model, data, train_config))
    with pytest.raises(ValueError, match="does not record its training split"):
        checkpoint_temperature(model, {}, data)


def test_evaluate_outputs_and_a_bundle_report_the_scaled_softmax():
    from explorer.core.bundles import check_bundle
    from explorer.core.errors import ArgumentError, BundleError

    logits, labels = labelled_logits(seed=3, t_true=2.0, n=400)
    assert evaluate_outputs(logits, labels, n_bins=5, temperature=2.0) == calibration_report(
        softmax(logits / 2.0, axis=1), labels, n_bins=5)
    bundle = check_bundle(logits=logits[:300], labels=labels[:300], val_logits=logits[300:], val_labels=labels[300:])
    scaled = evaluate_bundle(bundle, temperature_scaling=True)
    t = fit_temperature(logits[300:], labels[300:])
    assert scaled["temperature"] == t and scaled["dataset"] is None and scaled["n"] == 300
    assert scaled["ece"] == evaluate_outputs(logits[:300], labels[:300], temperature=t)["ece"]
    assert evaluate_bundle(bundle, "validation")["n"] == 100
    bare = check_bundle(logits=logits, labels=labels)
    for kwargs in ({"temperature_scaling": True}, {"split": "validation"}):
        with pytest.raises(BundleError, match="no val_logits/val_labels"):
            evaluate_bundle(bare, **kwargs)
    with pytest.raises(ArgumentError, match="split must be one of test, validation"):
        evaluate_bundle(bare, "train")


def test_checkpoint_recalibrator_is_fitted_on_the_held_out_split(trained):
    import dataclasses

    data, model, train_config = trained
    meta = {"train_config": dataclasses.asdict(train_config)}
    _, val_idx = split_indices(data.y, train_config)
    logits, _ = predict(model, data.x[val_idx])
    fitted = checkpoint_recalibrator(model, meta, data, "vector")
    expected = fit_recalibrator("vector", logits.numpy(), data.y[val_idx].numpy())
    np.testing.assert_allclose(fitted.weight, expected.weight)
    with pytest.raises(ValueError, match="unknown recalibrator 'platt'"):
        checkpoint_recalibrator(model, meta, data, "platt")


def test_bundle_recalibrator_needs_validation_outputs():
    from explorer.core.bundles import check_bundle
    from explorer.core.errors import BundleError

    logits, labels = labelled_logits(seed=4, t_true=2.0, n=1000)
    bundle = check_bundle(logits=logits[:500], labels=labels[:500], val_logits=logits[500:], val_labels=labels[500:])
    fitted = bundle_recalibrator(bundle, "isotonic")
    np.testing.assert_array_equal(fitted.probs(bundle.logits),
                                  fit_recalibrator("isotonic", logits[500:], labels[500:]).probs(logits[:500]))
    assert bundle_recalibrator(bundle, "temperature").temperature == fit_temperature(logits[500:], labels[500:])
    with pytest.raises(BundleError, match="no val_logits/val_labels, so no matrix recalibrator can be fitted"):
        bundle_recalibrator(check_bundle(logits=logits, labels=labels), "matrix")
