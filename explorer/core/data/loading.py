"""One entry point for every dataset: :func:`load_dataset` reads a split by name, from the data root
(:func:`data_root`), as images or as text; :func:`readable_by` gives a loaded set the form a model reads.

A loaded set is a :data:`Dataset`: :class:`~explorer.core.data.images.ImageData` or
:class:`~explorer.core.data.text.TextData`. Both offer ``name``, ``x``, ``y`` int64 ``(N,)``,
``class_names``, ``len()`` and ``subset(indices)``, which is all that training and measuring a model
need; ``x`` is images ``(N, C, H, W)`` in [0, 1] or token ids ``(N, max_tokens)``.
"""

from __future__ import annotations

import os
from pathlib import Path

from explorer.core._io import user_folder
from explorer.core.data.images import ImageData, load_images
from explorer.core.data.registry import dataset_info
from explorer.core.data.text import TextData, load_text
from explorer.core.errors import ArgumentError

SPLITS = ("train", "test")

Dataset = ImageData | TextData
"""A loaded set of either domain, as :func:`load_dataset` returns it."""


def data_root() -> Path:
    """Folder holding the downloadable datasets in torchvision's layout.

    ``$EXPLORER_DATA_DIR`` if set, else ``$XDG_CACHE_HOME/vc-explorer/data`` (default
    ``~/.cache/vc-explorer/data``).
    """
    return user_folder("EXPLORER_DATA_DIR", "data")


def load_dataset(
    name: str, split: str = "train", root: str | os.PathLike | None = None, download: bool = True
) -> Dataset:
    """Load one split of a dataset: images as tensors in [0, 1], text as token ids (:class:`TextData`).

    Args:
        name: one of :data:`~explorer.core.data.registry.DATASETS`.
        split: ``"train"`` or ``"test"``. For ``digits`` this is a fixed stratified split of
            scikit-learn's 1797 images (25 % test, ``random_state=0``): 1347 train, 450 test.
        root: folder in torchvision's layout; defaults to :func:`data_root`. Ignored for ``digits``.
        download: fetch missing files from the internet (into a temporary folder inside ``root``,
            moved into place only once complete).

    Raises:
        ArgumentError: unknown name or split.
        DatasetUnavailableError: the files are missing and could not (or may not) be downloaded.
    """
    info = dataset_info(name)
    if split not in SPLITS:
        raise ArgumentError(f"unknown split {split!r}; expected one of {list(SPLITS)}")
    load = load_text if info.domain == "text" else load_images
    return load(info, split, Path(root) if root is not None else data_root(), download)


def readable_by(data: Dataset, model) -> Dataset:
    """``data`` as ``model`` reads it: a text set re-encoded with a text model's own vocabulary (the
    one its checkpoint carries), anything else as it is."""
    vocabulary = getattr(model, "vocabulary", None)
    return data.with_vocabulary(vocabulary) if isinstance(data, TextData) and vocabulary is not None else data


__all__ = ["SPLITS", "Dataset", "data_root", "load_dataset", "readable_by"]
