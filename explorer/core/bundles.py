"""Predictions bundles: a classifier's outputs as plain arrays in one ``.npz``, for users who have no model.

A bundle holds what the measurements need when the model itself is absent. Shapes: N test examples,
K classes, d latent dimensions, M validation and P out-of-distribution examples.

========================== ============================ ====================================================
field                      shape                        meaning
========================== ============================ ====================================================
``logits``                 (N, K) float, required        the classifier's logits on its test examples
``labels``                 (N,) int, required            their true classes, in [0, K)
``latents``                (N, d) float                  the input of the last linear layer
``weight``, ``bias``       (K, d), (K,) float            that layer (both or neither; need ``latents``):
                                                         with them the implied Gaussians can be drawn
``class_names``            (K,) str                      one name per class
``images``                 (N, H, W) or (N, C, H, W)     the inputs, in [0, 1], to show beside a point
``val_logits``, ``val_labels`` (M, K), (M,)              held-out outputs for temperature scaling
``val_latents``            (M, d) float                  their latents (need ``latents``): the implied
                                                         Gaussians are fitted to them
``ood_logits``, ``ood_latents`` (P, K), (P, d)           outputs on out-of-distribution inputs
``dataset``                () str                        a project dataset (``"mnist"``) whose test split
                                                         the rows are, in its order: the app then shows
                                                         the bundle beside that dataset's checkpoints
========================== ============================ ====================================================

Loading never runs code from the file (``allow_pickle=False``: no object arrays), reads every array's
header before any array (a file declaring more than :data:`MAX_BUNDLE_BYTES` is refused unread: a
few kilobytes of zip can declare gigabytes), and checks every field; a bad one raises
:class:`~explorer.core.errors.BundleError` naming it.
"""

from __future__ import annotations

import dataclasses
import math
import os
import zipfile
from pathlib import Path

import numpy as np
import torch

from explorer.core._io import atomic_write
from explorer.core._validation import check_labels
from explorer.core.errors import ArgumentError, BundleError
from explorer.core.config import DEFAULT_COVARIANCE
from explorer.core.implied import ImpliedGaussians, fit_implied
from explorer.core.models import LinearHead

REQUIRED = ("logits", "labels")
OPTIONAL = ("latents", "weight", "bias", "class_names", "images", "val_logits", "val_labels", "val_latents",
            "ood_logits", "ood_latents", "dataset")
PAIRS = (("weight", "bias"), ("val_logits", "val_labels"))
"""Fields that mean something only together."""
MAX_BUNDLE_BYTES = 2 * 1024**3
"""The most memory a bundle's arrays may take once read (2 GiB: ImageNet's 50 000 validation images'
logits and 2048-d latents take 0.6 GiB)."""


def _declared_bytes(path: Path) -> int:
    """The bytes a ``.npz``'s arrays will take once read, from each member's ``.npy`` header alone (the
    first bytes of its compressed stream), so that nothing large is decompressed to find out."""
    total = 0
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            with archive.open(info) as member:
                try:
                    version = np.lib.format.read_magic(member)
                    read = {(1, 0): np.lib.format.read_array_header_1_0,
                            (2, 0): np.lib.format.read_array_header_2_0}.get(version)
                    if read is None:
                        raise ValueError(f".npy format version {version}")
                    shape, _, dtype = read(member)
                except ValueError as error:
                    raise BundleError(f"{path.name}: member {info.filename} is not a plain NumPy array "
                                      f"({' '.join(str(error).split())[:160]})") from None
            total += math.prod(shape) * dtype.itemsize
    return total


def is_bundle_path(path: str | os.PathLike) -> bool:
    """Whether ``path`` names a predictions bundle rather than a checkpoint: its name ends in ``.npz``,
    in any case (``X.NPZ`` too). The one rule by which the command line, the catalogue of files and
    the app tell the two apart."""
    return Path(path).suffix.lower() == ".npz"


