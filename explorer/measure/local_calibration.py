"""Where in latent space a model is miscalibrated: a locally smoothed signed gap between confidence and
correctness, and the gap between a model's confidence and the one its class Gaussians imply.

:func:`local_miscalibration` gives every latent z_i the weighted mean, over the latents near it, of
e_j = confidence_j − correct_j:

    gap_i = Σ_j w_ij e_j / Σ_j w_ij,   w_ij = 1 if ‖z_i − r_j‖ ≤ h_i, else 0

over reference latents r_j (all N of them while N² ≤ :data:`MAX_PAIRS`, else a seeded random sample of
M = max(:data:`MIN_REFERENCES`, MAX_PAIRS / N)): > 0 where the model is over-confident, < 0 where it is under-confident, in units of
probability. It is computed in the d-dimensional latent space itself, not on a 2-D projection of it,
and describes the split it is computed on (the test split, on the map): its labels enter the gap, so
the map says where this model was miscalibrated on these examples, not a claim about new ones.

The bandwidth is the k-nearest-neighbour rule: h_i is the distance from z_i to its k-th nearest
reference (k = :data:`NEIGHBOURS`; itself included when it is a reference), so each estimate is the
mean over its k nearest, a box kernel of adaptive width. Distance kernels fail in d = 16, where
distances concentrate: one fixed h holds either nearly every latent or nearly none. Over the k nearest
their distances are all close to h_i, so a tapering kernel either barely tapers or is all taper: on
4 000 Gaussian latents in d = 16 and k = 100, a Gaussian kernel of width h_i over the k nearest gave
an effective n of about 99 (nearly the box; over all 4 000, about 3 700: not local), LOESS's tricube
9.3 (its weight on the first few). The box keeps the effective n at k in every dimension. The
rule reads the latents alone, never the correctness it then smooths, so nothing is tuned on the
values it reports (a bandwidth chosen by cross-validating the prediction of correctness would be fitted
on the very test labels the map then shows); it follows the latents' scale (a softmax layer's latents
may be scaled by any c without changing a prediction) and their density. k = 100 is 1 % of a
10 000-point test split: local enough to tell regions of the map apart, with a standard error of
0.04 where the confidence is 0.8.

``se`` is the standard error the gap would have if the model were calibrated there
(correct_j ~ Bernoulli(confidence_j), independently): se_i = √(Σ_j w_ij² c_j(1 − c_j)) / Σ_j w_ij.
The null's variance, not the residuals', because a neighbourhood where every answer is right at
confidence 0.99 has residuals that barely vary yet is what a calibrated model gives a third of the time.

Whether a gap is told apart from 0 (:attr:`LocalGap.significant`; the map fades the rest) is not read
from ``se`` by a normal approximation: the gap is a mean of skewed terms (at confidence 0.99 each is
−0.01 or +0.99), so under a calibrated model |gap| > 2 se flags over-confidence far more often than
its 2.5 % and under-confidence less. On 20 seeded fields of 5 000 calibrated latents in d = 16
(``python benchmarks/bench_local_calibration.py --skip-pages``), at confidence ~ U(0.98, 1) it
flagged 4.9 % over-confident and none under (the simulated null: 1.7 % and none); at U(0.5, 1),
3.0 % and 2.0 % (the simulated null: 2.8 % and 2.2 %). The null is simulated instead, in the same
weighted sums: :data:`NULL_DRAWS` seeded draws of correct*_j ~ Bernoulli(c_j) at the references give
each point :data:`NULL_DRAWS` gaps a calibrated model could have shown, and a gap outside their central
1 − :data:`SIGNIFICANCE_LEVEL` (below their :data:`SIGNIFICANCE_LEVEL` / 2 quantile or above their
1 − :data:`SIGNIFICANCE_LEVEL` / 2) is flagged: each tail about half the level or less under
calibration. It adds a matrix product of the block's weights with the (M, :data:`NULL_DRAWS`) draws:
1.2 s of one core's CPU time at 10⁵ latents (3.1 s in all, against 1.9 s without; the same command with
OMP_NUM_THREADS=1), run once per file by the app's cache. The null's values are counts of right
answers, so where one count is most of the null (every answer right, at confidence near 1) no gap can
leave that tail and under-confidence there is never flagged: a calibrated model is not expected to err
there.

Every query latent is compared with every reference latent, a block of rows at a time, in float32:
N × M ≤ max(10⁸, 2 000 N) distances, never N × N, so 10 000 latents are averaged over all 10 000 and
10⁵ over a sample of 2 000 (5 % of them: each estimate then spans more of the map, and the rule says
so).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from explorer.core._validation import as_array, check_positive, check_scores
from explorer.core.errors import ArgumentError

NEIGHBOURS = 100
"""k: each latent's gap is the mean over its k nearest reference latents."""
MAX_PAIRS = 10 ** 8
"""Query–reference distances computed at most (above :data:`MIN_REFERENCES` references): all N
latents are references while N² stays under this, else a seeded sample of MAX_PAIRS / N of them."""
MIN_REFERENCES = 2000
"""References kept however many latents there are."""
SIGNIFICANCE_LEVEL = 0.05
"""A gap is told apart from 0 when it lies outside the central 1 − this of the gaps a calibrated model
gives at that point (simulated, :data:`NULL_DRAWS` draws): half of it in each tail."""
NULL_DRAWS = 200
"""Simulated calibrated outcomes per reference latent behind each point's null quantiles."""
SIGNIFICANCE_WORDS = (f"inside the central {1 - SIGNIFICANCE_LEVEL:.0%} of the gaps a calibrated model would "
                      f"show there ({NULL_DRAWS} simulated draws)")
