import numpy as np
import pytest
import torch

from conftest import quick_configs
from explorer.core.data import load_dataset, split_indices
from explorer.core.models import build_model
from explorer.jobs.training import train
from explorer.measure.calibration import evaluate, fit_temperature, validation_temperature
from explorer.measure.inference import predict


@pytest.fixture(scope="module")
def trained():
    data = load_dataset("digits", "train")
    model_config, train_config = quick_configs("vc", epochs=5, hidden=64)
    return data, train(data, model_config, train_config).model, train_config


def test_predict_restores_the_mode_and_batches_consistently():
    model = build_model(quick_configs("softmax")[0], seed=0).train()
    x = torch.rand(10, 1, 8, 8)
    logits, z = predict(model, x, batch_size=3)
    assert model.training and logits.shape == (10, 10) and z.shape == (10, 2)
    assert torch.allclose(logits, predict(model, x, batch_size=10)[0], atol=1e-6)


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

    from explorer.measure.calibration import checkpoint_temperature

    data, model, train_config = trained
    meta = {"train_config": dataclasses.asdict(train_config)}
    assert checkpoint_temperature(model, meta, data) == pytest.approx(
        validation_temperature(model, data, train_config))
    with pytest.raises(ValueError, match="does not record its training split"):
        checkpoint_temperature(model, {}, data)