@dataclasses.dataclass(frozen=True)
class Bundle:
    """The checked arrays of a bundle (see the module's table); absent optional fields are None."""

    logits: np.ndarray
    labels: np.ndarray
    latents: np.ndarray | None = None
    weight: np.ndarray | None = None
    bias: np.ndarray | None = None
    class_names: np.ndarray | None = None
    images: np.ndarray | None = None
    val_logits: np.ndarray | None = None
    val_labels: np.ndarray | None = None
    val_latents: np.ndarray | None = None
    ood_logits: np.ndarray | None = None
    ood_latents: np.ndarray | None = None
    dataset: np.ndarray | None = None

    @property
    def num_classes(self) -> int:
        return self.logits.shape[1]

    @property
    def dataset_name(self) -> str | None:
        """The project dataset whose test split the rows are, or None for a bundle of other data."""
        return None if self.dataset is None else str(self.dataset)

    def linear_head(self) -> LinearHead | None:
        """The last layer as the project's :class:`~explorer.core.models.LinearHead` (its implied
        Gaussians, METHOD.md §1), or None when the bundle has no ``weight`` and ``bias``."""
        if self.weight is None:
            return None
        head = LinearHead(self.weight.shape[1], self.weight.shape[0])
        with torch.no_grad():
            head.linear.weight.copy_(torch.from_numpy(self.weight))
            head.linear.bias.copy_(torch.from_numpy(self.bias))
        return head.double().eval()

    def implied_gaussians(self, covariance: str = DEFAULT_COVARIANCE) -> ImpliedGaussians | None:
        """The member of the last layer's implied family (:func:`~explorer.core.implied.fit_implied`)
        fitted to the bundle's ``val_latents``, or, without them, to its test latents (said in the
        result's ``fitted_on``); None when the bundle has no ``weight`` and ``bias``."""
        head = self.linear_head()
        if head is None:
            return None
        if covariance == "identity":
            return fit_implied(head, None, None, "identity")
        if self.val_latents is not None:
            return fit_implied(head, self.val_latents, self.val_labels, covariance,
                               f"{len(self.val_latents):,} validation latents")
        return fit_implied(head, self.latents, self.labels, covariance, f"the {len(self.latents):,} test latents it "
                           "is checked on: the bundle has no validation latents")

    def arrays(self) -> dict[str, np.ndarray]:
        """The fields present, by name."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if getattr(self, f.name) is not None}


def _float(name: str, value, ndim: int) -> np.ndarray:
    a = np.asarray(value)
    if a.dtype.kind not in "fiu" or a.ndim != ndim:
        raise BundleError(f"{name} must be a {ndim}-D array of numbers, got shape {a.shape} of {a.dtype}")
    a = a.astype(np.float32 if a.dtype.itemsize <= 4 else np.float64, copy=False)
    if not np.isfinite(a).all():
        raise BundleError(f"{name} has {int((~np.isfinite(a)).sum())} values that are not finite")
    return a


def _labels(name: str, value, k: int) -> np.ndarray:
    try:
        return check_labels(value, k=k, name=name)
    except ArgumentError as error:  # the same check as every argument's, reported as the bundle's fault
        raise BundleError(str(error)) from None


def _outputs(name: str, value, k: int) -> np.ndarray:
    """Logits of other examples (validation, OOD): (M, K) with the test logits' K."""
    a = _float(name, value, 2)
    if a.shape[1] != k:
        raise BundleError(f"{name} has {a.shape[1]} classes but logits has {k}")
    return a


def _rows(name: str, a: np.ndarray, n: int, other: str) -> None:
    if len(a) != n:
        raise BundleError(f"{name} has {len(a)} rows but {other} has {n}")


