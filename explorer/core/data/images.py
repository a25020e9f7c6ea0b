"""Image sets as float32 tensors in [0, 1] pixel space (:class:`ImageData`), read from local files or
downloaded once.

Every image set loads as ``x`` float32 ``(N, C, H, W)`` in [0, 1] and ``y`` int64 ``(N,)``.
Normalisation happens inside the model, so perturbation budgets stay in pixel units; the per-channel
mean and std of :class:`~explorer.core.data.registry.DatasetInfo` are metadata for it.

Sources:

- ``digits``: scikit-learn's bundled copy of the UCI optical handwritten digits (8×8, 1797 images),
  always available offline, split by the indices stored beside this module (:data:`DIGITS_SPLIT`).
- ``mnist``, ``fashion-mnist``, ``cifar10``: torchvision's dataset classes, stored under the data root
  in torchvision's layout (``MNIST/raw/``, ``FashionMNIST/raw/``, ``cifar-10-batches-py/``) and
  downloaded on first use into a scratch folder, moved into place only once complete.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from explorer.core.data.registry import DatasetInfo
from explorer.core.errors import ArgumentError, DatasetUnavailableError

logger = logging.getLogger(__name__)

DIGITS_TEST_SIZE = 0.25  # fixed stratified split of sklearn's digits: 1347 train / 450 test images
DIGITS_SPLIT_SEED = 0

DIGITS_SPLIT = Path(__file__).with_name("digits_split.npz")
"""Indices ``train`` and ``test`` of the stratified split of scikit-learn's digits that
``train_test_split(test_size=DIGITS_TEST_SIZE, stratify=target, random_state=DIGITS_SPLIT_SEED)``
draws, in its order (``tests/core/data/test_images.py`` checks them against it). Stored, so that loading
digits imports no scikit-learn: a second of a fresh server's first page."""


# torchvision class name per downloadable dataset, and the paths (relative to the root) it reads and writes.
_TORCHVISION = {
    "mnist": ("MNIST", ("MNIST",)),
    "fashion-mnist": ("FashionMNIST", ("FashionMNIST",)),
    "cifar10": ("CIFAR10", ("cifar-10-batches-py", "cifar-10-python.tar.gz")),
}


@dataclass(frozen=True)
class ImageData:
    """A labelled image set.

    Attributes:
        name: dataset name, a key of :data:`~explorer.core.data.registry.DATASETS`.
        x: float32 images ``(N, C, H, W)``, pixel values in [0, 1].
        y: int64 labels ``(N,)`` in ``[0, len(class_names))``.
        class_names: one name per class.
    """

    name: str
    x: torch.Tensor
    y: torch.Tensor
    class_names: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.x.dtype != torch.float32 or self.x.ndim != 4:
            raise ArgumentError(f"x must be float32 (N, C, H, W), got {self.x.dtype} {tuple(self.x.shape)}")
        if self.y.dtype != torch.int64 or self.y.shape != self.x.shape[:1]:
            raise ArgumentError(
                f"y must be int64 ({len(self.x)},) to match x, got {self.y.dtype} {tuple(self.y.shape)}"
            )
        # Written so that NaN fails too.
        if not ((self.x >= 0) & (self.x <= 1)).all():
            raise ArgumentError("x must lie in [0, 1] pixel space (no NaN)")
        if len(self.y) and not (0 <= self.y.min() and self.y.max() < len(self.class_names)):
            raise ArgumentError(
                f"labels must lie in [0, {len(self.class_names)}), "
                f"got [{self.y.min().item()}, {self.y.max().item()}]"
            )

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, indices: torch.Tensor | Sequence[int]) -> ImageData:
        """The images at ``indices`` (any 1-D index: LongTensor, list, or boolean mask)."""
        indices = torch.as_tensor(indices)
        return dataclasses.replace(self, x=self.x[indices], y=self.y[indices])


