"""Whole jobs shared by the command line and the app: train, evaluate and save one model; the
low-data sweep, which trains one model per fraction of the training split, and one such run of a
given model and training configuration (the app's, read from a checkpoint)."""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from explorer.core.checkpoints import save_checkpoint
from explorer.core.config import ModelConfig, TrainConfig, default_configs
from explorer.core.data import Dataset, load_dataset, split_indices, stratified_fraction
from explorer.core.errors import ArgumentError
from explorer.jobs import distributed
from explorer.jobs.training import Progress, TrainResult, steps_per_epoch, train
from explorer.measure.evaluation import evaluate
from explorer.measure.robustness import sweep


def check_writable(path: Path) -> None:
    """Raise :class:`~explorer.core.errors.ArgumentError` unless a checkpoint can be written at ``path``."""
    if path.is_dir():
        raise ArgumentError(f"--out {path} is a folder; give a file name such as {path / 'model.pt'}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path.parent):
            pass
    except OSError as error:
        raise ArgumentError(f"cannot write to {path.parent}: {error.strerror}") from None


def run_meta(dataset: str, class_names: list[str], train_config: TrainConfig, result: TrainResult,
             metrics: dict[str, float]) -> dict:
    """A trained (or partly trained) model's checkpoint metadata: configs, metrics, history, snapshots."""
    return {
        "dataset": dataset,
        "class_names": class_names,
        "train_config": dataclasses.asdict(train_config),
        "metrics": metrics,
        "history": result.history,
        "class_counts": result.class_counts,
        "snapshots": result.snapshots,
        "snapshot_labels": result.snapshot_labels,
    }


def train_and_save(
    dataset: str,
    model_config: ModelConfig,
    train_config: TrainConfig,
    out: str | os.PathLike | None = None,
    callback: Callable[[Progress], None] | None = None,
    root: str | os.PathLike | None = None,
    max_train: int | None = None,
) -> tuple[TrainResult, dict]:
    """Train on ``dataset``'s training split, evaluate on its test split, save to ``out`` if given.

    Returns the training result and the checkpoint metadata (test metrics, history, configs,
    snapshots). ``max_train`` keeps a stratified subset of at most that many training images
    (the command line's ``--dry-run``).

    In a process group (``torchrun``) every rank trains and rank 0 alone evaluates and saves; its
    metadata records ``distributed: {world_size, backend}``. The other ranks return metadata
    without ``metrics``.
    """
    world = distributed.current()
    main = world is None or world.main
    if out is not None and main:
        check_writable(Path(out))  # before training, not after: a long run must not be lost
    data = load_dataset(dataset, "train", root=root)
    if max_train is not None and max_train < len(data):
        data = data.subset(stratified_fraction(data.y, max_train / len(data), seed=train_config.seed))
    result = train(data, model_config, train_config, callback)
    if not main:
        return result, {"dataset": dataset, "distributed": world.meta()}
    test = load_dataset(dataset, "test", root=root)
    meta = run_meta(dataset, list(data.class_names), train_config, result,
                    evaluate(result.model, test.x, test.y))
    if world is not None:
        meta["distributed"] = world.meta()
    if out is not None:
        save_checkpoint(Path(out), result.model, meta)
    return result, meta


def equal_step_epochs(labels, config: TrainConfig, fraction: float) -> int:
    """Epochs on ``fraction`` of the training split that take as many optimisation steps as ``config``'s run.

    ``labels`` are the training split's (N,); steps per epoch are ⌈n / batch size⌉ for the n images a
    run keeps (:func:`~explorer.core.data.split_indices`). So a low-data model trains as long as the
    full one, and its figures measure scarce data, not a shorter optimisation.
    """
    def steps(c: TrainConfig) -> int:
        return steps_per_epoch(len(split_indices(labels, c)[0]), c.batch_size)

    return max(1, round(config.epochs * steps(config) / steps(dataclasses.replace(config, train_fraction=fraction))))


def low_data_run(train_data: Dataset, test: Dataset, model_config: ModelConfig, train_config: TrainConfig,
                 fraction: float, callback: Callable[[Progress], None] | None = None) -> dict[str, float]:
    """Train ``model_config`` on a stratified ``fraction`` of the training split for as many optimisation
    steps as ``train_config``'s own run; its test metrics (:func:`~explorer.measure.evaluation.evaluate`).

    Every other setting is ``train_config``'s (a checkpoint's, say: its method's own objective, λ's and
    learning rate), seed included, so two models given the same seed see the same images. ``fraction``
    is of the whole training split, like :attr:`~explorer.core.config.TrainConfig.train_fraction`; the
    epochs are :func:`equal_step_epochs`, so the result measures scarce data, not a shorter optimisation.
    ``callback`` receives :func:`~explorer.jobs.training.train`'s progress after every step.
    """
    config = dataclasses.replace(train_config, train_fraction=fraction, snapshot_points=0,
                                 epochs=equal_step_epochs(train_data.y, train_config, fraction))
    return evaluate(train(train_data, model_config, config, callback).model, test.x, test.y)


def low_data_sweep(train_data: Dataset, test: Dataset, dataset: str, methods: Sequence[str],
                   fractions: Sequence[float], seed: int = 0, progress: Callable[[int, int], None] | None = None,
                   equal_steps: bool = False, **overrides: object) -> dict[str, dict[str, list[float]]]:
    """Train each method on stratified fractions of the training split; test accuracy and ECE.

    Returns {method: {"fraction": [...], "accuracy": [...], "ece": [...]}}. Every run uses the
    dataset's defaults (plus ``overrides``) and the same seed, so the methods see the same images.
    With ``equal_steps`` each fraction trains for as many optimisation steps as the reference run, the
    one of ``overrides`` (whose ``train_fraction``, if any, it keeps: the whole split otherwise;
    :func:`equal_step_epochs`); without, for as many epochs, so a fraction f gets f of the steps.
    """
    settings = {k: v for k, v in overrides.items() if k != "train_fraction"}
    reference = overrides.get("train_fraction")

    def accuracy_and_ece(method: str, fraction: float) -> dict[str, float]:
        if equal_steps:
            model_config, full = default_configs(dataset, method, train_fraction=reference, seed=seed, **settings)
            return low_data_run(train_data, test, model_config, full, fraction)
        model_config, train_config = default_configs(dataset, method, train_fraction=fraction, seed=seed,
                                                     snapshot_points=0, **settings)
        return evaluate(train(train_data, model_config, train_config).model, test.x, test.y)

    return sweep(methods, fractions, "fraction", accuracy_and_ece, progress)