"""The significance rule in words, for a figure's note."""
_BLOCK = 1024  # query rows per block: 1024 × 10 000 float32 distances, 40 MB


@dataclass(frozen=True)
class LocalGap:
    """The local signed miscalibration of N latents.

    ``gap`` (N,): weighted mean of confidence − correct around each latent (> 0 over-confident; NaN
    where a given bandwidth holds no reference); ``se`` (N,): its standard error under calibration;
    ``effective_n`` (N,): Kish's (Σw)² / Σw², the number of equally weighted neighbours the estimate is
    worth; ``bandwidth``: the median h_i, in latent units; ``rule``: how h was chosen, in words;
    ``references``: the latents averaged over; ``null_low``, ``null_high`` (N,): the
    :data:`SIGNIFICANCE_LEVEL` / 2 and 1 − :data:`SIGNIFICANCE_LEVEL` / 2 quantiles of the gap a
    calibrated model would give there (simulated; NaN with the gap).
    """

    gap: np.ndarray
    se: np.ndarray
    effective_n: np.ndarray
    bandwidth: float
    rule: str
    references: int
    null_low: np.ndarray
    null_high: np.ndarray

    @property
    def significant(self) -> np.ndarray:
        """(N,) bool: the gap is told apart from 0, outside [``null_low``, ``null_high``]."""
        return (self.gap < self.null_low) | (self.gap > self.null_high)


