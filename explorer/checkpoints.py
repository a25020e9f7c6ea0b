"""Self-describing checkpoints that are safe to load.

One file per model: ``{"format", "format_version", "state_dict", "meta"}`` written with
``torch.save`` and read back with ``torch.load(weights_only=True)``, whose unpickler accepts only
tensors and plain containers (dict, list, tuple, str, numbers, bool, None), so loading never runs
code from the file. ``meta`` holds at least :data:`REQUIRED_META`; the model is rebuilt from
``meta["config"]`` and its weights must fit that architecture exactly.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import pickle
import platform
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import torch

import explorer
from explorer.config import METHODS, ModelConfig, config_from_dict
from explorer.data import DATASETS
from explorer.models import Classifier

FORMAT = "vc-explorer-checkpoint"
FORMAT_VERSION = 1
REQUIRED_META = (
    "method", "dataset", "encoder", "latent_dim", "class_names", "config", "metrics", "history",
    "versions", "created",
)


class CheckpointError(Exception):
    """A file that cannot be used as a checkpoint; the message is a one-line reason."""


def _plain(value: object, where: str = "meta") -> object:
    """A copy of ``value`` made of the types the safe loader accepts, or ``ValueError`` naming the spot.

    Subclasses of str, int and float (numpy scalars, ``torch.__version__``) become the plain type,
    numpy arrays become tensors: the safe unpickler would refuse them otherwise.
    """
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise ValueError(f"{where} has a non-string key {key!r}")
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
    raise ValueError(f"{where} is a {type(value).__name__}; checkpoints hold plain data only")


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
        "versions": {"explorer": explorer.__version__, "torch": torch.__version__,
                     "python": platform.python_version()},
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        **meta,
    }
    missing = [key for key in REQUIRED_META if key not in full]
    if missing:
        raise ValueError(f"meta lacks {', '.join(missing)}")
    full = _plain(full)
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "meta": full,
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes the file private; a checkpoint is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 160 else text[:157] + "..."


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
    return model.eval(), meta
