import math

import pytest
import torch

from conftest import quick_configs
from explorer.config import default_configs
from explorer.data import load_dataset
from explorer.evaluation import evaluate, predict
from explorer.training import Progress, resolve_device, split_indices, train


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", "train"), load_dataset("digits", "test")


def test_every_method_trains_and_reports_its_terms(digits, method):
    model_config, train_config = quick_configs(method)
    calls: list[Progress] = []
    result = train(digits[0], model_config, train_config, callback=calls.append)

    assert len(result.history) == 2 and [r["epoch"] for r in result.history] == [1, 2]
    expected = {"loss", "cross_entropy", "prior_nll", "val_accuracy", "val_ece", "val_nll", "latent_norm"}
    if method == "vc":
        expected |= {"kl_estimate", "disc_accuracy"}
    for record in result.history:
        assert expected <= set(record)
        assert ("kl_estimate" in record) == (method == "vc")
        assert all(math.isfinite(v) for v in record["latent_norm"]) and len(record["latent_norm"]) == 10
        assert all(math.isfinite(record[k]) for k in expected - {"latent_norm"})
    if method == "vc":
        assert all(0 <= r["disc_accuracy"] <= 1 for r in result.history)

    steps = calls[0].steps
    assert len(calls) == 2 * steps
    assert [c.record is not None for c in calls].count(True) == 2
    assert calls[steps - 1].record is result.history[0]
    assert result.snapshots.shape == (3, 16, 2) and result.snapshot_labels.shape == (16,)
    assert not result.model.training


def test_training_is_deterministic_for_a_seed(digits):
    model_config, train_config = quick_configs("vc")
    a = train(digits[0], model_config, train_config)
    b = train(digits[0], model_config, train_config)
    assert a.history[-1]["loss"] == b.history[-1]["loss"]
    for p, q in zip(a.model.state_dict().values(), b.model.state_dict().values()):
        assert torch.equal(p, q)
    c = train(digits[0], *quick_configs("vc", seed=1))
    assert c.history[-1]["loss"] != a.history[-1]["loss"]


def test_class_prior_is_the_training_frequency(digits):
    result = train(digits[0], *quick_configs("gaussian", epochs=1))
    counts = torch.tensor(result.class_counts, dtype=torch.float)
    assert torch.allclose(result.model.head.log_class_prior().exp(), counts / counts.sum())


def test_train_fraction_and_validation_split(digits):
    labels = digits[0].y
    _, train_config = quick_configs("softmax", train_fraction=0.1)
    train_idx, val_idx = split_indices(labels, train_config)
    full_idx, same_val = split_indices(labels, quick_configs("softmax")[1])
    assert torch.equal(val_idx, same_val)  # the validation split does not depend on the fraction
    assert set(train_idx.tolist()) <= set(full_idx.tolist())
    assert not set(train_idx.tolist()) & set(val_idx.tolist())
    assert len(train_idx) == pytest.approx(0.1 * len(full_idx), abs=10)
    assert torch.bincount(labels[train_idx]).min() >= 1
    result = train(digits[0], *quick_configs("softmax", train_fraction=0.1, epochs=1))
    assert sum(result.class_counts) == len(train_idx)


def test_snapshots_replay_the_recorded_latents(digits):
    result = train(digits[0], *quick_configs("lgm"))
    _, val_idx = split_indices(digits[0].y, quick_configs("lgm")[1])
    val = digits[0].subset(val_idx)
    _, z = predict(result.model, val.x)
    # The last snapshot is the final model's latents of some validation points.
    last = result.snapshots[-1]
    matches = torch.cdist(last, z).min(dim=1).values
    assert matches.max() < 1e-4


@pytest.mark.parametrize("latent_dim, floor", [(16, 0.96), (2, 0.92)])
@pytest.mark.parametrize("name", ["softmax", "vc"])
def test_default_digits_training_reaches_the_accuracy_floor(digits, name, latent_dim, floor):
    """The README's promise: the defaults give a good model (≥ 96 % at d = 16, ≥ 92 % at d = 2)."""
    result = train(digits[0], *default_configs("digits", name, latent_dim=latent_dim))
    test = digits[1]
    metrics = evaluate(result.model, test.x, test.y)
    assert metrics["accuracy"] >= floor
    assert metrics["ece"] < 0.06


def test_softmax_latents_grow_while_vc_latents_stay_put(digits):
    """METHOD.md §2: under CE alone latent norms keep growing; the KL term holds them to the prior."""
    norms = {}
    for name in ("softmax", "vc"):
        result = train(digits[0], *default_configs("digits", name, latent_dim=2, epochs=30))
        norms[name] = [sum(r["latent_norm"]) / 10 for r in result.history]
    assert norms["softmax"][-1] > 2 * norms["softmax"][4]
    assert norms["vc"][-1] < 1.5 * norms["vc"][4]
    assert norms["softmax"][-1] > 5 * norms["vc"][-1]


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in {"cpu", "cuda", "mps"}