def local_miscalibration(latents, confidence, correct, bandwidth: float | None = None,
                         neighbours: int = NEIGHBOURS, max_references: int | None = None,
                         seed: int = 0) -> LocalGap:
    """The locally smoothed signed gap between confidence and correctness around each latent (module
    docstring).

    Args:
        latents: (N, d) latents, the d-dimensional ones (not a projection).
        confidence: (N,) the model's confidence in its prediction, in [0, 1].
        correct: (N,) whether the prediction was right (bool or 0/1).
        bandwidth: one h > 0 for every latent, in latent units; default: the k-nearest-neighbour rule,
            h_i the distance to the ``neighbours``-th nearest reference.
        neighbours: k of that rule (at most the number of references).
        max_references: latents averaged over, a seeded sample of this many when there are more;
            default max(:data:`MIN_REFERENCES`, :data:`MAX_PAIRS` / N).
        seed: the seed of the reference sample and of the simulated null.
    """
    z = as_array(latents, "latents", (None, None), finite=True)
    n = len(z)
    confidence = as_array(confidence, "confidence", (n,), finite=True)
    if confidence.min() < 0 or confidence.max() > 1:
        raise ArgumentError(f"confidence must lie in [0, 1], got values in [{confidence.min():g}, {confidence.max():g}]")
    correct = np.asarray(correct)
    if correct.shape != (n,) or not (correct.dtype == bool or np.isin(correct, (0, 1)).all()):
        raise ArgumentError(f"correct must be ({n},) bools or 0/1, got shape {correct.shape} of {correct.dtype}")
    if max_references is None:
        max_references = max(MIN_REFERENCES, MAX_PAIRS // max(n, 1))
    check_positive(neighbours=neighbours, max_references=max_references)
    if bandwidth is not None:
        check_positive(bandwidth=bandwidth)
    rng = np.random.default_rng(seed)
    refs = np.sort(rng.choice(n, max_references, replace=False)) if n > max_references else np.arange(n)
    if n < 2:
        raise ArgumentError("the local gap needs at least 2 latents")
    k = min(int(neighbours), len(refs))
    z32 = (z - z.mean(0)).astype(np.float32)  # centred: the float32 distances lose less to cancellation
    r = z32[refs]
    c_refs, right = confidence[refs], correct.astype(np.float32)[refs]
    variance = c_refs * (1 - c_refs)
    # Calibrated outcomes at the references; the weights are 0 or 1, so their sums are whole counts,
    # exact in float32 (< 2²⁴), and the observed count is compared with them on one float path.
    simulated = (rng.random((len(refs), NULL_DRAWS)) < c_refs[:, None]).astype(np.float32)
    tails = [SIGNIFICANCE_LEVEL / 2, 1 - SIGNIFICANCE_LEVEL / 2]
    gap, se, effective, radius = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    null_low, null_high = np.empty(n), np.empty(n)
    r_sq = np.square(r).sum(1)
    for start in range(0, n, _BLOCK):
        q = z32[start:start + _BLOCK]
        rows = slice(start, start + len(q))
        d2 = np.maximum(np.square(q).sum(1)[:, None] + r_sq[None, :] - 2 * q @ r.T, 0.0)
        h2 = (np.full(len(q), float(bandwidth) ** 2, dtype=np.float32) if bandwidth is not None
              else np.partition(d2, k - 1, axis=1)[:, k - 1])
        radius[rows] = np.sqrt(h2)
        w32 = (d2 <= h2[:, None]).astype(np.float32)  # ties at h all count
        w = w32.astype(np.float64)
        total, expected = w.sum(1), w @ c_refs  # 0/1 weights: Σw² = Σw, so Kish's (Σw)² / Σw² is Σw
        low_count, high_count = np.quantile(w32 @ simulated, tails, axis=1)  # right answers under calibration
        with np.errstate(divide="ignore", invalid="ignore"):
            gap[rows] = (expected - (w32 @ right)) / total
            null_low[rows], null_high[rows] = (expected - high_count) / total, (expected - low_count) / total
            se[rows] = np.sqrt(w @ variance) / total  # w² = w
            effective[rows] = total
    if not (radius > 0).any():
        raise ArgumentError("the latents do not vary: no bandwidth separates them")
    h_median = float(np.median(radius))
    if bandwidth is not None:
        rule = f"h = {h_median:.3g}, given, for every latent"
    else:
        rule = (f"{k} nearest of {len(refs):,} latents in the {z.shape[1]}-dimensional latent space (median "
                f"distance to the {k}th {h_median:.3g}; set by the latents alone, no labels)")
    if len(refs) < n:
        rule += f"; those {len(refs):,} are a random sample of the {n:,} (seed {seed})"
    return LocalGap(gap, se, effective, h_median, rule, len(refs), null_low, null_high)


def gaussian_confidence(latents, head: torch.nn.Module, log_prior=None) -> np.ndarray:
    """max_k p(k | z) under ``head``'s class distributions: Bayes' rule over ``head.log_prob(z)`` and the
    class prior ``log_prior`` (K,) (default: the head's own, ``head.log_class_prior()``). (N, d) → (N,)."""
    with torch.no_grad():
        lp = head.log_prob(torch.as_tensor(np.asarray(latents, dtype=np.float64)).to(_dtype(head)))
        prior = head.log_class_prior() if log_prior is None else torch.as_tensor(np.asarray(log_prior, np.float64))
        prior = prior.to(lp.dtype)
        if prior.shape != lp.shape[1:]:
            raise ArgumentError(f"log_prior must have one entry per class ({lp.shape[1]}), got shape {tuple(prior.shape)}")
        return torch.softmax(lp + prior, dim=1).max(1).values.double().numpy()


def gaussian_confidence_gap(probs, latents, head: torch.nn.Module, log_prior=None) -> np.ndarray:
    """The model's confidence max_k p(k | x) minus the confidence its class Gaussians imply at its latent,
    max_k p(k | z) (:func:`gaussian_confidence`): (N,), > 0 where the model is surer than its Gaussians.

    ``head``: a softmax layer's fitted implied member (:func:`explorer.core.implied.fit_implied`), or a
    learnt head (VC's prior). With the head's own class prior the gap is 0 up to rounding for every head
    whose logits are Bayes' rule over its class distributions: VC's, and also every member of a linear
    layer's implied family, whose implied prior absorbs the bias (:mod:`explorer.core.implied`). Holding
    the prior to the class frequencies instead (``log_prior``) asks how far the layer's bias departs
    from the Gaussians that fit its latents with the classes' real frequencies (METHOD.md §1's stricter
    variant).

    Args:
        probs: (N, K) the model's class probabilities.
        latents: (N, d) its latents.
        head: the class distributions, with ``log_prob`` and ``log_class_prior``.
        log_prior: (K,) log class prior; default the head's own.
    """
    probs = check_scores(probs, "probs")
    z = as_array(latents, "latents", (len(probs), None), finite=True)
    return probs.max(1) - gaussian_confidence(z, head, log_prior)


def _dtype(head: torch.nn.Module) -> torch.dtype:
    """The dtype of the head's first floating tensor: a learnt head is float32, a fitted member float64."""
    return next((t.dtype for t in head.state_dict().values() if t.is_floating_point()), torch.float64)


__all__ = ["LocalGap", "local_miscalibration", "gaussian_confidence", "gaussian_confidence_gap", "NEIGHBOURS",
           "MAX_PAIRS", "MIN_REFERENCES", "SIGNIFICANCE_LEVEL", "NULL_DRAWS", "SIGNIFICANCE_WORDS"]
