"""Self-describing checkpoints that are safe to load, and the catalogue of checkpoint files.

One file per model: ``{"format", "format_version", "state_dict", "meta"}`` written with
``torch.save`` and read back with ``torch.load(weights_only=True)``, whose unpickler accepts only
tensors and plain containers (dict, list, tuple, str, numbers, bool, None), so loading never runs
code from the file. ``meta`` holds at least :data:`REQUIRED_META`; the model is rebuilt from
``meta["config"]`` and its weights must fit that architecture exactly. The examples its training held
out for validation are rebuilt from the seed and fractions ``meta["train_config"]`` records
(:func:`checkpoint_validation_split`).

The catalogue lists the files the app offers: shipped with the project (``checkpoints/``), trained
by the user (:func:`user_dir`, never inside ``checkpoints/``), offered to everyone in the shared
folder (:func:`shared_dir`: a teacher's files for the class), and one browser session's own uploads
(:func:`uploads_dir`, which no other session lists). Predictions bundles (``.npz``,
:mod:`explorer.core.bundles`) are listed as method ``"bundle"``. A file's identity, in the
projection cache for instance, is :func:`explorer.core._io.file_digest` of its bytes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import pickle
import platform
import re
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from explorer import __version__
from explorer.core._io import SHIPPED_DIR, atomic_write, user_folder
from explorer.core.bundles import is_bundle_path, load_bundle
from explorer.core.config import METHODS, ModelConfig, TrainConfig, config_from_dict, default_configs, variant
from explorer.core.data import DATASETS, OWN_DATA, Dataset, Vocabulary, load_dataset, readable_by, split_indices
from explorer.core.errors import ArgumentError, BundleError, CheckpointError
from explorer.core.models import Classifier

SOURCES = ("shipped", "trained", "shared", "uploaded")

FORMAT = "vc-explorer-checkpoint"
FORMAT_VERSION = 1
REQUIRED_META = (
    "method", "dataset", "encoder", "latent_dim", "class_names", "config", "metrics", "history",
    "versions", "created",
)


def _plain(value: object, where: str = "meta") -> object:
    """A copy of ``value`` made of the types the safe loader accepts, or an ``ArgumentError`` naming the spot.

    Subclasses of str, int and float (numpy scalars, ``torch.__version__``) become the plain type,
    numpy arrays become tensors: the safe unpickler would refuse them otherwise.
    """
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise ArgumentError(f"{where} has a non-string key {key!r}")
        return {str(k): _plain(v, f"{where}[{k!r}]") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v, f"{where}[{i}]") for i, v in enumerate(value))
    if value is None or isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value)
    raise ArgumentError(f"{where} is a {type(value).__name__}; checkpoints hold plain data only")


def save_checkpoint(path: str | os.PathLike, model: Classifier, meta: dict) -> Path:
    """Write ``model``'s weights and ``meta`` to ``path`` atomically; returns the path.

    ``method``, ``encoder``, ``latent_dim``, ``config``, ``versions`` and ``created`` are filled in from
    the model when absent; the caller gives ``dataset``, ``class_names``, ``metrics`` and ``history``.
    The file is written next to its destination and moved into place, so an interrupted save leaves
    any older file at ``path`` intact.
    """
    config = model.config
    full = {
        "method": config.method,
        "encoder": config.encoder,
        "latent_dim": config.latent_dim,
        "config": dataclasses.asdict(config),
        "versions": {"explorer": __version__, "torch": torch.__version__,
                     "python": platform.python_version()},
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        **meta,
    }
    if model.text:  # the words its ids index: the checkpoint reads raw text by itself
        if model.vocabulary is None:
            raise ArgumentError("a text model needs its vocabulary to be saved")
        full["vocabulary"] = list(model.vocabulary.words)
    missing = [key for key in REQUIRED_META if key not in full]
    if missing:
        raise ArgumentError(f"meta lacks {', '.join(missing)}")
    full = _plain(full)
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "meta": full,
    }
    path = Path(path)
    with atomic_write(path) as f:
        torch.save(payload, f)
    return path


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 160 else text[:157] + "..."


MAX_PARAMETERS = 500_000_000
"""The most parameters and buffers a checkpoint's config may ask for (ResNet-18: 11 million)."""


