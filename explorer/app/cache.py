"""Every ``st.cache_*`` wrapper of the app. Cached objects are shared by all sessions: never mutate them.

Keys include each file's modification time, so a retrained checkpoint is reloaded.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.pool
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import streamlit as st
import torch

from explorer.attacks import AttackConfig, robust_accuracy as _robust
from explorer.checkpoints import load_checkpoint
from explorer.corruptions import corrupt
from explorer.data import ImageData, load_dataset, subset_indices
from explorer.diagnostics import LatentFit, latent_fit
from explorer.evaluation import checkpoint_temperature, predict
from explorer.latent_map import file_digest
from explorer.models import Classifier
from explorer.projection import Projection, ProjectionConfig, fit_projection, fit_without_model, warm_up_umap
from explorer.registry import Entry, list_checkpoints


def _mtime(path: Path) -> float:
    return path.stat().st_mtime


@st.cache_resource(show_spinner="Loading checkpoint…")
def _model(path: str, mtime: float) -> tuple[Classifier, dict]:
    return load_checkpoint(path)


def model(path: Path) -> tuple[Classifier, dict]:
    """(model in eval mode, meta); raises CheckpointError for an unusable file."""
    return _model(str(path), _mtime(path))


@st.cache_data(show_spinner=False, max_entries=256)
def _digest(path: str, mtime: float) -> str:
    return file_digest(path)


def digest(path: Path) -> str:
    """SHA-256 of the checkpoint file: its identity in the projection cache."""
    return _digest(str(path), _mtime(path))


@st.cache_data(ttl=30, show_spinner=False)
def checkpoints() -> tuple[list[Entry], list[str]]:
    """Listed checkpoints and the problems met while listing (re-read every 30 s)."""
    return list_checkpoints()


@st.cache_resource(show_spinner="Loading the test split…")
def test_split(dataset: str) -> ImageData:
    return load_dataset(dataset, "test")


@st.cache_resource(show_spinner="Computing latents…")
def _outputs(path: str, mtime: float, dataset: str) -> dict[str, np.ndarray]:
    net, _ = _model(path, mtime)
    data = test_split(dataset)
    logits, latents = predict(net, data.x)
    logits = logits.double()
    return {"logits": logits.numpy(), "probs": torch.softmax(logits, dim=1).numpy(),
            "latents": latents.numpy(), "labels": data.y.numpy()}


def outputs(path: Path, dataset: str) -> dict[str, np.ndarray]:
    """Test-split logits and class probabilities (float64), latents and labels of a checkpoint. Read-only."""
    return _outputs(str(path), _mtime(path), dataset)


@st.cache_resource(show_spinner="Checking the latents against the prior…")
def _fit(path: str, mtime: float, dataset: str) -> LatentFit:
    net, _ = _model(path, mtime)
    data = test_split(dataset)
    return latent_fit(net, data.x, data.y)


def fit(path: Path, dataset: str) -> LatentFit:
    return _fit(str(path), _mtime(path), dataset)


@st.cache_resource(show_spinner="Fitting a PCA to the latents…")
def _latent_pca(path: str, mtime: float, dataset: str, seed: int) -> Projection:
    return fit_projection(_outputs(path, mtime, dataset)["latents"], ProjectionConfig(method="pca", seed=seed))


def latent_pca(path: Path, dataset: str, seed: int) -> Projection:
    """PCA to 2-D fitted once on all the checkpoint's test latents; ``.transform`` places new latents."""
    return _latent_pca(str(path), _mtime(path), dataset, seed)


@st.cache_data(show_spinner=False, max_entries=1024)
def _robust_accuracy(path: str, mtime: float, dataset: str, config: AttackConfig, n: int, seed: int) -> float:
    net, _ = _model(path, mtime)
    data = test_split(dataset)
    keep = torch.from_numpy(subset_indices(len(data.y), n, seed))
    device = next(net.parameters()).device
    return _robust(net, data.x[keep].to(device), data.y[keep].to(device), config)


def robust_accuracy(path: Path, dataset: str, config: AttackConfig, n: int, seed: int) -> float:
    """Accuracy under ``config``'s attack on n test images drawn with seed (:func:`explorer.data.subset_indices`)."""
    return _robust_accuracy(str(path), _mtime(path), dataset, config, n, seed)


@st.cache_resource(show_spinner="Loading the training split…")
def train_split(dataset: str) -> ImageData:
    return load_dataset(dataset, "train")


@st.cache_resource(show_spinner="Predicting…")
def _test_logits(path: str, mtime: float, dataset: str, corruption: str | None, severity: int,
                 seed: int) -> dict[str, np.ndarray]:
    if corruption is None:  # the clean predictions are already cached with the latents
        clean = _outputs(path, mtime, dataset)
        return {"logits": clean["logits"], "labels": clean["labels"]}
    net, _ = _model(path, mtime)
    data = test_split(dataset)
    logits, _ = predict(net, corrupt(data.x, corruption, severity, seed))
    return {"logits": logits.double().numpy(), "labels": data.y.numpy()}


def test_logits(path: Path, dataset: str, corruption: str | None = None, severity: int = 1,
                seed: int = 0) -> dict[str, np.ndarray]:
    """Test-split logits (N, K) float64 and labels (N,), clean or corrupted. Read-only.

    Cached per (checkpoint, corruption, severity, seed); ``severity`` and ``seed`` only matter with a
    corruption (the clean entry is keyed with severity 1, seed 0).
    """
    if corruption is None:
        severity, seed = 1, 0
    return _test_logits(str(path), _mtime(path), dataset, corruption, int(severity), int(seed))