def check_bundle(**arrays) -> Bundle:
    """The arrays as a :class:`Bundle`, each field checked: names known, shapes that agree, values
    finite, labels in range, images in [0, 1]."""
    unknown = sorted(set(arrays) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        raise BundleError(f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(REQUIRED + OPTIONAL)}")
    missing = [name for name in REQUIRED if arrays.get(name) is None]
    if missing:
        raise BundleError(f"a bundle needs {' and '.join(missing)}")
    for a, b in PAIRS:
        if (arrays.get(a) is None) != (arrays.get(b) is None):
            raise BundleError(f"{a} and {b} come together: give both or neither")
    logits = _float("logits", arrays["logits"], 2)
    n, k = logits.shape
    if k < 2 or n < 1:
        raise BundleError(f"logits must be (N, K) with N >= 1 and K >= 2 classes, got {logits.shape}")
    out = {"logits": logits, "labels": _labels("labels", arrays["labels"], k)}
    _rows("labels", out["labels"], n, "logits")
    if arrays.get("latents") is not None:
        out["latents"] = _float("latents", arrays["latents"], 2)
        _rows("latents", out["latents"], n, "logits")
    if arrays.get("weight") is not None:
        if "latents" not in out:
            raise BundleError("weight and bias describe the layer the latents enter: give latents too")
        out["weight"], out["bias"] = _float("weight", arrays["weight"], 2), _float("bias", arrays["bias"], 1)
        d = out["latents"].shape[1]
        if out["weight"].shape != (k, d) or out["bias"].shape != (k,):
            raise BundleError(f"weight must be (K, d) = ({k}, {d}) and bias ({k},), got {out['weight'].shape} "
                              f"and {out['bias'].shape}")
    if arrays.get("class_names") is not None:
        names = np.asarray(arrays["class_names"])
        if names.dtype.kind != "U" or names.shape != (k,):
            raise BundleError(f"class_names must be {k} strings, got shape {names.shape} of {names.dtype}")
        out["class_names"] = names
    if arrays.get("images") is not None:
        images = np.asarray(arrays["images"])
        if images.ndim not in (3, 4):
            raise BundleError(f"images must be (N, H, W) or (N, C, H, W), got shape {images.shape}")
        images = _float("images", images, images.ndim)
        _rows("images", images, n, "logits")
        if images.size and (images.min() < 0 or images.max() > 1):
            raise BundleError(f"images must lie in [0, 1], got {images.min():.3g}..{images.max():.3g}")
        out["images"] = images
    if arrays.get("val_logits") is not None:
        out["val_logits"] = _outputs("val_logits", arrays["val_logits"], k)
        out["val_labels"] = _labels("val_labels", arrays["val_labels"], k)
        _rows("val_labels", out["val_labels"], len(out["val_logits"]), "val_logits")
    if arrays.get("val_latents") is not None:
        out["val_latents"] = _float("val_latents", arrays["val_latents"], 2)
        if "latents" not in out or "val_logits" not in out or out["val_latents"].shape[1] != out["latents"].shape[1]:
            raise BundleError("val_latents must have as many dimensions as latents (and latents, val_logits and "
                              "val_labels must be given)")
        _rows("val_latents", out["val_latents"], len(out["val_logits"]), "val_logits")
    if arrays.get("ood_logits") is not None:
        out["ood_logits"] = _outputs("ood_logits", arrays["ood_logits"], k)
    if arrays.get("ood_latents") is not None:
        out["ood_latents"] = _float("ood_latents", arrays["ood_latents"], 2)
        if "latents" not in out or out["ood_latents"].shape[1] != out["latents"].shape[1]:
            raise BundleError("ood_latents must have as many dimensions as latents (and latents must be given)")
        if "ood_logits" in out:
            _rows("ood_latents", out["ood_latents"], len(out["ood_logits"]), "ood_logits")
    if arrays.get("dataset") is not None:
        out["dataset"] = _dataset(arrays["dataset"], n, k)
    return Bundle(**out)


def _dataset(value, n: int, k: int) -> np.ndarray:
    from explorer.core.data import DATASETS, datasets_of

    images = datasets_of("image")
    name = np.asarray(value)
    if name.dtype.kind != "U" or name.ndim != 0 or str(name) not in images:
        raise BundleError(f"dataset must be one of the image datasets {', '.join(images)} (one string), got {value!r}")
    info = DATASETS[str(name)]
    if info.num_classes != k:
        raise BundleError(f"dataset {str(name)!r} has {info.num_classes} classes but logits has {k}")
    return name


def save_bundle(path: str | os.PathLike, **arrays) -> Bundle:
    """Check the arrays (:func:`check_bundle`) and write them to ``path`` (``.npz``, compressed), through
    a temporary file, so a failure leaves no partial file; returns the checked bundle."""
    bundle = check_bundle(**arrays)
    with atomic_write(path) as f:
        np.savez_compressed(f, **bundle.arrays())
    return bundle


def load_bundle(path: str | os.PathLike) -> Bundle:
    """Read and check a bundle written by :func:`save_bundle` (or by anyone, in that format).

    Never unpickles: a file holding object arrays is refused, as is anything that is not an ``.npz``.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
        if not magic.startswith((b"PK", b"\x93NUMPY")):  # a zip (.npz) or one .npy array; else np.load unpickles
            raise BundleError(f"{path.name} is not a readable .npz bundle (neither a zip nor a NumPy file)")
        if magic.startswith(b"\x93NUMPY"):
            raise BundleError(f"{path.name} holds one array, not a bundle (.npz of named arrays)")
        if not zipfile.is_zipfile(path):  # a zip cut short loses its index
            raise BundleError(f"{path.name} is not a readable .npz bundle (a truncated or corrupt zip)")
        declared = _declared_bytes(path)
        if declared > MAX_BUNDLE_BYTES:
            raise BundleError(f"{path.name} declares {declared / 1024**3:.1f} GiB of arrays, more than the "
                              f"{MAX_BUNDLE_BYTES / 1024**3:.0f} GiB a bundle may hold: refused unread")
        data = np.load(path, allow_pickle=False)
        with data:
            arrays = {name: data[name] for name in data.files}
    except FileNotFoundError:
        raise BundleError(f"no bundle at {path}") from None
    except BundleError:
        raise
    except ValueError as error:  # object arrays need pickle, which is refused
        raise BundleError(f"{path.name} cannot be read without running code from it ({error})") from None
    except (OSError, zipfile.BadZipFile, EOFError) as error:
        raise BundleError(f"{path.name} is not a readable .npz bundle ({type(error).__name__})") from None
    try:
        return check_bundle(**arrays)
    except BundleError as error:
        raise BundleError(f"{path.name}: {error}") from None
