"""Whole jobs shared by the command line and the app: train, evaluate and save one model (at the
end, or after every epoch with :class:`EpochSaver` into :func:`checkpoint_path`, as the app's training
queue does); the low-data sweep, which trains one model per fraction of the training split, and one such run of a
given model and training configuration (the app's, read from a checkpoint)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import secrets
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from explorer.core.checkpoints import save_checkpoint, user_dir
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


def checkpoint_path(dataset: str, model_config: ModelConfig, train_config: TrainConfig,
                    now: dt.datetime | None = None) -> Path:
    """Where a run is saved: ``user_dir()/trained``, never ``checkpoints/`` (the shipped models).

    The name ends with the time and a random tag, so that two sessions starting the same run in the
    same second write two files, not one in turn.
    """
    stamp = (now or dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    name = (f"{dataset}-{model_config.encoder}-d{model_config.latent_dim}-{model_config.method}"
            f"-seed{train_config.seed}-{stamp}-{secrets.token_hex(3)}.pt")
    return user_dir() / "trained" / name


class EpochSaver:
    """Training callback that saves the model after every epoch to one file (atomically, in place).

    The metadata is :func:`run_meta` of the run so far that :func:`train` hands over,
    plus ``metrics_split`` and ``epochs_done``: after an intermediate epoch ``metrics`` are that
    epoch's validation accuracy, ECE and NLL (``metrics_split = "validation"``); after the last one,
    the full report on the test split (``"test"``).
    """

    def __init__(self, path: Path, test: Dataset, train_config: TrainConfig) -> None:
        self.path, self.test, self.train_config = Path(path), test, train_config
        self.result: TrainResult | None = None
        self.metrics: dict[str, float] = {}
        self.metrics_split = "validation"

    def __call__(self, progress: Progress) -> bool:
        """Save at an epoch's end (returns True); other steps pass through (False)."""
        if progress.result is None:
            return False
        self.result = result = progress.result
        if progress.epoch == progress.epochs:
            self.metrics = evaluate(result.model, self.test.x, self.test.y)
            self.metrics_split = "test"
        else:
            record = progress.record
            self.metrics = {"accuracy": record["val_accuracy"], "ece": record["val_ece"],
                            "nll": record["val_nll"]}
        save_checkpoint(self.path, result.model, self.meta())
        return True

    @property
    def history(self) -> list[dict]:
        return self.result.history if self.result is not None else []

    def meta(self) -> dict:
        return {**run_meta(self.test.name, list(self.test.class_names), self.train_config, self.result,
                           self.metrics),
                "metrics_split": self.metrics_split, "epochs_done": len(self.history)}

    def summary(self) -> dict:
        """The run so far as plain data (lists, numbers, numpy arrays), enough to redraw its curves and
        replay its latents without the model; call it after an epoch has been saved."""
        result = self.result
        config = result.model.config
        return {
            "path": str(self.path), "dataset": self.test.name, "method": config.method,
            "latent_dim": config.latent_dim, "seed": self.train_config.seed,
            "epochs": self.train_config.epochs, "epochs_done": len(result.history),
            "complete": len(result.history) == self.train_config.epochs,
            "class_names": list(self.test.class_names), "history": list(result.history),
            "metrics": dict(self.metrics), "metrics_split": self.metrics_split,
            "snapshots": result.snapshots.numpy() if result.snapshots is not None else None,
            "snapshot_labels": result.snapshot_labels.numpy() if result.snapshot_labels is not None else None,
            "means": result.prior_means.numpy(), "variances": result.prior_variances.numpy(),
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