@st.cache_resource(show_spinner="Fitting the temperature on the validation split…")
def _temperature(path: str, mtime: float) -> float:
    net, meta = _model(path, mtime)
    return checkpoint_temperature(net, meta, train_split(meta["dataset"]))


def temperature(path: Path) -> float:
    """Temperature-scaling T of a checkpoint, fitted by NLL on its own validation split (never test)."""
    return _temperature(str(path), _mtime(path))


SHIFT_POINTS = 1000
"""Test images (drawn with the seed) behind the shift curves and the OOD scores: seconds, not minutes."""


def test_sample(dataset: str, seed: int) -> ImageData:
    """At most :data:`SHIFT_POINTS` test images of ``dataset`` drawn with ``seed`` (all of digits')."""
    data = test_split(dataset)
    return data.subset(torch.from_numpy(subset_indices(len(data.y), SHIFT_POINTS, seed)))


@st.cache_resource(show_spinner=False)
def _shift_curve(path: str, mtime: float, dataset: str, corruption: str, seed: int) -> dict[str, list[float]]:
    from explorer.robustness import shift_curves

    net, _ = _model(path, mtime)
    data = test_sample(dataset, seed)
    return shift_curves(net, data.x, data.y, [corruption], seed=seed)[corruption]


def shift_curve(path: Path, dataset: str, corruption: str, seed: int) -> dict[str, list[float]]:
    """Accuracy and ECE of a checkpoint at severities 0-5 of one corruption of :func:`test_sample`."""
    return _shift_curve(str(path), _mtime(path), dataset, corruption, seed)


@st.cache_resource(show_spinner=False)
def low_data_point(dataset: str, method: str, latent_dim: int, fraction: float, seed: int) -> dict[str, float]:
    """Test accuracy and ECE of a model trained live on a stratified fraction of the training split."""
    from explorer.robustness import low_data_sweep

    rows = low_data_sweep(load_dataset(dataset, "train"), test_split(dataset), dataset, [method], [fraction],
                          seed=seed, latent_dim=latent_dim)[method]
    return {"accuracy": rows["accuracy"][0], "ece": rows["ece"][0]}


OOD_SETS = {"digits": None, "mnist": "fashion-mnist", "fashion-mnist": "mnist", "cifar10": None}
"""The out-of-distribution set of each dataset; None: uniform-noise images."""


@st.cache_resource(show_spinner="Scoring in- and out-of-distribution images…")
def _ood(path: str, mtime: float, dataset: str, seed: int) -> dict[str, dict[str, object]]:
    from explorer.robustness import noise_images, ood_comparison

    net, _ = _model(path, mtime)
    x_in = test_sample(dataset, seed).x
    other = OOD_SETS[dataset]
    x_out = test_sample(other, seed).x if other else noise_images(x_in, len(x_in), seed=seed)
    return ood_comparison(net, x_in, x_out)


def ood(path: Path, dataset: str, seed: int) -> dict[str, dict[str, object]]:
    return _ood(str(path), _mtime(path), dataset, seed)


UMAP_TIMEOUT = 900
"""Seconds a UMAP fit may take in the worker (compilation included) before the page gives up."""


@contextlib.contextmanager
def _main_module(name: str) -> Iterator[None]:
    """Make module ``name`` pose as ``__main__`` for a moment.

    Streamlit runs each page as the module ``__main__``, and a spawned process first imports
    ``__main__`` again: the worker would run the page, which would start a worker... Posing as a
    plain library module, the parent tells the child to import that instead.
    """
    real = sys.modules["__main__"]
    sys.modules["__main__"] = sys.modules[name]
    try:
        yield
    finally:
        sys.modules["__main__"] = real


@st.cache_resource(show_spinner=False)
def umap_worker() -> multiprocessing.pool.Pool | None:
    """One process, shared by all sessions, that fits every UMAP the app needs.

    numba compiles UMAP for about 50 s at its first use in a process, holding the GIL most of that
    time: in the app's own process that slowed every page two- to threefold. In a worker, at the
    lowest priority, it takes only CPU time the pages leave. The worker compiles as soon as it starts
    (at the app's first run) unless ``EXPLORER_UMAP_WARM_UP=0``; it is a daemon, stopped with the
    app. None inside a worker: a worker never starts another.
    """
    if multiprocessing.parent_process() is not None:
        return None
    with _main_module("explorer.projection"):
        # The worker starts here, inside the pose, at the lowest CPU priority: it uses the cores the
        # pages leave idle, and a page computing with torch's threads meanwhile keeps its speed.
        pool = multiprocessing.get_context("spawn").Pool(1, initializer=os.nice, initargs=(19,))
    if os.environ.get("EXPLORER_UMAP_WARM_UP", "1") != "0":
        pool.apply_async(warm_up_umap)
    return pool


def fit_projection_elsewhere(latents, config: ProjectionConfig, extra=None, extra_name: str = "extra points"
                             ) -> Projection:
    """:func:`explorer.projection.fit_projection`, with UMAP run in :func:`umap_worker` (PCA stays here)."""
    if config.method != "umap":
        return fit_projection(latents, config, extra, extra_name)
    worker = umap_worker()
    if worker is None:
        return fit_without_model(latents, config, extra, extra_name)
    task = worker.apply_async(fit_without_model, (latents, config, extra, extra_name))
    try:
        return task.get(timeout=UMAP_TIMEOUT)
    except multiprocessing.TimeoutError:
        umap_worker.clear()  # a worker that died mid-task never answers: start afresh next time
        raise RuntimeError(f"UMAP did not finish within {UMAP_TIMEOUT} s; try PCA, or fewer points") from None
