"""Predictions shared by the calibration, recalibration and evaluation tests: random probabilities,
labels drawn from them, and logits whose calibrating temperature is known."""

import numpy as np
from scipy.special import softmax

# Two rows, K = 2, labels that fit them: the starting point of the validation cases.
GOOD_P, GOOD_Y = np.array([[0.3, 0.7], [0.6, 0.4]]), np.array([1, 0])


def random_probs(rng, n, k, scale=2.0):
    return softmax(scale * rng.normal(size=(n, k)), axis=1)


def sample_labels(probs, rng):
    """One label per row drawn from that row's categorical distribution (inverse CDF)."""
    labels = (probs.cumsum(axis=1) < rng.random((len(probs), 1))).sum(axis=1)
    return np.minimum(labels, probs.shape[1] - 1)  # guards a cumsum that rounds to just below 1


def labelled_logits(seed, t_true, n=20_000, k=10):
    """Logits and labels drawn from softmax(logits / t_true): t_true is the calibrating temperature."""
    rng = np.random.default_rng(seed)
    logits = 4.0 * rng.normal(size=(n, k))
    return logits, sample_labels(softmax(logits / t_true, axis=1), rng)
