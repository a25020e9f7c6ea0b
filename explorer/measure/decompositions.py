"""The NLL and the Brier score split into a calibration part and a refinement part.

Kull & Flach ("Novel decompositions of proper scoring rules for classification: score adjustment as
precursor to calibration", ECML-PKDD 2015) split any proper scoring rule S of predictions p with
labels y through the calibration map c(p) = E[Y | p]:

    E[S(p, Y)] = E[d(p, c(p))] + E[S(c(p), Y)]    score = calibration + refinement

with d the divergence of S: the squared distance for the Brier score (Murphy 1973's reliability and
resolution/uncertainty), the KL divergence KL(c ‖ p) for the NLL. Any post-hoc recalibration is a
map g of p, so it can shrink the calibration part (to 0 at g = c) but not the refinement part, what
the predictions separate: an invertible g (temperature scaling, or an invertible W) keeps E[Y | g(p)]
= c(p) and so the refinement; a g that merges predictions (binning, isotonic steps) can raise it.
The refinement part is the floor no fix goes below.

c is unknown and must be estimated on the evaluated examples themselves. Each estimate here is a
fit in-sample whose residual is orthogonal to what the identity needs, so that score = calibration +
refinement holds exactly on the sample, not only in expectation:

- Brier (:func:`brier_calibration_map`): for each class k, 1[y = k] regressed by least squares on p_k
  within each of ``n_bins`` equal-mass bins of p_k (a level and a slope per bin). The slope matters:
  with a level alone (plain classwise binning), p varies within a bin and a cross term
  −2 Σ_b n_b cov_b(p_k, y_k) / N is left over (Stephenson et al. 2008's within-bin terms).
- NLL (:func:`nll_calibration_map`): Dirichlet calibration, softmax(W log p + b) with a full W, fitted
  by maximum likelihood without regularisation. Its score equations make the mean KL(ĉ ‖ p) equal to
  NLL(p) − NLL(ĉ); the family holds temperature scaling (W = I / T) and the identity (W = I).

Bias of these estimates. Fitted in-sample, ĉ also follows the sample's noise, so the calibration part
is biased up, and the refinement part down by as much, for a calibrated model too: by about
(K² − 1) / (2N) nats for the NLL (Wilks: 2N · calibration is then χ² with K² − 1 degrees of
freedom; 0.005 nats for K = 10 and N = 10 000), and about 2B · E[1 − Σ_k p_k²] / N for the Brier score
with B bins (2B parameters per class, each soaking up one unit of the label noise p_k(1 − p_k) / N).
In the other direction, miscalibration the family cannot express is missed (counted as refinement):
the Dirichlet family's, a per-class monotone map's or a within-bin linear map's limits.

``probs`` is (N, K) probabilities whose rows sum to 1, ``labels`` (N,) integers in [0, K); numpy
arrays or torch tensors. numpy and scipy only.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.special import softmax

from explorer.core._validation import check_n_bins
from explorer.core.config import N_BINS
from explorer.measure.calibration import (NLL_EPS, _check_probs_labels, _equal_mass_index, brier_score,
                                          negative_log_likelihood)
from explorer.measure.recalibration import fit_affine


class Decomposition(NamedTuple):
    """A proper score split as score = calibration + refinement (Kull & Flach 2015).

    Attributes:
        score: the mean score of the predictions (NLL in nats, or the multi-class Brier score).
        calibration: its part a recalibration map could remove, >= 0.
        refinement: the score of the calibrated predictions ĉ: what no map of p lowers.
    """

    score: float
    calibration: float
    refinement: float


_FLAT = 1e-9
"""A bin whose p_k spread less than this (root mean square) is flat: :func:`brier_calibration_map` gives it a level."""


def _one_hot(labels: np.ndarray, k: int) -> np.ndarray:
    return np.eye(k)[labels]


def brier_calibration_map(probs, labels, n_bins: int = N_BINS) -> np.ndarray:
    """(N, K) ĉ: per class, 1[y = k] fitted by least squares as a level plus a slope in p_k within each
    of ``n_bins`` equal-mass bins of p_k (ties kept in one bin, as the adaptive ECE's bins are).

    A bin whose p_k are all equal, or equal but for rounding (:data:`_FLAT`), gets the level alone. ĉ may leave [0, 1] a little at a bin's ends:
    it is a least-squares projection, which is what makes the Brier identity exact.
    """
    probs, labels = _check_probs_labels(probs, labels)
    n_bins = check_n_bins(n_bins)
    y = _one_hot(labels, probs.shape[1])
    fitted = np.empty_like(probs)
    for k, (p, target) in enumerate(zip(probs.T, y.T)):
        index = _equal_mass_index(p, min(n_bins, len(p)))
        count = np.bincount(index)
        per_bin = np.maximum(count, 1)
        dp = p - (np.bincount(index, weights=p) / per_bin)[index]
        dy = target - (np.bincount(index, weights=target) / per_bin)[index]
        spread = np.bincount(index, weights=dp * dp)
        # p_k that differ only by rounding (a recalibration's flat steps) leave dp at the size of the mean's
        # own rounding error, where the slope is noise and the identity is lost: a level alone there
        sloped = spread > count * _FLAT ** 2
        slope = np.where(sloped, np.bincount(index, weights=dp * dy) / np.where(sloped, spread, 1.0), 0.0)
        fitted[:, k] = target - dy + slope[index] * dp
    return fitted


def brier_decomposition(probs, labels, n_bins: int = N_BINS) -> Decomposition:
    """The Brier score as calibration (1/N) Σ_i ‖p_i − ĉ_i‖² plus refinement (1/N) Σ_i ‖ĉ_i − y_i‖²
    (Murphy 1973; Kull & Flach 2015), ĉ = :func:`brier_calibration_map`.

    The two add up to :func:`~explorer.measure.calibration.brier_score` to rounding: within each bin
    the residual y − ĉ is orthogonal to both a constant and p_k, hence to p_k − ĉ_k. Calibration is
    biased up by about 2 · n_bins · E[1 − Σ_k p_k²] / N (the module's docstring).

    Args:
        probs: (N, K) class probabilities, rows summing to 1.
        labels: (N,) integer labels in [0, K).
        n_bins: equal-mass bins of each class's probability, >= 1.
    """
    probs, labels = _check_probs_labels(probs, labels)
    fitted = brier_calibration_map(probs, labels, n_bins)
    y = _one_hot(labels, probs.shape[1])
    return Decomposition(brier_score(probs, labels), float(np.mean(np.sum((probs - fitted) ** 2, axis=1))),
                         float(np.mean(np.sum((fitted - y) ** 2, axis=1))))


def nll_calibration_map(probs, labels) -> np.ndarray:
    """(N, K) ĉ = softmax(W log p + b): Dirichlet calibration fitted by maximum likelihood on (probs,
    labels) themselves, without regularisation (log p clamped at log NLL_EPS, as the NLL clamps p_y).

    When the examples are separable in log p (every one classified correctly, say), the likelihood has
    no maximum; the fit then stops after its iteration budget with ĉ close to the labels.
    """
    probs, labels = _check_probs_labels(probs, labels)
    features = np.log(np.maximum(probs, NLL_EPS))
    # fit_affine's default stop: on the shipped Fashion-MNIST CNN's 10 000 test outputs it took 1.6 s
    # of CPU, and its calibration part was within 0.2% of a fit run to 2000 steps (9 s).
    w, b = fit_affine(features, labels)
    return softmax(features @ w.T + b, axis=1)


def nll_decomposition(probs, labels) -> Decomposition:
    """The NLL as calibration E[KL(ĉ ‖ p)] plus refinement NLL(ĉ) (Kull & Flach 2015), in nats,
    ĉ = :func:`nll_calibration_map`.

    refinement = NLL(ĉ) and calibration = NLL(p) − NLL(ĉ), which at the maximum-likelihood ĉ equals
    the mean KL(ĉ_i ‖ p_i) (Dirichlet calibration's score equations); being the NLL a fitted map
    gains on this very sample, it is >= 0. Biased up by about (K² − 1) / (2N) nats for a calibrated
    model (the module's docstring).

    Args:
        probs: (N, K) class probabilities, rows summing to 1.
        labels: (N,) integer labels in [0, K).
    """
    probs, labels = _check_probs_labels(probs, labels)
    score = negative_log_likelihood(probs, labels)
    refinement = negative_log_likelihood(nll_calibration_map(probs, labels), labels)
    return Decomposition(score, score - refinement, refinement)
