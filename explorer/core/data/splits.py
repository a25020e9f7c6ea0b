"""Seeded subsets of a labelled set: samples of a test split, stratified shares of every class, and the
training/validation split that training, temperature scaling and the benchmark all share.

Every function takes labels or a count and returns indices, so the same code cuts images and
documents; the same labels and seed always give the same indices.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from explorer.core._validation import check_labels
from explorer.core.errors import ArgumentError


def _as_labels(labels: torch.Tensor | np.ndarray | Sequence[int]) -> torch.Tensor:
    """(N,) int64 labels on the CPU, checked by the one label check."""
    return torch.from_numpy(check_labels(labels))


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


__all__ = ["split_indices", "stratified_fraction", "stratified_split", "subset_indices"]
