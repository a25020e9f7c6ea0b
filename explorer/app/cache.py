"""Every ``st.cache_*`` wrapper of the app, and nothing else. Cached objects are shared by all
sessions: never mutate them.

A function of a checkpoint file is cached with :func:`_per_file`, under the file's path and
modification time, so a retrained checkpoint is read again. A view's figure is cached with
:func:`shared_figure` or :func:`shared_figure_of_file`: built once per (file, settings) for everyone,
and sent without being converted again (:mod:`explorer.figures.prepared`). Model A or B may also be
a predictions bundle (``.npz``, :mod:`explorer.core.bundles`): the functions of its outputs
(``outputs``, ``fit``, ``recalibrator``, ``ood``) read them from the bundle; those that run the model raise
:class:`~explorer.core.errors.ModelNeededError` for it.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from pathlib import Path

import numpy as np
import streamlit as st
import torch

from explorer.app import umap_worker
from explorer.core._io import SHIPPED_RESULTS, file_digest
from explorer.core.bundles import Bundle, is_bundle_path, load_bundle
from explorer.core.checkpoints import Entry, list_checkpoints, load_checkpoint, train_config_of
from explorer.core.config import AttackConfig, DEFAULT_COVARIANCE, ProjectionConfig
from explorer.core.data import Dataset, dataset_info, load_dataset, readable_by, subset_indices
from explorer.core.errors import BundleError, FileGoneError, ModelNeededError
from explorer.core.models import Classifier, LinearHead
from explorer.figures.prepared import prepare
from explorer.jobs.limits import Limits
from explorer.jobs.results import Results
from explorer.jobs.runs import low_data_run
from explorer.jobs.training import Progress
from explorer.jobs.training_queue import TrainingQueue
from explorer.measure.attacks import robust_accuracy as _robust_accuracy
from explorer.measure.conformal import ConformalPredictor, bundle_conformal, checkpoint_conformal
from explorer.measure.corruptions import corrupt
from explorer.measure.evaluation import bundle_recalibrator, checkpoint_recalibrator
from explorer.measure.inference import predict
from explorer.measure.latents import LatentFit, checkpoint_reference, fit_latents
from explorer.measure.intervals import Interval
from explorer.measure.local_calibration import LocalGap, gaussian_confidence_gap, local_miscalibration
from explorer.measure.ood import bundle_comparison, compare_scores, comparison_intervals, noise_images, output_scores
from explorer.measure.projection import Projection, fit_projection
from explorer.measure.recalibration import Recalibrator
from explorer.measure.robustness import shift_curves


def _per_file(cache: Callable) -> Callable:
    """Decorator: cache ``fn(path, *args)`` with ``cache`` (an ``st.cache_*``) under the file's path,
    its modification time and ``args``. The result has ``.clear()`` as the cached function does. A path
    with no file raises :class:`FileGoneError` (a ``FileNotFoundError`` the pages show as a message)."""
    def decorate(fn: Callable) -> Callable:
        @functools.wraps(fn)  # Streamlit tells cached functions apart by name and source
        def keyed(path: str, mtime: float, *args, **kwargs):
            return fn(Path(path), *args, **kwargs)

        cached = cache(keyed)

        @functools.wraps(fn)
        def call(path: str | Path, *args, **kwargs):
            path = Path(path)
            try:
                mtime = path.stat().st_mtime
            except FileNotFoundError:
                raise FileGoneError(f"{path.name} is gone: deleted or moved since it was listed") from None
            return cached(str(path), mtime, *args, **kwargs)

        call.clear = cached.clear
        return call

    return decorate


FIGURES = 64
"""Figures each shared figure function keeps, least recently used first out. A prepared figure holds
plotly's figure and the dict it sends: ``latent_scatter`` of 10⁵ points in 10 classes, about 5 MiB as
a figure and 10 MiB prepared; of 360 points (the digits' test split), under 0.5 MiB (tracemalloc,
plotly's validators already built)."""


def _prepared(fn: Callable) -> Callable:
    """``fn`` returning a figure, or a tuple whose first item is one, with that figure prepared
    (:func:`explorer.figures.prepared.prepare`) and any numpy array beside it made read-only."""
    @functools.wraps(fn)
    def build(*args, **kwargs):
        made = fn(*args, **kwargs)
        if not isinstance(made, tuple):
            return prepare(made)
        for item in made[1:]:
            if isinstance(item, np.ndarray):
                item.flags.writeable = False
        return (prepare(made[0]), *made[1:])

    return build


def shared_figure(fn: Callable) -> Callable:
    """Decorator of a view's figure function whose result depends on its arguments alone (arrays
    included, hashed): built once per arguments and shared by every session, read-only."""
    return st.cache_resource(show_spinner=False, max_entries=FIGURES)(_prepared(fn))


def shared_figure_of_file(fn: Callable) -> Callable:
    """Decorator of a view's figure function ``fn(path, *args)`` of a checkpoint or bundle: as
    :func:`shared_figure`, and built again when the file changes (:func:`_per_file`)."""
    return _per_file(st.cache_resource(show_spinner=False, max_entries=FIGURES))(_prepared(fn))


@_per_file(st.cache_resource(show_spinner="Loading checkpoint…"))
def model(path: Path) -> tuple[Classifier, dict]:
    """(model in eval mode, meta); raises CheckpointError for an unusable file, ModelNeededError for a bundle."""
    if is_bundle_path(path):
        raise ModelNeededError(f"{path.name} holds a model's predictions, not the model: this needs the model itself")
    return load_checkpoint(path)


@_per_file(st.cache_resource(show_spinner="Loading the bundle…"))
def bundle(path: Path) -> Bundle:
    """The checked arrays of a predictions bundle; raises BundleError for an unusable file."""
    return load_bundle(path)


def check_rows(found: Bundle, dataset: str | None = None) -> None:
    """Refuse a bundle that says its rows are a project dataset's test split (in order) and whose labels
    are not that split's, or not ``dataset``'s (the one it is shown with; default: its own)."""
    if found.dataset_name is None:
        return
    dataset = dataset or found.dataset_name
    if dataset != found.dataset_name or not np.array_equal(found.labels, test_split(dataset).y.numpy()):
        raise BundleError(f"it says its rows are {found.dataset_name}'s test split, but its {len(found.labels)} "
                          f"labels are not those of {dataset}'s test split in order")


def _bundle_rows(path: Path, dataset: str) -> Bundle:
    """The bundle, checked to hold ``dataset``'s test split in order when it says it does."""
    found = bundle(path)
    try:
        check_rows(found, dataset)
    except BundleError as error:
        raise BundleError(f"{path.name}: {error}") from None
    return found


@_per_file(st.cache_resource(show_spinner="Fitting the Gaussians the linear layer implies…"))
def gaussians(path: Path, implied: str = DEFAULT_COVARIANCE) -> torch.nn.Module | None:
    """The class distributions a file's latents are checked against: a learnt head's own; for a linear
    softmax layer, the member of its implied family ``implied`` names (:mod:`explorer.core.implied`),
    fitted to its validation latents (a bundle's ``val_latents``; else the test latents, and its
    ``fitted_on`` says so). None for a bundle without ``weight`` and ``bias``."""
    if is_bundle_path(path):
        return bundle(path).implied_gaussians(implied)
    net, meta = model(path)
    fitted = isinstance(net.head, LinearHead) and implied != "identity"
    records = "train_config" in meta
    return checkpoint_reference(net, meta, implied, train_split(meta["dataset"]) if fitted and records else None,
                                readable_by(test_split(meta["dataset"]), net) if fitted and not records else None)


def _head(path: Path, found: Bundle, implied: str) -> torch.nn.Module:
    head = gaussians(path, implied)
    if found.latents is None or head is None:
        raise BundleError(f"{path.name} has no latents with the weight and bias of the layer they enter, so "
                          "there are no class Gaussians to check them against")
    return head


@_per_file(st.cache_data(show_spinner=False, max_entries=256))
def digest(path: Path) -> str:
    """SHA-256 of the checkpoint file: its identity in the projection cache."""
    return file_digest(path)


@st.cache_data(ttl=30, show_spinner=False)
def checkpoints(uploads: Path | None = None) -> tuple[list[Entry], list[str]]:
    """Listed checkpoints, with one session's ``uploads`` folder, and the problems met while listing
    (listed again every 30 s; a file is read again only when it changes)."""
    return list_checkpoints(uploads=uploads)


def shipped_results() -> Results | None:
    """The results report's raw numbers (``docs/results/results.json``), read again when the file
    changes; None without the file. Read-only."""
    try:
        return _results(SHIPPED_RESULTS)
    except FileNotFoundError:
        return None


@_per_file(st.cache_resource(show_spinner=False))
def _results(path: Path) -> Results:
    return Results.load(path)


@st.cache_resource(show_spinner="Loading the test split…")
def test_split(dataset: str) -> Dataset:
    return load_dataset(dataset, "test")


@st.cache_resource(show_spinner="Loading the training split…")
def train_split(dataset: str) -> Dataset:
    return load_dataset(dataset, "train")


def test_sample(dataset: str, n: int, seed: int) -> Dataset:
    """At most ``n`` test images of ``dataset`` drawn with ``seed`` (:func:`explorer.core.data.subset_indices`)."""
    data = test_split(dataset)
    return data.subset(torch.from_numpy(subset_indices(len(data.y), n, seed)))


@_per_file(st.cache_resource(show_spinner="Computing latents…"))
def outputs(path: Path, dataset: str) -> dict[str, np.ndarray]:
    """Test-split logits and class probabilities (float64), latents and labels of a checkpoint, or a
    bundle's (its latents may be None, and ``images`` holds its images or None). Read-only."""
    if is_bundle_path(path):
        found = _bundle_rows(path, dataset)
        logits = torch.from_numpy(found.logits).double()
        return {"logits": logits.numpy(), "probs": torch.softmax(logits, dim=1).numpy(),
                "latents": found.latents, "labels": found.labels, "images": found.images}
    net, _ = model(path)
    data = readable_by(test_split(dataset), net)
    logits, latents = predict(net, data.x)
    logits = logits.double()
    return {"logits": logits.numpy(), "probs": torch.softmax(logits, dim=1).numpy(),
            "latents": latents.numpy(), "labels": data.y.numpy()}


@_per_file(st.cache_resource(show_spinner="Checking the latents against the prior…"))
def fit(path: Path, dataset: str, implied: str = DEFAULT_COVARIANCE) -> LatentFit:
    """The χ² check of the checkpoint's test latents (:func:`explorer.measure.latents.fit_latents`), or
    of a bundle's, against :func:`gaussians` (for a linear layer: the ``implied`` member)."""
    if is_bundle_path(path):
        found = _bundle_rows(path, dataset)
        return fit_latents(_head(path, found, implied), found.latents, found.labels)
    data = outputs(path, dataset)
    return fit_latents(gaussians(path, implied), data["latents"], data["labels"])


@_per_file(st.cache_resource(show_spinner="Smoothing confidence − correctness over the latents…"))
def local_gap(path: Path, dataset: str) -> LocalGap:
    """The local miscalibration of the test split (:func:`explorer.measure.local_calibration.local_miscalibration`)
    around each test latent, from the confidence and correctness of the file's own predictions. Read-only."""
    data = outputs(path, dataset)
    if data["latents"] is None:
        raise BundleError(f"{path.name} has no latents: no neighbourhoods to measure calibration in")
    probs = data["probs"]
    local = local_miscalibration(data["latents"], probs.max(1), probs.argmax(1) == data["labels"])
    _read_only(*(value for value in vars(local).values() if isinstance(value, np.ndarray)))
    return local


@_per_file(st.cache_resource(show_spinner=False))
def gaussian_gap(path: Path, dataset: str, implied: str = DEFAULT_COVARIANCE) -> np.ndarray:
    """(N,) read-only: each test example's confidence minus its class Gaussians' (:func:`gaussians`) at its
    latent, with the class prior held to the class frequencies :func:`class_frequencies` gives
    (:func:`explorer.measure.local_calibration.gaussian_confidence_gap`: under each head's own prior
    the gap is 0 by construction)."""
    data = outputs(path, dataset)
    head = gaussians(path, implied)
    if data["latents"] is None or head is None:
        raise BundleError(f"{path.name} has no latents with the weight and bias of the layer they enter: no class "
                          "Gaussians to compare its confidence with")
    frequencies, _ = class_frequencies(path, dataset)
    with np.errstate(divide="ignore"):  # an absent class gets log 0: never the Gaussians' answer
        gap = gaussian_confidence_gap(data["probs"], data["latents"], head, np.log(frequencies))
    _read_only(gap)
    return gap


def class_frequencies(path: Path, dataset: str) -> tuple[np.ndarray, str]:
    """(K,) the class prior π of METHOD.md §1, the class frequencies of the labels a model trained on, and
    which labels they are, in words: a checkpoint's training split; a bundle's ``val_labels`` (its
    held-out split, the nearest it has to its training labels) if it has them, else its test labels."""
    k = outputs(path, dataset)["probs"].shape[1]
    if not is_bundle_path(path):
        labels, words = train_split(model(path)[1]["dataset"]).y.numpy(), "the training split's"
    elif (held_out := bundle(path).val_labels) is not None:
        labels, words = held_out, "the bundle's validation labels'"
    else:
        labels, words = outputs(path, dataset)["labels"], "the test split's (the bundle has no val_labels)"
    return np.bincount(labels, minlength=k)[:k] / len(labels), words


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
    data = readable_by(test_split(dataset), net)
    logits, _ = predict(net, corrupt(data.x, corruption, severity, seed))
    return {"logits": logits.double().numpy(), "labels": data.y.numpy()}


@_per_file(st.cache_resource(show_spinner="Fitting the recalibration on the validation split…"))
def recalibrator(path: Path, name: str) -> Recalibrator:
    """The post-hoc recalibration ``name`` (:data:`explorer.measure.recalibration.RECALIBRATORS`) of a
    checkpoint, fitted on its own validation split (never test), or of a bundle, on its ``val_logits``
    and ``val_labels``."""
    if is_bundle_path(path):
        try:
            return bundle_recalibrator(bundle(path), name)
        except BundleError as error:
            raise BundleError(f"{path.name}: {error}") from None
    net, meta = model(path)
    return checkpoint_recalibrator(net, meta, train_split(meta["dataset"]), name)


@_per_file(st.cache_resource(show_spinner="Calibrating the prediction sets on the validation split…"))
def conformal(path: Path, alpha: float, score: str) -> ConformalPredictor:
    """The split conformal predictor of a checkpoint at miscoverage ``alpha`` with ``score``
    (:data:`explorer.measure.conformal.SCORES`), calibrated on its own validation split (never test), or
    of a bundle, on its ``val_logits`` and ``val_labels``. Shared by every session: its ``threshold`` is
    read-only (:class:`~explorer.measure.conformal.ConformalPredictor` freezes it)."""
    if is_bundle_path(path):
        try:
            return bundle_conformal(bundle(path), alpha, score)
        except BundleError as error:
            raise BundleError(f"{path.name}: {error}") from None
    net, meta = model(path)
    return checkpoint_conformal(net, meta, train_split(meta["dataset"]), alpha, score)


@_per_file(st.cache_resource(show_spinner=False))
def set_sizes(path: Path, dataset: str, alpha: float, score: str) -> np.ndarray:
    """(N_test,) int, read-only: how many classes the prediction set of each clean test example holds
    (:func:`conformal`), in the rows of :func:`outputs` of ``dataset``."""
    sizes = conformal(path, alpha, score).sets(outputs(path, dataset)["probs"]).sum(axis=1)
    _read_only(sizes)
    return sizes


def shared_result(fn: Callable) -> Callable:
    """Decorator of a view's computation on arrays whose result depends on its arguments alone (arrays
    included, hashed): computed once per arguments and shared by every session, read-only. For the
    bootstrap intervals, which take a good part of a second on 10 000 examples."""
    return st.cache_resource(show_spinner="Bootstrapping the intervals…", max_entries=FIGURES)(fn)


@_per_file(st.cache_resource(show_spinner=False))
def shift_curve(path: Path, dataset: str, corruption: str, n: int, seed: int) -> dict[str, list[float]]:
    """Accuracy and ECE at severities 0-5 of one corruption of n test images drawn with ``seed``."""
    net, _ = model(path)
    data = readable_by(test_sample(dataset, n, seed), net)
    return shift_curves(net, data.x, data.y, [corruption], seed=seed)[corruption]


@_per_file(st.cache_resource(show_spinner=False))
def low_data_point(path: Path, fraction: float, seed: int, _progress: Callable[[Progress], None] | None = None
                   ) -> dict[str, float]:
    """Test metrics of checkpoint ``path``'s model and training configuration, trained afresh with ``seed``
    on a stratified ``fraction`` of its dataset's training split for as many steps as its own run
    (:func:`explorer.jobs.runs.low_data_run`). ``_progress`` (not part of the key) sees every step."""
    net, meta = model(path)
    config = dataclasses.replace(train_config_of(meta, "how it was trained, so it cannot be trained again"),
                                 seed=seed)
    dataset = meta["dataset"]
    return low_data_run(train_split(dataset), test_split(dataset), net.config, config, fraction, _progress)


@_per_file(st.cache_resource(show_spinner="Scoring in- and out-of-distribution images…"))
def ood(path: Path, dataset: str, n: int, seed: int, implied: str = DEFAULT_COVARIANCE) -> dict[str, dict[str, object]]:
    """OOD scores and AUROC of n test examples against as many of the dataset's OOD set (or noise); for
    a bundle, n of its rows against n of its ``ood_logits`` (and ``ood_latents``). log p(z) is under
    :func:`gaussians` (for a linear layer: the ``implied`` member). The score arrays are read-only:
    every session shares them."""
    if is_bundle_path(path):
        found = _bundle_rows(path, dataset)
        try:
            compared = bundle_comparison(found, gaussians(path, implied), n, seed)
        except BundleError as error:
            raise BundleError(f"{path.name} {error}") from None
    else:
        inside, outside = ood_outputs(path, dataset, n, seed)
        head = gaussians(path, implied)
        compared = compare_scores(output_scores(inside["logits"], inside["latents"], head),
                                  output_scores(outside["logits"], outside["latents"], head))
    for result in compared.values():
        _read_only(result["in"], result["out"])
    return compared


def _ood_inputs(net: Classifier, dataset: str, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """n test inputs of ``dataset`` and as many of its OOD set (or noise), drawn with ``seed``, as ``net``
    reads them (a text set's documents in the model's own vocabulary)."""
    x_in = readable_by(test_sample(dataset, n, seed), net).x
    other = dataset_info(dataset).ood
    return x_in, readable_by(test_sample(other, n, seed), net).x if other else noise_images(x_in, len(x_in), seed=seed)


@_per_file(st.cache_resource(show_spinner="Running the model on in- and out-of-distribution images…"))
def ood_outputs(path: Path, dataset: str, n: int, seed: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """A checkpoint's outputs on :func:`ood`'s inputs, each side {"logits": (n, K), "latents": (n, d)},
    the in-distribution side with its "labels" (n,): run once for the scores and the OOD map alike.
    Read-only: every session shares them."""
    net, _ = model(path)
    x_in, x_out = _ood_inputs(net, dataset, n, seed)
    (logits_in, z_in), (logits_out, z_out) = predict(net, x_in), predict(net, x_out)
    inside = {"logits": logits_in.numpy(), "latents": z_in.numpy(), "labels": test_sample(dataset, n, seed).y.numpy()}
    outside = {"logits": logits_out.numpy(), "latents": z_out.numpy()}
    _read_only(*inside.values(), *outside.values())
    return inside, outside


def _read_only(*arrays: np.ndarray) -> None:
    """Mark arrays a cache shares between sessions read-only: a view that changed one would change it for all."""
    for array in arrays:
        array.flags.writeable = False


@_per_file(st.cache_resource(show_spinner="Bootstrapping the OOD metrics…"))
def ood_intervals(path: Path, dataset: str, n: int, seed: int, implied: str = DEFAULT_COVARIANCE
                  ) -> dict[str, dict[str, Interval]]:
    """{score: {metric: Interval}} of :func:`ood`'s scores (:func:`explorer.measure.ood.comparison_intervals`,
    resamples drawn with ``seed``); Intervals are tuples: nothing in them can be changed."""
    return comparison_intervals(ood(path, dataset, n, seed, implied), seed=seed)


@_per_file(st.cache_resource(show_spinner="Computing the OOD latents…"))
def ood_latents(path: Path, dataset: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The latents behind :func:`ood`'s scores, the same inputs: in-distribution (n, d) with their labels
    (n,), and OOD (n, d) (for a bundle, its ``latents`` and ``ood_latents`` rows; for a checkpoint,
    :func:`ood_outputs`'s); None for a bundle without both. Read-only: every session shares them."""
    if is_bundle_path(path):
        found = _bundle_rows(path, dataset)
        if found.latents is None or found.ood_latents is None:
            return None
        keep = subset_indices(len(found.latents), n, seed)
        placed = found.latents[keep], found.labels[keep], found.ood_latents[subset_indices(len(found.ood_latents), n,
                                                                                              seed)]
        _read_only(*placed)
        return placed
    inside, outside = ood_outputs(path, dataset, n, seed)
    return inside["latents"], inside["labels"], outside["latents"]


@st.cache_resource(show_spinner=False)
def training_queue() -> TrainingQueue:
    """The server's one training queue, shared by all sessions (:mod:`explorer.jobs.training_queue`); its
    limits are read from the environment when it is made (:meth:`explorer.jobs.limits.Limits.from_environment`).
    Each epoch a run saves makes every session's sidebar read the list of files again, so a run is
    listed even when the session that started it has gone."""
    return TrainingQueue(Limits.from_environment(), saved=lambda path: checkpoints.clear())


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
