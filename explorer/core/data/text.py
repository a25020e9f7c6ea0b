"""Text sets as the models read them (:class:`TextData`): token ids of the training split's vocabulary,
with the documents and the vocabulary itself.

``x`` is int64 token ids ``(N, max_tokens)`` (:mod:`~explorer.core.data.tokens`), ``y`` int64 labels
``(N,)``. Sources:

- ``20newsgroups``, ``reuters-r8``: one ``label<TAB>text`` line a document, gzip-compressed, under the
  data root (``20newsgroups/20ng-{train,test}-all-terms.txt.gz``,
  ``reuters-r8/r8-{train,test}-all-terms.txt.gz``). Without the files, 20 Newsgroups comes through
  scikit-learn's ``fetch_20newsgroups`` (a download on first use), normalised to the same form;
  R8 has no such source.
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from explorer.core.data.registry import DatasetInfo
from explorer.core.data.tokens import Vocabulary, newsgroup_text
from explorer.core.errors import ArgumentError, DatasetUnavailableError

TEXT_MIN_COUNT = 2
"""A text set's vocabulary: the words seen at least this often in its training split."""

TEXT_FILES = {"20newsgroups": "20ng", "reuters-r8": "r8"}
"""The file prefix of each text set: ``<name>/<prefix>-<split>-all-terms.txt.gz`` under the data root."""


@dataclass(frozen=True, eq=False)
class TextData:
    """A labelled text set, read as the models read it.

    Attributes:
        name: dataset name, a key of :data:`~explorer.core.data.registry.DATASETS`.
        x: int64 token ids ``(N, max_tokens)`` of ``vocabulary`` (0 pads; :mod:`~explorer.core.data.tokens`).
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


def load_text(info: DatasetInfo, split: str, root: Path, download: bool) -> TextData:
    """One split of the text set ``info`` describes, as ids of the vocabulary of its training split (the
    words seen :data:`TEXT_MIN_COUNT` times or more): the offline file under ``root``, else (20
    Newsgroups, when ``download`` is true) scikit-learn's copy. What
    :func:`~explorer.core.data.loading.load_dataset` calls once it has checked the name and split.

    Raises:
        DatasetUnavailableError: no file, and no download that could (or may) stand in for it.
    """
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


__all__ = ["TEXT_FILES", "TEXT_MIN_COUNT", "TextData"]
