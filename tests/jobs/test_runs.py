"""Tests for explorer.jobs.runs: the low-data sweep, the per-epoch saver and where a run is saved
(train_and_save is exercised through the CLI tests)."""

import re

import numpy as np
import torch

from conftest import quick_configs
from explorer.core.checkpoints import load_checkpoint

from explorer.core.data import load_dataset
from explorer.jobs.runs import EpochSaver, checkpoint_path, low_data_sweep
from explorer.jobs.training import train


def test_low_data_sweep_trains_each_method_at_each_fraction():
    train_data, test = load_dataset("digits", "train"), load_dataset("digits", "test")
    results = low_data_sweep(train_data, test, "digits", ["softmax", "vc"], [0.1, 1.0], epochs=5, hidden=32)
    for rows in results.values():
        assert rows["fraction"] == [0.1, 1.0]
        assert rows["accuracy"][1] > rows["accuracy"][0] - 0.05  # more data does not hurt much
    assert results["softmax"]["accuracy"][1] > 0.5


def test_equal_step_epochs_match_the_reference_runs_steps():
    import math

    from explorer.core.config import default_configs
    from explorer.core.data import split_indices
    from explorer.jobs.runs import equal_step_epochs

    labels = load_dataset("digits", "train").y
    _, config = default_configs("digits", "vc", epochs=60, train_fraction=0.5)
    reference = 60 * math.ceil(len(split_indices(labels, config)[0]) / config.batch_size)  # 606 images: 10 a epoch
    assert reference == 600
    assert equal_step_epochs(labels, config, 0.5) == 60
    assert equal_step_epochs(labels, config, 0.05) == 600  # 61 images: one batch of 64 an epoch
    assert equal_step_epochs(labels, config, 0.25) == 120  # 303 images: 5 batches


def test_low_data_at_equal_steps_trains_longer_on_less(monkeypatch):
    import explorer.jobs.runs as runs

    train_data, test = load_dataset("digits", "train"), load_dataset("digits", "test")
    epochs = []
    real_train = runs.train
    monkeypatch.setattr(runs, "train",
                        lambda data, m, t, callback=None: epochs.append(t.epochs) or real_train(data, m, t))
    low_data_sweep(train_data, test, "digits", ["softmax"], [0.25], equal_steps=True, epochs=3, hidden=32,
                   train_fraction=0.5)
    low_data_sweep(train_data, test, "digits", ["softmax"], [0.25], epochs=3, hidden=32, train_fraction=0.5)
    assert epochs == [6, 3]


def test_a_low_data_run_keeps_its_configuration_and_steps_and_reports_them(monkeypatch):
    import dataclasses

    import explorer.jobs.runs as runs
    from explorer.core.config import RELEASED, default_configs
    from explorer.jobs.runs import equal_step_epochs, low_data_run

    train_data, test = load_dataset("digits", "train"), load_dataset("digits", "test")
    model_config, config = default_configs("digits", "vc", epochs=2, hidden=32, seed=3, **RELEASED)
    seen, steps = [], []
    real_train = runs.train
    monkeypatch.setattr(runs, "train",
                        lambda data, m, t, callback=None: seen.append(t) or real_train(data, m, t, callback))
    metrics = low_data_run(train_data, test, model_config, config, 0.25, callback=steps.append)
    (trained,) = seen
    assert trained == dataclasses.replace(config, train_fraction=0.25, snapshot_points=0,
                                          epochs=equal_step_epochs(train_data.y, config, 0.25))
    assert trained.objective == "released" and trained.kl_estimator == "linear" and trained.seed == 3
    assert trained.epochs > config.epochs and len(steps) == trained.epochs * steps[0].steps
    assert 0 <= metrics["ece"] <= 1 and metrics["accuracy"] > 0.3


def test_the_epoch_saver_saves_after_every_epoch_what_train_records(tmp_path):
    """Alone, without the app: one file rewritten per epoch; validation metrics until the last epoch."""
    model_config, train_config = quick_configs("vc", epochs=3)
    data, test = load_dataset("digits", "train"), load_dataset("digits", "test")
    path = tmp_path / "trained" / "run.pt"
    saver = EpochSaver(path, test, train_config)
    seen = []

    def callback(progress):
        if saver(progress):
            _, meta = load_checkpoint(path)
            seen.append((meta["epochs_done"], meta["metrics_split"], len(meta["history"]),
                         meta["metrics"]["accuracy"], progress.record["val_accuracy"]))

    result = train(data, model_config, train_config, callback)
    assert [s[:3] for s in seen] == [(1, "validation", 1), (2, "validation", 2), (3, "test", 3)]
    assert all(acc == val for _, split, _, acc, val in seen if split == "validation")
    assert [p.name for p in path.parent.iterdir()] == ["run.pt"]  # no temporary files left
    # The saver's snapshots are train()'s own: same points, same latents, epoch 0 included.
    _, meta = load_checkpoint(path)
    assert torch.allclose(meta["snapshots"], result.snapshots, atol=1e-5)
    assert torch.equal(meta["snapshot_labels"], result.snapshot_labels)
    assert meta["class_counts"] == result.class_counts and meta["history"] == result.history
    summary = saver.summary()
    assert summary["complete"] and summary["means"].shape == (4, 10, 2)
    assert np.isfinite(summary["variances"]).all() and (summary["variances"] > 0).all()


def test_the_checkpoint_name_and_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(tmp_path / "runs"))
    import datetime as dt

    model_config, train_config = quick_configs("lgm", seed=7)
    now = dt.datetime(2025, 1, 2, 3, 4, 5)
    path = checkpoint_path("digits", model_config, train_config, now)
    assert path.parent == tmp_path / "runs" / "trained"
    assert re.fullmatch(r"digits-mlp-d2-lgm-seed7-20250102-030405-[0-9a-f]{6}\.pt", path.name), path.name
    # two sessions starting the same run in the same second get two files
    assert checkpoint_path("digits", model_config, train_config, now) != path
