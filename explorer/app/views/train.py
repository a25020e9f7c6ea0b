"""The Train page's logic: a checkpoint saved after every epoch, the live progress, the latent replay.

Streamlit stops a script run at its next UI update when the user leaves the page or touches a widget.
So the callback saves the epoch *before* it touches the UI, and records the run in session state as
it goes: a stopped run loses at most the epoch in progress, and the page can still show what was done.
"""

from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch

from explorer.app import cache, state
from explorer.core.checkpoints import save_checkpoint, user_dir
from explorer.core.config import ModelConfig, TrainConfig, default_configs
from explorer.core.data import Dataset
from explorer.core.implied import fit_implied
from explorer.core.models import LinearHead
from explorer.figures import latent_scatter, training_curves
from explorer.jobs.runs import check_writable, run_meta
from explorer.jobs.training import Progress, TrainResult, train
from explorer.measure.evaluation import evaluate
from explorer.measure.latents import gaussian_ellipse

PROGRESS_UPDATES = 20
"""Progress-bar updates per epoch (besides the epoch's end): each one is a websocket message."""


def defaults(dataset: str) -> tuple[ModelConfig, TrainConfig]:
    """The form's defaults for ``dataset``: :func:`default_configs` with the default method."""
    return default_configs(dataset, ModelConfig.method)


def field_key(dataset: str, name: str) -> str:
    """Session key of one form field; per dataset, so that switching datasets brings its defaults."""
    return f"{state.TRAIN_FIELD}:{dataset}:{name}"


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

    The metadata is :func:`explorer.jobs.runs.run_meta` of the run so far that :func:`train` hands over,
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
        """The run as plain data for session state: enough to redraw curves and replay, no model."""
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


class LiveProgress:
    """The app's training callback: save first, record the run in session state, then update the UI.

    Draws a progress bar (a few updates per epoch) and redraws the training curves at each epoch end.
    """

    def __init__(self, saver: EpochSaver) -> None:
        self.saver = saver
        self.bar = st.progress(0.0, text="Starting…")
        self.chart = st.empty()

    def __call__(self, progress: Progress) -> None:
        saved = self.saver(progress)  # before any UI call: a stop there must not lose this epoch
        if saved:
            st.session_state[state.TRAIN_RESULT] = self.saver.summary()
            cache.checkpoints.clear()  # the sidebar lists the file even if the run stops now
        every = max(1, progress.steps // PROGRESS_UPDATES)
        if saved or progress.step % every == 0:
            done = (progress.epoch - 1 + progress.step / progress.steps) / progress.epochs
            text = f"Epoch {progress.epoch} of {progress.epochs}, step {progress.step} of {progress.steps}"
            if saved:
                record = progress.record
                text += (f" · validation accuracy {record['val_accuracy']:.3f}, ECE {record['val_ece']:.3f}"
                         f" · saved")
            self.bar.progress(min(done, 1.0), text=text)
        if saved:
            self.chart.plotly_chart(training_curves(self.saver.history, list(self.saver.test.class_names),
                                                    title="Training so far"),
                                    width="stretch", key=f"live-curves-{progress.epoch}")


def train_live(dataset: str, model_config: ModelConfig, train_config: TrainConfig) -> dict:
    """Train on ``dataset`` with live progress, saving after every epoch; returns the run's summary.

    Raises ``DatasetUnavailableError`` (files missing offline) and ``ArgumentError`` (bad settings or
    an unwritable user folder) before any training starts, or ``ArgumentError`` from training itself.
    """
    data, test = cache.train_split(dataset), cache.test_split(dataset)
    path = checkpoint_path(dataset, model_config, train_config)
    check_writable(path)
    saver = EpochSaver(path, test, train_config)
    train(data, model_config, train_config, LiveProgress(saver))
    return saver.summary()


def replay_figure(run: dict, epoch: int) -> go.Figure:
    """The snapshot latents (d = 2) after ``epoch`` (0 = initialisation), with that epoch's 1σ and 2σ
    class ellipses, on axes fixed over the whole run so that the movement shows. A softmax run's are
    the member of its layer's implied family fitted to these latents (:mod:`explorer.core.implied`)."""
    z, labels = run["snapshots"][epoch], run["snapshot_labels"]
    means, covariances = run["means"][epoch], np.array([np.diag(v) for v in run["variances"][epoch]])
    kind = "learnt by the head"
    if run["method"] == "softmax":  # the recorded means are the centred weight rows: all the fit needs of W
        layer = LinearHead(means.shape[1], len(means)).double()
        with torch.no_grad():
            layer.linear.weight.copy_(torch.from_numpy(np.asarray(means, dtype=np.float64)))
        member = fit_implied(layer, z, labels, fitted_on=f"these {len(z)} latents")
        means, covariances = member.class_means().numpy(), member.covariances().numpy()
        kind = f"implied by the linear layer ({member.description})"
    ellipses = [(k, s, gaussian_ellipse(means[k], covariances[k], s))
                for k in range(len(means)) for s in (1.0, 2.0)]
    figure = latent_scatter(
        z, labels, run["class_names"], ellipses=ellipses,
        title=f"{run['method']}, epoch {epoch} of {run['epochs_done']}",
        note=f"{len(z)} validation points, the same at every epoch. Ellipses: 1σ and 2σ of each class "
             f"Gaussian {kind} at that epoch.")
    low, high = run["snapshots"].min(axis=(0, 1)), run["snapshots"].max(axis=(0, 1))
    margin = 0.05 * (high - low) + 1e-6
    figure.update_xaxes(range=[low[0] - margin[0], high[0] + margin[0]])
    figure.update_yaxes(range=[low[1] - margin[1], high[1] + margin[1]])
    return figure


def use_as(key: str, run: dict) -> None:
    """Button callback (runs before the sidebar is drawn): choose the run as model A or B."""
    cache.checkpoints.clear()
    st.session_state[state.DATASET] = run["dataset"]
    st.session_state[key] = run["path"]
