"""Selective prediction: a classifier that may abstain, answering only where it is most confident.

At coverage c the model answers the ⌈c·N⌉ test examples of highest confidence (max-softmax
probability) and abstains on the rest. Every view of abstention uses :func:`answered`, so the points the
latent map greys out at 90 % coverage are exactly those the risk–coverage curve leaves out at 0.9.
"""

from __future__ import annotations

import math

import numpy as np

from explorer.core._validation import as_array
from explorer.core.errors import ArgumentError


def answered(confidence, coverage: float) -> np.ndarray:
    """(N,) bool: True for the ⌈coverage·N⌉ examples of highest ``confidence`` (N,), which the model
    answers; False for those it abstains on. Ties are broken by index (the earlier example answers), so
    the set is one fixed set even when confidences saturate at 1.0. ``coverage`` in [0, 1]."""
    confidence = as_array(confidence, "confidence", (None,), nonempty=False)
    if not 0.0 <= coverage <= 1.0:
        raise ArgumentError(f"coverage must be in [0, 1], got {coverage}")
    if np.isnan(confidence).any():
        raise ArgumentError("confidence contains NaN")
    n = len(confidence)
    kept = math.ceil(round(coverage * n, 9))  # 0.9 · 10 is 9.000000000000002 in floats: 9, not 10
    order = np.argsort(-confidence, kind="stable")
    mask = np.zeros(n, dtype=bool)
    mask[order[:kept]] = True
    return mask


__all__ = ["answered"]
