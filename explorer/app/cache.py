"""Every ``st.cache_*`` wrapper of the app, and nothing else. Cached objects are shared by all
sessions: never mutate them.

A function of a checkpoint file is cached with :func:`_per_file`, under the file's path and
modification time, so a retrained checkpoint is read again.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import numpy as np
import streamlit as st
import torch

from explorer.app import umap_worker
from explorer.core.checkpoints import Entry, file_digest, list_checkpoints, load_checkpoint
from explorer.core.config import AttackConfig, ProjectionConfig
from explorer.core.data import ImageData, dataset_info, load_dataset, subset_indices
from explorer.core.models import Classifier
from explorer.jobs.runs import low_data_sweep
from explorer.measure.attacks import robust_accuracy as _robust_accuracy
from explorer.measure.calibration import checkpoint_temperature
from explorer.measure.corruptions import corrupt
from explorer.measure.inference import predict
from explorer.measure.latents import LatentFit, latent_fit
from explorer.measure.ood import noise_images, ood_comparison
from explorer.measure.projection import Projection, fit_projection
from explorer.measure.robustness import shift_curves


def _per_file(cache: Callable) -> Callable:
    """Decorator: cache ``fn(path, *args)`` with ``cache`` (an ``st.cache_*``) under the file's path,
    its modification time and ``args``. The result has ``.clear()`` as the cached function does."""
    def decorate(fn: Callable) -> Callable:
        @functools.wraps(fn)  # Streamlit tells cached functions apart by name and source
        def keyed(path: str, mtime: float, *args, **kwargs):
            return fn(Path(path), *args, **kwargs)

        cached = cache(keyed)

        @functools.wraps(fn)
        def call(path: str | Path, *args, **kwargs):
            path = Path(path)
            return cached(str(path), path.stat().st_mtime, *args, **kwargs)

        call.clear = cached.clear
        return call

    return decorate


@_per_file(st.cache_resource(show_spinner="Loading checkpoint…"))
def model(path: Path) -> tuple[Classifier, dict]:
    """(model in eval mode, meta); raises CheckpointError for an unusable file."""
    return load_checkpoint(path)


@_per_file(st.cache_data(show_spinner=False, max_entries=256))
def digest(path: Path) -> str:
    """SHA-256 of the checkpoint file: its identity in the projection cache."""
    return file_digest(path)


@st.cache_data(ttl=30, show_spinner=False)
def checkpoints() -> tuple[list[Entry], list[str]]:
    """Listed checkpoints and the problems met while listing (re-read every 30 s)."""
    return list_checkpoints()


@st.cache_resource(show_spinner="Loading the test split…")
def test_split(dataset: str) -> ImageData:
    return load_dataset(dataset, "test")


@st.cache_resource(show_spinner="Loading the training split…")
def train_split(dataset: str) -> ImageData:
    return load_dataset(dataset, "train")


def test_sample(dataset: str, n: int, seed: int) -> ImageData:
    """At most ``n`` test images of ``dataset`` drawn with ``seed`` (:func:`explorer.core.data.subset_indices`)."""
    data = test_split(dataset)
    return data.subset(torch.from_numpy(subset_indices(len(data.y), n, seed)))


@_per_file(st.cache_resource(show_spinner="Computing latents…"))
def outputs(path: Path, dataset: str) -> dict[str, np.ndarray]:
    """Test-split logits and class probabilities (float64), latents and labels of a checkpoint. Read-only."""
    net, _ = model(path)
    data = test_split(dataset)
    logits, latents = predict(net, data.x)
    logits = logits.double()
    return {"logits": logits.numpy(), "probs": torch.softmax(logits, dim=1).numpy(),
            "latents": latents.numpy(), "labels": data.y.numpy()}


@_per_file(st.cache_resource(show_spinner="Checking the latents against the prior…"))
def fit(path: Path, dataset: str) -> LatentFit:
    """The χ² check of the checkpoint's test latents (:func:`explorer.measure.latents.latent_fit`)."""
    net, _ = model(path)
    data = test_split(dataset)
    return latent_fit(net, data.x, data.y)


@_per_file(st.cache_resource(show_spinner="Fitting a PCA to the latents…"))
def latent_pca(path: Path, dataset: str, seed: int) -> Projection:
    """PCA to 2-D fitted once on all the checkpoint's test latents; ``.transform`` places new latents."""
    return fit_projection(outputs(path, dataset)["latents"], ProjectionConfig(method="pca", seed=seed))