def _check_weights(config: ModelConfig, state: dict[str, torch.Tensor]) -> None:
    """Raise ValueError unless the model ``config`` describes is at most :data:`MAX_PARAMETERS` and holds
    exactly the tensors of ``state``, shape for shape. The model is laid out on the meta device, which
    allocates nothing, so a config asking for a 100 000 × 100 000 layer costs no memory to refuse."""
    with torch.device("meta"):
        skeleton = Classifier(config).state_dict()
    size = sum(t.numel() for t in skeleton.values())
    if size > MAX_PARAMETERS:
        raise ValueError(f"its config asks for {size:,} parameters, more than the {MAX_PARAMETERS:,} allowed")
    missing, unexpected = sorted(set(skeleton) - set(state)), sorted(set(state) - set(skeleton))
    if missing or unexpected:
        raise ValueError(f"missing {', '.join(missing[:3]) or 'none'}; unexpected {', '.join(unexpected[:3]) or 'none'}")
    for name, tensor in skeleton.items():
        if tuple(state[name].shape) != tuple(tensor.shape):
            raise ValueError(f"{name} is {tuple(state[name].shape)} but the config makes it {tuple(tensor.shape)}")


def load_checkpoint(path: str | os.PathLike) -> tuple[Classifier, dict]:
    """Read a checkpoint: ``(model in eval mode on the CPU, meta)``; raises :class:`CheckpointError`."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such file")
    if not path.is_file():
        raise CheckpointError(f"{path}: not a file")
    if not zipfile.is_zipfile(path):  # torch.save writes a zip archive; a cut-off one loses its index
        raise CheckpointError(f"{path}: not a readable checkpoint, truncated or corrupt (no torch archive)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise CheckpointError(f"{path}: refused, it holds objects or code beyond plain data "
                              f"({_one_line(error)})") from None
    except Exception as error:  # whatever else the parser trips on, the file is not usable
        raise CheckpointError(f"{path}: not a readable checkpoint, truncated or corrupt "
                              f"({_one_line(error)})") from None

    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a vc-explorer checkpoint")
    if type(payload.get("format_version")) is not int or payload["format_version"] != FORMAT_VERSION:
        raise CheckpointError(f"{path}: format version {payload.get('format_version')!r} is not "
                              f"supported (this is version {FORMAT_VERSION})")
    meta, state = payload.get("meta"), payload.get("state_dict")
    if not isinstance(meta, dict) or not isinstance(state, dict) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise CheckpointError(f"{path}: the checkpoint lacks its weights or metadata")
    missing = [key for key in REQUIRED_META if key not in meta]
    if missing:
        raise CheckpointError(f"{path}: metadata lacks {', '.join(missing)}")
    if not isinstance(meta["method"], str) or meta["method"] not in METHODS:
        raise CheckpointError(f"{path}: unknown method {meta['method']!r} (known: {', '.join(METHODS)})")
    if not isinstance(meta["dataset"], str) or meta["dataset"] not in DATASETS:
        raise CheckpointError(f"{path}: unknown dataset {meta['dataset']!r} (known: {', '.join(DATASETS)})")
    if not isinstance(meta["config"], dict):
        raise CheckpointError(f"{path}: the stored config is not a mapping")
    try:
        config = config_from_dict(ModelConfig, meta["config"])
        _check_weights(config, state)  # before the model is built: a crafted config may ask for any size
        model = Classifier(config)
        model.load_state_dict(state, strict=True)
    except Exception as error:  # a crafted config or state can fail in many ways; all mean "unusable"
        raise CheckpointError(f"{path}: the weights do not fit the stored config ({_one_line(error)})") \
            from None
    names = meta["class_names"]
    if not isinstance(names, (list, tuple)) or len(names) != config.num_classes or \
            not all(isinstance(n, str) for n in names):
        raise CheckpointError(f"{path}: class_names must be {config.num_classes} strings")
    if config.method != meta["method"]:
        raise CheckpointError(f"{path}: meta says method {meta['method']!r} but the config says "
                              f"{config.method!r}")
    if model.text:
        words = meta.get("vocabulary")
        try:
            model.vocabulary = Vocabulary(tuple(words))
        except (TypeError, ArgumentError):
            raise CheckpointError(f"{path}: a text model's checkpoint needs its vocabulary, a list of distinct "
                                  "words") from None
        if model.vocabulary.size != config.vocab_size:
            raise CheckpointError(f"{path}: the vocabulary has {model.vocabulary.size} ids but the model "
                                  f"{config.vocab_size}")
    return model.eval(), meta


# ---------------------------------------------------------------------------------------------------
# What training held out


def validation_split(model: Classifier, data_train: Dataset,
                     train_config: TrainConfig) -> Dataset:
    """The examples of ``data_train`` that training with ``train_config`` held out, as ``model`` reads them.

    The split is :func:`~explorer.core.data.split_indices`'s, so it depends only on the labels and the
    config's seed and fractions: the validation set training measured every epoch, never the test split,
    and the set temperature scaling and model choices are fitted on. A text set is re-encoded with a text
    model's own vocabulary (:func:`~explorer.core.data.readable_by`).

    Args:
        model: the model trained on ``data_train``.
        data_train: the dataset's whole training split, N examples.
        train_config: the :class:`~explorer.core.config.TrainConfig` it was trained with.

    Returns:
        The held-out ``val_fraction`` of ``data_train`` (stratified), M examples in their original order.
    """
    _, val_idx = split_indices(data_train.y, train_config)
    return readable_by(data_train.subset(val_idx), model)


def checkpoint_validation_split(model: Classifier, meta: dict,
                                data_train: Dataset | None = None) -> Dataset:
    """:func:`validation_split` of a loaded checkpoint, from the training config its ``meta`` records.

    ``data_train`` is the training split of ``meta["dataset"]``, loaded when not given (pass it when
    already at hand). Raises :class:`~explorer.core.errors.ArgumentError` when the checkpoint does not
    record how it was trained (one saved by code other than the project's runs).
    """
    config = train_config_of(meta, "its training split, so its validation split cannot be rebuilt (nor a "
                                   "temperature fitted on it)")
    if data_train is None:
        data_train = load_dataset(meta["dataset"], "train")
    return validation_split(model, data_train, config)


def train_config_of(meta: dict, lacking: str = "how it was trained") -> TrainConfig:
    """The :class:`~explorer.core.config.TrainConfig` a checkpoint's ``meta`` records.

    Raises :class:`~explorer.core.errors.ArgumentError` ("this checkpoint does not record ``lacking``")
    for one saved by code other than the project's runs, which records none.
    """
    if "train_config" not in meta:
        raise ArgumentError(f"this checkpoint does not record {lacking}")
    return config_from_dict(TrainConfig, meta["train_config"])


# ---------------------------------------------------------------------------------------------------
# The catalogue of checkpoint files


def user_dir() -> Path:
    """Checkpoints trained or uploaded by the user: ``$EXPLORER_RUNS_DIR``, else a per-user folder.

    Never inside ``checkpoints/``, so nothing the user does can overwrite a shipped model.
    """
    return user_folder("EXPLORER_RUNS_DIR", "runs")


def shared_dir() -> Path:
    """Checkpoints and bundles offered to every session of the app: ``$EXPLORER_SHARED_DIR``, else
    ``user_dir()/shared``. The app only reads it: a teacher puts the class's files there."""
    if env := os.environ.get("EXPLORER_SHARED_DIR"):
        return Path(env).expanduser()
    return user_dir() / "shared"


SESSION_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")
"""What names one session's uploads folder: random, long enough that nobody guesses another's."""


def uploads_dir(session: str) -> Path:
    """The uploads of one browser session, ``user_dir()/uploaded/<session>``: listed for that session
    alone, so that two students uploading ``model.pt`` each see their own. ``session`` is a random token
    (:data:`SESSION_TOKEN`, e.g. ``secrets.token_urlsafe(24)``); anything else raises ``ArgumentError``."""
    if not SESSION_TOKEN.fullmatch(session):
        raise ArgumentError(f"an uploads folder is named by a random token of 16-64 letters, digits, - or _, "
                            f"got {session!r}")
    return user_dir() / "uploaded" / session


@dataclass(frozen=True)
class Entry:
    """One listed checkpoint or bundle with the metadata needed to choose it.

    A bundle's ``method`` is ``"bundle"``, its ``encoder`` ``"predictions"``, its ``latent_dim`` 0
    when it carries no latents, and its ``dataset`` :data:`~explorer.core.data.OWN_DATA` when its
    rows are not a project dataset's test split.
    """

    path: Path
    source: str
    dataset: str
    method: str
    encoder: str
    latent_dim: int
    accuracy: float | None
    variant: str | None = None
    """How the run used its prior term and KL (:func:`explorer.core.config.variant`), if it says."""

    @property
    def label(self) -> str:
        acc = f", {100 * self.accuracy:.1f} %" if self.accuracy is not None else ""
        method = f"{self.method} ({self.variant})" if self.variant else self.method
        return (f"{method} · {self.encoder} d={self.latent_dim} · {self.dataset}{acc} "
                f"[{self.source}: {self.path.stem}]")


def describe(path: Path, source: str) -> Entry:
    """An :class:`Entry` for one file; raises :class:`CheckpointError` (:class:`BundleError` for a
    ``.npz``) if it is not usable."""
    if is_bundle_path(path):
        bundle = load_bundle(path)
        accuracy = float((bundle.logits.argmax(1) == bundle.labels).mean())
        return Entry(path=path, source=source, dataset=bundle.dataset_name or OWN_DATA, method="bundle",
                     encoder="predictions", latent_dim=0 if bundle.latents is None else bundle.latents.shape[1],
                     accuracy=accuracy)
    model, meta = load_checkpoint(path)
    try:
        how = variant(model.config, config_from_dict(TrainConfig, meta["train_config"]))
    except (KeyError, TypeError, ArgumentError):  # no or an unreadable training record: say nothing
        how = None
    return Entry(path=path, source=source, dataset=meta["dataset"], method=meta["method"],
                 encoder=meta["encoder"], latent_dim=int(meta["latent_dim"]),
                 accuracy=meta.get("metrics", {}).get("accuracy"), variant=how)


_DESCRIBED: dict[tuple[Path, str], tuple[tuple[int, int], Entry | str]] = {}
"""(path, source) → ((size, mtime in ns), its Entry or the one line that refused it): what
:func:`list_checkpoints` read of each file, read again only when the file changes."""
_DESCRIBED_LOCK = threading.Lock()
_READING: dict[tuple[Path, str], threading.Lock] = {}
"""One lock per file being described: sessions listing at once (a class opening a fresh server) wait
for the one that reads a file instead of each reading every file."""


def _described(path: Path, source: str) -> Entry | str | None:
    """:func:`describe` of ``path``, or its one-line refusal, from :data:`_DESCRIBED` while the file's
    size and modification time stay those it was read at; None for a file gone since it was listed."""
    with _DESCRIBED_LOCK:
        reading = _READING.setdefault((path, source), threading.Lock())
    with reading:
        return _described_once(path, source)


def _described_once(path: Path, source: str) -> Entry | str | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    signature = (stat.st_size, stat.st_mtime_ns)
    with _DESCRIBED_LOCK:
        known = _DESCRIBED.get((path, source))
    if known is not None and known[0] == signature:
        return known[1]
    try:
        found: Entry | str = describe(path, source)
    except (CheckpointError, BundleError) as error:
        found = str(error)
    except OSError as error:  # deleted or unreadable while it was read: not listed, and not remembered
        return f"{path}: could not be read ({type(error).__name__})" if path.exists() else None
    with _DESCRIBED_LOCK:
        _DESCRIBED[(path, source)] = (signature, found)
    return found


def list_checkpoints(shipped: Path = SHIPPED_DIR, user: Path | None = None, shared: Path | None = None,
                     uploads: Path | None = None) -> tuple[list[Entry], list[str]]:
    """Every usable checkpoint, shipped first, then the user's trained ones, the shared folder's
    checkpoints and bundles, and those of ``uploads`` (one session's :func:`uploads_dir`; None: none).

    ``user`` defaults to :func:`user_dir`, ``shared`` to :func:`shared_dir` (``user/shared`` when ``user``
    is given). Returns (entries, problems): a file that cannot be read is skipped and its one-line reason
    kept. A file is read once per change of its size or modification time, so listing again costs a
    ``stat`` a file.
    """
    if shared is None:
        shared = shared_dir() if user is None else user / "shared"
    user = user_dir() if user is None else user
    folders = [(shipped, "shipped"), (user / "trained", "trained"), (shared, "shared"), (uploads, "uploaded")]
    entries, problems = [], []
    for folder, source in folders:
        if folder is None:
            continue
        patterns = ("*.pt",) if source in ("shipped", "trained") else ("*.pt", "*.npz")
        for path in sorted(p for pattern in patterns for p in folder.glob(pattern)) if folder.is_dir() else []:
            found = _described(path, source)
            if isinstance(found, Entry):
                entries.append(found)
            elif found is not None:
                problems.append(found)
    return entries, problems


def default_entry(entries: list[Entry], method: str, latent_dim: int | None = None) -> Entry | None:
    """The entry to show first for ``method``: with d = 2 (the clearest picture) before any other d,
    unless ``latent_dim`` asks for one; among those, one trained its dataset's default way (vc: not the
    released step kept beside it), then the first listed. None without an entry of that method (and d).
    """
    usual = {d: variant(*default_configs(d, method)) for d in {e.dataset for e in entries if e.method == method}}
    ranked = [(e.latent_dim != 2, e.variant != usual[e.dataset], i) for i, e in enumerate(entries)
              if e.method == method and latent_dim in (None, e.latent_dim)]
    return entries[min(ranked)[2]] if ranked else None