def load_images(info: DatasetInfo, split: str, root: Path, download: bool) -> ImageData:
    """One split of the image set ``info`` describes: digits from its stored split, the others from
    torchvision's files under ``root`` (fetched first when they are missing and ``download`` is true).
    What :func:`~explorer.core.data.loading.load_dataset` calls once it has checked the name and split.

    Raises:
        DatasetUnavailableError: the files are missing and could not (or may not) be downloaded.
    """
    if info.name == "digits":
        x, y = _load_digits(split)
    else:
        x, y = _load_torchvision(info.name, split, root, download)
    return ImageData(info.name, x, y, info.class_names)


def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled digits as ``load_digits`` gives them, images (1797, 8, 8) of pixel counts
    0..16 and targets, read from its CSV file without importing scikit-learn (``load_digits`` where
    that file is not where this version keeps it)."""
    spec = importlib.util.find_spec("sklearn")
    csv = Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz" if spec and spec.origin else None
    if csv is not None and csv.exists():
        data = np.loadtxt(csv, delimiter=",")
        return data[:, :-1].reshape(-1, 8, 8), data[:, -1].astype(int)
    from sklearn.datasets import load_digits

    digits = load_digits()
    return digits.images, digits.target


def _load_digits(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    images, target = _digits_arrays()
    with np.load(DIGITS_SPLIT) as f:
        rows = f["train" if split == "train" else "test"].astype(np.int64)
    x = images[rows] / 16.0  # pixel counts 0..16 from the 4×4-block downsampling
    return torch.from_numpy(x).float().unsqueeze(1), torch.from_numpy(target[rows]).long()


def _load_torchvision(name: str, split: str, root: Path, download: bool) -> tuple[torch.Tensor, torch.Tensor]:
    from torchvision import datasets  # here: importing torchvision takes seconds

    class_name, paths = _TORCHVISION[name]
    cls = getattr(datasets, class_name)
    try:
        # With download=False torchvision only checks the extracted files, so this is the fast path.
        ds = cls(root, train=split == "train", download=False)
    except RuntimeError:
        if not download:
            raise _unavailable(name, root / paths[0], "files missing and download=False") from None
        _download(name, cls, root, paths)
        ds = cls(root, train=split == "train", download=False)
    # Convert the stored arrays directly; going through PIL images would take ~100× longer.
    x = torch.as_tensor(ds.data)
    x = x.unsqueeze(1) if x.ndim == 3 else x.permute(0, 3, 1, 2)  # CIFAR stores (N, H, W, C)
    return x.contiguous().float().div_(255), torch.as_tensor(ds.targets, dtype=torch.int64)


def _download(name: str, cls: type, root: Path, paths: Sequence[str]) -> None:
    """Let torchvision fetch and extract into a scratch folder inside ``root``, then move the result in.

    Files already in ``root`` (say, the ``.gz`` archives without their extracted copies) are copied
    into the scratch folder first, so torchvision verifies and extracts them instead of downloading.
    Copies rather than hard links: torchvision rewrites a corrupt file in place, which would reach
    through a link into ``root``.
    """
    try:
        root.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=".download-", dir=root))
    except OSError as err:
        raise _unavailable(name, root / paths[0], f"cannot write there ({err})") from err
    try:
        for rel in paths:
            if (root / rel).is_dir():
                shutil.copytree(root / rel, scratch / rel)
            elif (root / rel).is_file():
                shutil.copy2(root / rel, scratch / rel)
        logger.info("fetching %s into %s", name, root)
        cls(scratch, train=True, download=True)  # fetches both splits
        for src in sorted(p for p in scratch.rglob("*") if p.is_file()):
            dst = root / src.relative_to(scratch)
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dst)
    except Exception as err:
        reason = " ".join(str(err).split()) or type(err).__name__  # torchvision's are multi-line
        raise _unavailable(name, root / paths[0], f"download failed: {reason}") from err
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _unavailable(name: str, folder: Path, reason: str) -> DatasetUnavailableError:
    return DatasetUnavailableError(
        f"dataset {name!r} not found in {folder}: {reason}. Set EXPLORER_DATA_DIR to a folder holding "
        f"its files in torchvision's layout, or connect to the internet once with download=True."
    )


__all__ = ["DIGITS_SPLIT", "DIGITS_SPLIT_SEED", "DIGITS_TEST_SIZE", "ImageData"]