@_per_file(st.cache_data(show_spinner=False, max_entries=1024))
def robust_accuracy(path: Path, dataset: str, config: AttackConfig, n: int, seed: int) -> float:
    """Accuracy under ``config``'s attack on n test images drawn with seed."""
    net, _ = model(path)
    data = test_sample(dataset, n, seed)
    device = next(net.parameters()).device
    return _robust_accuracy(net, data.x.to(device), data.y.to(device), config)


def test_logits(path: Path, dataset: str, corruption: str | None = None, severity: int = 1,
                seed: int = 0) -> dict[str, np.ndarray]:
    """Test-split logits (N, K) float64 and labels (N,), clean or corrupted. Read-only.

    Cached per (checkpoint, corruption, severity, seed); ``severity`` and ``seed`` only matter with a
    corruption (the clean entry is keyed with severity 1, seed 0).
    """
    if corruption is None:
        severity, seed = 1, 0
    return _test_logits(path, dataset, corruption, int(severity), int(seed))


@_per_file(st.cache_resource(show_spinner="Predicting…"))
def _test_logits(path: Path, dataset: str, corruption: str | None, severity: int, seed: int
                 ) -> dict[str, np.ndarray]:
    if corruption is None:  # the clean predictions are already cached with the latents
        clean = outputs(path, dataset)
        return {"logits": clean["logits"], "labels": clean["labels"]}
    net, _ = model(path)
    data = test_split(dataset)
    logits, _ = predict(net, corrupt(data.x, corruption, severity, seed))
    return {"logits": logits.double().numpy(), "labels": data.y.numpy()}


@_per_file(st.cache_resource(show_spinner="Fitting the temperature on the validation split…"))
def temperature(path: Path) -> float:
    """Temperature-scaling T of a checkpoint, fitted by NLL on its own validation split (never test)."""
    net, meta = model(path)
    return checkpoint_temperature(net, meta, train_split(meta["dataset"]))


@_per_file(st.cache_resource(show_spinner=False))
def shift_curve(path: Path, dataset: str, corruption: str, n: int, seed: int) -> dict[str, list[float]]:
    """Accuracy and ECE at severities 0-5 of one corruption of n test images drawn with ``seed``."""
    net, _ = model(path)
    data = test_sample(dataset, n, seed)
    return shift_curves(net, data.x, data.y, [corruption], seed=seed)[corruption]


@st.cache_resource(show_spinner=False)
def low_data_point(dataset: str, method: str, latent_dim: int, fraction: float, seed: int) -> dict[str, float]:
    """Test accuracy and ECE of a model trained live on a stratified fraction of the training split."""
    rows = low_data_sweep(train_split(dataset), test_split(dataset), dataset, [method], [fraction],
                          seed=seed, latent_dim=latent_dim)[method]
    return {"accuracy": rows["accuracy"][0], "ece": rows["ece"][0]}


@_per_file(st.cache_resource(show_spinner="Scoring in- and out-of-distribution images…"))
def ood(path: Path, dataset: str, n: int, seed: int) -> dict[str, dict[str, object]]:
    """OOD scores and AUROC of n test images against as many of the dataset's OOD set (or noise)."""
    net, _ = model(path)
    x_in = test_sample(dataset, n, seed).x
    other = dataset_info(dataset).ood
    x_out = test_sample(other, n, seed).x if other else noise_images(x_in, len(x_in), seed=seed)
    return ood_comparison(net, x_in, x_out)


@st.cache_resource(show_spinner=False)
def umap_pool():
    """The one UMAP worker process of the server, shared by all sessions (:mod:`explorer.app.umap_worker`)."""
    return umap_worker.start()


def fit_projection_elsewhere(latents, config: ProjectionConfig, extra=None, extra_name: str = "extra points"
                             ) -> Projection:
    """:func:`explorer.measure.projection.fit_projection`, with UMAP fitted in :func:`umap_pool`."""
    try:
        return umap_worker.fit(umap_pool, latents, config, extra, extra_name)
    except umap_worker.WorkerLost:
        umap_pool.clear()  # a worker that died mid-task never answers: start afresh next time
        raise
