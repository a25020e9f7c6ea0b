"""Words as the models read them: one normalisation, a vocabulary of the training split, token ids.

The offline files (``../shared/data``'s README) hold documents in Ana Cardoso Cachopo's "all-terms"
form, and :func:`normalise` gives raw text that same form, so that a model trained on either source
sees the same tokens: letters only, lowercased, single spaces; for a newsgroup post its subject line
first, then its body (:func:`newsgroup_text`).

A :class:`Vocabulary` holds the words of a training split seen at least ``min_count`` times, most
frequent first. Id 0 pads, id 1 stands for every other word; :meth:`Vocabulary.encode` turns
documents into a padded LongTensor of their first ``max_tokens`` word ids. It is plain data (a tuple
of words), so a checkpoint carries its own and stays safe to load. :func:`drop_words` turns a random
share of the words into padding (word dropout in training); the text corruptions build on it and on
:func:`chosen_words`.
"""

from __future__ import annotations

import collections
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch

from explorer.core.errors import ArgumentError

PAD, UNKNOWN = 0, 1
"""The two ids that are not words: padding, and a word the vocabulary does not hold."""
_NOT_LETTERS = re.compile(r"[^a-z]+")


def normalise(text: str) -> str:
    """Lowercase, every run of characters other than the letters a-z as one space, no space at either end."""
    return _NOT_LETTERS.sub(" ", text.lower()).strip()


def newsgroup_text(post: str) -> str:
    """A raw newsgroup post (headers, a blank line, the body) as the offline files hold it: its
    subject line, then its body, :func:`normalise`-d. A post with no headers is taken whole."""
    head, blank, body = post.partition("\n\n")
    if not blank or not re.match(r"^[\w-]+:", head):
        return normalise(post)
    subject = next((line.split(":", 1)[1] for line in head.splitlines() if line.lower().startswith("subject:")), "")
    return normalise(f"{subject} {body}")


@dataclass(frozen=True)
class Vocabulary:
    """Words by id: ``words[i]`` has id ``i + 2`` (0 pads, 1 is an unknown word)."""

    words: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(set(self.words)) != len(self.words) or not all(isinstance(w, str) and w for w in self.words):
            raise ArgumentError("a vocabulary is distinct non-empty words")

    @classmethod
    def build(cls, documents: Iterable[str], min_count: int = 2) -> Vocabulary:
        """The words seen at least ``min_count`` times in ``documents`` (normalised text), most frequent
        first and, among equally frequent ones, in alphabetical order: the same documents always give
        the same ids."""
        if min_count < 1:
            raise ArgumentError(f"min_count must be >= 1, got {min_count}")
        counts = collections.Counter(word for doc in documents for word in doc.split())
        kept = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
        return cls(tuple(kept))

    @property
    def size(self) -> int:
        """Number of ids, padding and the unknown word included."""
        return len(self.words) + 2

    def encode(self, documents: Sequence[str], max_tokens: int) -> torch.Tensor:
        """(N, max_tokens) int64: each document's first ``max_tokens`` word ids, then padding (0).

        Words outside the vocabulary get :data:`UNKNOWN`; a longer document is cut (its opening holds
        the subject line and most of what tells its class).
        """
        if max_tokens < 1:
            raise ArgumentError(f"max_tokens must be >= 1, got {max_tokens}")
        index = {w: i + 2 for i, w in enumerate(self.words)}
        ids = torch.zeros((len(documents), max_tokens), dtype=torch.int64)
        for row, doc in enumerate(documents):
            tokens = [index.get(w, UNKNOWN) for w in doc.split()[:max_tokens]]
            if tokens:
                ids[row, : len(tokens)] = torch.tensor(tokens)
        return ids


def chosen_words(x: torch.Tensor, share: float, generator: torch.Generator) -> torch.Tensor:
    """A boolean mask of documents x (N, L) of token ids: each word (not padding) independently with
    probability ``share``, drawn from ``generator`` (on x's device)."""
    return (x != PAD) & (torch.rand(x.shape, generator=generator, device=x.device) < share)


def drop_words(x: torch.Tensor, share: float, generator: torch.Generator) -> torch.Tensor:
    """Documents x with the :func:`chosen_words` turned into padding. The bag encoder reads a document
    as a set of counts, so the gaps need not close up."""
    if share <= 0:
        return x
    return torch.where(chosen_words(x, share, generator), PAD, x)


__all__ = ["PAD", "UNKNOWN", "Vocabulary", "chosen_words", "drop_words", "newsgroup_text", "normalise"]
