"""The checks every boundary of the library shares: arrays, class scores, labels, bin counts, choices and
positive numbers.

One home for each check, as scikit-learn's ``utils/validation.py`` is: two copies of a check drift
apart. Failures raise :class:`~explorer.core.errors.ArgumentError` (a ``ValueError``) naming the bad
argument. numpy only: torch tensors are recognised by their methods, so the figure builders can use
these checks without importing torch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Integral

import numpy as np

from explorer.core.errors import ArgumentError


def as_array(x, name: str, shape: Sequence[int | None] | None = None, dtype=np.float64, finite: bool = False,
             nonempty: bool = True, copy: bool = False) -> np.ndarray:
    """``x`` (a numpy array, a sequence or a torch tensor on any device) as a numpy array of ``dtype``.

    Args:
        name: how the error message calls the argument.
        shape: the wanted shape, ``None`` for any length of a dimension (``(None, 2)``: N points in
            2-D); ``None`` for any shape.
        dtype: the result's dtype; ``None`` keeps the input's (integers stay integers). A float16 or
            bfloat16 tensor becomes float64 first (``.numpy()`` cannot convert bfloat16).
        finite: refuse NaN and ±inf.
        nonempty: refuse an array with no element.
        copy: always return a copy, never a view of the caller's array.
    """
    if hasattr(x, "detach") and hasattr(x, "is_floating_point"):  # a torch tensor
        x = x.detach().cpu()
        x = (x.double() if x.is_floating_point() else x).numpy()
    x = np.array(x, dtype=dtype, copy=True) if copy else np.asarray(x, dtype=dtype)
    if shape is not None and (x.ndim != len(shape) or
                              any(want not in (None, got) for got, want in zip(x.shape, shape))):
        wanted = str(tuple("N" if w is None else w for w in shape)).replace("'", "")
        raise ArgumentError(f"{name} must have shape {wanted}, got {x.shape}")
    if nonempty and x.size == 0:
        raise ArgumentError(f"{name} is empty (shape {x.shape})")
    if finite and np.issubdtype(x.dtype, np.floating) and not np.isfinite(x).all():
        raise ArgumentError(f"{name} must be finite, got {x.flat[np.flatnonzero(~np.isfinite(x))[0]]}")
    return x


def check_scores(scores, name: str) -> np.ndarray:
    """(N, K) class scores (probabilities or logits), not empty, as a float64 numpy array."""
    scores = as_array(scores, name, dtype=None)
    if scores.ndim != 2:
        raise ArgumentError(f"{name} must be 2-D with shape (N, K), got shape {scores.shape}")
    return scores.astype(np.float64)


def check_labels(labels, n: int | None = None, k: int | None = None, name: str = "labels") -> np.ndarray:
    """``labels`` (a numpy array, a sequence or a torch tensor on any device) as (N,) int64 class labels.

    Args:
        n: the number N of labels wanted (one per row of the scores or inputs they go with); ``None``
            for any, none included. When N >= 1 is wanted, an empty array is refused as empty.
        k: the number K of classes, so that every label must lie in [0, K); ``None`` for no range.
        name: how the error message calls the argument.

    Raises:
        ArgumentError: not 1-D (or not N long), not of an integer dtype (bool is not one), or a label
            outside [0, K); the message names the first bad label and its index.
    """
    dtype = getattr(labels, "dtype", None)  # a float tensor's own dtype: as_array widens it to float64
    labels = as_array(labels, name, dtype=None, nonempty=bool(n))
    if labels.ndim != 1 or (n is not None and len(labels) != n):
        raise ArgumentError(f"{name} must have shape {'(N,)' if n is None else f'(N,) = ({n},)'}, "
                            f"got {labels.shape}")
    within = "" if k is None else f" in [0, {k})"
    if not np.issubdtype(labels.dtype, np.integer):
        raise ArgumentError(f"{name} must be a 1-D array of integers{within}, "
                            f"got dtype {labels.dtype if dtype is None else dtype}")
    if k is not None:
        bad = np.flatnonzero((labels < 0) | (labels >= k))  # before the cast, so a huge uint64 stays itself
        if bad.size:
            raise ArgumentError(f"{name} must lie in [0, {k}), got {labels[bad[0]]} at index {bad[0]}")
    return labels.astype(np.int64, copy=False)


def check_n_bins(n_bins) -> int:
    """A number of bins: an integer >= 1 (Python's or numpy's, not a bool)."""
    if isinstance(n_bins, bool) or not isinstance(n_bins, Integral) or n_bins < 1:
        raise ArgumentError(f"n_bins must be an integer >= 1, got {n_bins!r}")
    return int(n_bins)


def check_choice(what: str, value: str, allowed: Sequence[str]) -> str:
    """``value`` if it is one of ``allowed``, else an error that lists them."""
    if value not in allowed:
        raise ArgumentError(f"unknown {what} {value!r}; choose one of {', '.join(allowed)}")
    return value


def check_positive(**values: float) -> None:
    """Each named value must be a finite number > 0."""
    for name, value in values.items():
        if not (value > 0 and math.isfinite(value)):
            raise ArgumentError(f"{name} must be a finite number > 0, got {value!r}")
