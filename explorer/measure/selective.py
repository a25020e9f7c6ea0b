"""Selective prediction: a classifier that may abstain, answering only where it is most confident.

At coverage c the model answers the ⌈c·N⌉ test examples of highest confidence (max-softmax
probability) and abstains on the rest. Which examples answer is :func:`answered`'s rule: one fixed set,
ties broken by index. The latent map greys out the examples :func:`answered` leaves out on the clean test
split's raw probabilities; on the Calibration page the curve is of the predictions shown there, so the two
leave out the same examples only when those are the clean split's raw probabilities, or a recalibration
that keeps their order (temperature scaling does; histogram binning and isotonic regression tie or reorder
them, and a corruption changes them).

Confidences that tie (saturated at 1.0, or flattened by histogram binning or isotonic regression) have no
order, so the curve and its areas must not depend on the one :func:`answered` picks: within each group
of tied confidences every example counts the group's mean error. That is the expected curve, and the
expected AURC, over the orders a random tie-break would give (both are linear in the errors at each
position, and each position of the group holds the group's mean error on average); without ties it is the
curve of :func:`answer_order`. :func:`selective_risk` is of the fixed set :func:`answered` picks, so at a
coverage that splits a tie group it may differ from the curve there.

The risk–coverage curve (:func:`risk_coverage`) and its area, AURC and E-AURC (:func:`aurc`,
:func:`e_aurc`), follow Geifman, Uziel and El-Yaniv, "Bias-reduced uncertainty estimation for deep neural
classifiers", ICLR 2019: AURC is the mean of the selective risk over the N coverages k/N, k = 1…N, and
E-AURC is AURC less the AURC of an oracle that answers every correct example before any error. Two
differences from the authors' code (``utils/uncertainty_tools.RC_curve``), both of order ln N / N, are
kept out on purpose and measured in ``tests/measure/test_selective.py``: it divides the errors among the
m − i − 1 examples still answered by m − i, and it takes the oracle's AURC from its continuous limit
r + (1 − r) ln(1 − r) (r the error rate); here both are exact at N. Intervals are percentile bootstrap
intervals over the test examples (:func:`aurc_intervals`, :func:`aurc_difference`), drawn with
:func:`explorer.measure.calibration.resample_counts` at :data:`~explorer.measure.intervals.LEVEL` and
:data:`~explorer.measure.intervals.N_RESAMPLES` unless said otherwise.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from explorer.core._validation import as_array
from explorer.core.errors import ArgumentError
from explorer.measure.calibration import _check_n_resamples, resample_counts
from explorer.measure.intervals import LEVEL, N_RESAMPLES, Interval, _bootstrap_intervals, _check_level

MEASURES = ("aurc", "e_aurc")
"""The areas :func:`aurc_intervals` and :func:`aurc_difference` give intervals for."""

_BLOCK_CELLS = 1 << 20
"""(resample, example) cells measured at once: a few (R, N) float64 temporaries of 8 MB each."""


def _confidence(confidence) -> np.ndarray:
    confidence = as_array(confidence, "confidence", (None,), nonempty=False)
    if np.isnan(confidence).any():
        raise ArgumentError("confidence contains NaN")
    return confidence


def answer_order(confidence) -> np.ndarray:
    """(N,) int: the examples in the order a model answers them as coverage grows, the most confident
    first, ties broken by index (the earlier example first). The first ⌈c·N⌉ are :func:`answered`'s."""
    return np.argsort(-_confidence(confidence), kind="stable")


def answered(confidence, coverage: float) -> np.ndarray:
    """(N,) bool: True for the ⌈coverage·N⌉ examples of highest ``confidence`` (N,), which the model
    answers; False for those it abstains on. Ties are broken by index (the earlier example answers), so
    the set is one fixed set even when confidences saturate at 1.0. ``coverage`` in [0, 1]."""
    confidence = _confidence(confidence)
    if not 0.0 <= coverage <= 1.0:
        raise ArgumentError(f"coverage must be in [0, 1], got {coverage}")
    n = len(confidence)
    kept = math.ceil(round(coverage * n, 9))  # 0.9 · 10 is 9.000000000000002 in floats: 9, not 10
    mask = np.zeros(n, dtype=bool)
    mask[answer_order(confidence)[:kept]] = True
    return mask


def _checked(confidence, correct) -> tuple[np.ndarray, np.ndarray]:
    """(N,) float64 confidence and (N,) float64 errors (1 − correct), N ≥ 1, checked."""
    confidence = _confidence(confidence)
    correct = as_array(correct, "correct", (len(confidence),), dtype=None)
    if correct.dtype != bool and not np.isin(correct, (0, 1)).all():
        raise ArgumentError("correct must hold 0/1 or booleans, one per example")
    if len(confidence) == 0:
        raise ArgumentError("confidence is empty: no examples to answer")
    return confidence, 1.0 - correct.astype(np.float64)


class RiskCoverage(NamedTuple):
    """The risk–coverage curve: at the k-th point the model answers the k most confident examples.

    Attributes:
        coverage: (N,) k/N for k = 1…N.
        risk: (N,) the selective risk there: the share of errors among the k answered examples.
    """

    coverage: np.ndarray
    risk: np.ndarray


def _tie_starts(confidence: np.ndarray, order: np.ndarray) -> np.ndarray:
    """(G,) int: where each group of equal confidences begins in ``order`` (G groups, the first at 0)."""
    ranked = confidence[order]
    return np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])


def _tie_mean(errors: np.ndarray, weights: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """(R, N) each position's errors replaced by the weighted mean error of its tie group.

    Args:
        errors: (N,) 0/1 errors in answer order.
        weights: (R, N) copies of each example (1 for the test set itself, counts for a resample).
        starts: (G,) the groups' first positions (:func:`_tie_starts`).
    """
    if len(starts) == len(errors):  # no ties: nothing to average
        return np.broadcast_to(errors, weights.shape)
    copies = np.add.reduceat(weights, starts, axis=1)
    wrong = np.add.reduceat(weights * errors, starts, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(copies > 0, wrong / copies, 0.0)  # a group drawn no copy adds nothing
    return np.repeat(mean, np.diff(np.r_[starts, len(errors)]), axis=1)


def risk_coverage(confidence, correct) -> RiskCoverage:
    """The risk–coverage curve of a model whose confidence (N,) ranks its predictions, correct (N,)
    bool or 0/1: coverage k/N and selective risk at each answered count k = 1…N, in
    :func:`answer_order`, each example of a tie group counting the group's mean error (the expected
    curve over random tie-breaks, see the module's docstring). Without ties point k answers exactly
    ``answered(confidence, k / N)``."""
    confidence, errors = _checked(confidence, correct)
    n = len(confidence)
    k = np.arange(1, n + 1)
    order = answer_order(confidence)
    ranked = _tie_mean(errors[order], np.ones((1, n)), _tie_starts(confidence, order))[0]
    return RiskCoverage(k / n, np.cumsum(ranked) / k)


def selective_risk(confidence, correct, coverage: float) -> float:
    """The share of errors among the examples :func:`answered` at ``coverage`` in (0, 1]."""
    if not 0.0 < coverage <= 1.0:
        raise ArgumentError(f"coverage must be in (0, 1]: at 0 the model answers nothing, got {coverage}")
    confidence, errors = _checked(confidence, correct)
    return float(errors[answered(confidence, coverage)].mean())


def selective_accuracy(confidence, correct, coverage: float) -> float:
    """The accuracy on the examples :func:`answered` at ``coverage`` in (0, 1]: 1 − :func:`selective_risk`."""
    return 1.0 - selective_risk(confidence, correct, coverage)


def aurc(confidence, correct) -> float:
    """The area under the risk–coverage curve, (1/N) Σ_k risk_k over k = 1…N (Geifman et al. 2019);
    0 for a model that makes no error, about its error rate r for a ranking that says nothing (a random
    one), at least :func:`oracle_aurc` for any ranking of the same errors."""
    return float(risk_coverage(confidence, correct).risk.mean())


def oracle_aurc(n: int, errors: int) -> float:
    """The AURC of an oracle ranking of n examples with ``errors`` errors: every correct example answered
    before any error, so risk_k = max(0, k − (n − errors)) / k, and

        AURC* = (1/n) Σ_{k=n−e+1}^{n} (k − n + e) / k = (1/n) (e − (n − e)(H_n − H_{n−e}))

    with H the harmonic numbers. Its limit at large n with e/n = r is r + (1 − r) ln(1 − r), the form
    Geifman et al. (2019) give."""
    if not 0 <= errors <= n or n < 1:
        raise ArgumentError(f"need 0 <= errors <= n and n >= 1, got n = {n}, errors = {errors}")
    k = np.arange(n - errors + 1, n + 1)
    return float(np.sum((k - (n - errors)) / k) / n)


def e_aurc(confidence, correct) -> float:
    """Excess AURC: :func:`aurc` less the :func:`oracle_aurc` of the same examples' error count, so only the
    ranking is scored, not the error rate itself; 0 for a ranking that answers every correct example first."""
    confidence, errors = _checked(confidence, correct)
    return aurc(confidence, 1 - errors) - oracle_aurc(len(errors), int(errors.sum()))


def _harmonic(n: int) -> np.ndarray:
    """(n + 1,) H_0…H_n, H_0 = 0."""
    return np.concatenate([[0.0], np.cumsum(1.0 / np.arange(1, n + 1))])


def _resampled_areas(errors: np.ndarray, order: np.ndarray, weights: np.ndarray, harmonic: np.ndarray,
                     starts: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(R,) AURC and (R,) E-AURC on R resamples given as counts (R, N) (example i drawn w_i times).

    A resample answers its copies in the same order, the w_j copies of example j one after another at
    positions a + 1…b (a = copies answered before, b = a + w_j), each adding e_j to the errors. Their risks
    sum to E·(H_b − H_a) + e_j·((b − a) − a·(H_b − H_a)), E the errors answered before them, so the whole
    curve costs two cumulative sums, not N·R risks. With ``starts`` (:func:`_tie_starts` of ``order``),
    e_j is the mean error of the copies in j's tie group in that resample, as :func:`risk_coverage` counts it.
    """
    n = len(errors)
    w = weights[:, order]
    e = errors[order] if starts is None else _tie_mean(errors[order], w, starts)
    after = np.cumsum(w, axis=1)
    before = after - w
    span = harmonic[after.astype(np.int64)] - harmonic[before.astype(np.int64)]
    wrong = w * e
    errors_before = np.cumsum(wrong, axis=1) - wrong
    area = (errors_before * span + e * (w - before * span)).sum(axis=1) / n
    total = np.rint(wrong.sum(axis=1)).astype(np.int64)
    correct_first = (total - (n - total) * (harmonic[n] - harmonic[n - total])) / n  # oracle_aurc's closed form
    return area, area - correct_first


def _bootstrap(models: list[tuple[np.ndarray, np.ndarray]], n_resamples: int, seed: int) -> list[dict[str, np.ndarray]]:
    """Per model, {measure: (R,) values on the same R resamples of the examples}."""
    n_resamples = _check_n_resamples(n_resamples)
    n = len(models[0][1])
    harmonic = _harmonic(n)
    orders = [answer_order(confidence) for confidence, _ in models]
    starts = [_tie_starts(confidence, order) for (confidence, _), order in zip(models, orders)]
    drawn = [{k: [] for k in MEASURES} for _ in models]
    block = max(1, _BLOCK_CELLS // n)
    for counts in resample_counts(n, n_resamples, seed):
        for first in range(0, len(counts), block):
            for (_, errors), order, ties, out in zip(models, orders, starts, drawn):
                area, excess = _resampled_areas(errors, order, counts[first:first + block], harmonic, ties)
                out["aurc"].append(area)
                out["e_aurc"].append(excess)
    return [{k: np.concatenate(v) for k, v in out.items()} for out in drawn]


def aurc_intervals(confidence, correct, n_resamples: int = N_RESAMPLES, seed: int = 0, level: float = LEVEL
                   ) -> dict[str, Interval]:
    """AURC and E-AURC of one model with percentile bootstrap intervals over its test examples.

    Args:
        confidence: (N,) the score that ranks the predictions (max-softmax probability).
        correct: (N,) bool or 0/1, whether each prediction is right.
        n_resamples: bootstrap resamples, >= 2 (:func:`~explorer.measure.calibration.resample_counts`).
        seed: seed of the resamples.
        level: confidence level in (0, 1).

    Returns:
        {"aurc": Interval, "e_aurc": Interval}, each Interval(observed, low, high, level).
    """
    level = _check_level(level)
    confidence, errors = _checked(confidence, correct)
    drawn = _bootstrap([(confidence, errors)], n_resamples, seed)[0]
    return _bootstrap_intervals(_observed(confidence, errors), drawn, level, clip=False)


def aurc_difference(confidence_a, correct_a, confidence_b, correct_b, n_resamples: int = N_RESAMPLES,
                    seed: int = 0, level: float = LEVEL) -> dict[str, Interval]:
    """AURC and E-AURC of model A minus model B on the same N test examples, each with the percentile
    interval of its paired bootstrap: each resample draws the examples once and measures both models on
    them, so what the examples share cancels (Efron and Tibshirani 1993, ch. 13). A negative E-AURC
    difference: A ranks its errors better; a negative AURC difference: A has lower risk over the
    coverages, from a better ranking, fewer errors or both.

    Args:
        confidence_a, correct_a, confidence_b, correct_b: (N,) each, as :func:`aurc_intervals`.
        n_resamples, seed, level: as :func:`aurc_intervals`.

    Returns:
        {"aurc": Interval(observed a − b, low, high, level), "e_aurc": Interval(...)}.
    """
    return aurc_comparison(confidence_a, correct_a, confidence_b, correct_b, n_resamples, seed, level)[2]


def aurc_comparison(confidence_a, correct_a, confidence_b, correct_b, n_resamples: int = N_RESAMPLES,
                    seed: int = 0, level: float = LEVEL
                    ) -> tuple[dict[str, Interval], dict[str, Interval], dict[str, Interval]]:
    """:func:`aurc_intervals` of A, of B, and :func:`aurc_difference` A − B, all three from one bootstrap
    of both models (the same resamples each of those draws with the same seed), so a page that shows all
    three pays for one.

    Args and units: as :func:`aurc_difference`.

    Returns:
        (A's intervals, B's intervals, A − B's intervals), each {"aurc": Interval, "e_aurc": Interval}.
    """
    level = _check_level(level)
    a = _checked(confidence_a, correct_a)
    b = _checked(confidence_b, correct_b)
    if len(a[0]) != len(b[0]):
        raise ArgumentError(f"models A and B must be measured on the same examples, got {len(a[0])} and {len(b[0])}")
    drawn_a, drawn_b = _bootstrap([a, b], n_resamples, seed)
    found_a, found_b = (_bootstrap_intervals(_observed(*model), drawn, level, clip=False)
                        for model, drawn in ((a, drawn_a), (b, drawn_b)))
    observed = {k: found_a[k].mean - found_b[k].mean for k in MEASURES}
    difference = _bootstrap_intervals(observed, {k: drawn_a[k] - drawn_b[k] for k in MEASURES}, level, clip=False)
    return found_a, found_b, difference


def _observed(confidence: np.ndarray, errors: np.ndarray) -> dict[str, float]:
    """{measure: its value on the test examples themselves}, from :func:`_checked`'s arrays."""
    return {"aurc": aurc(confidence, 1 - errors), "e_aurc": e_aurc(confidence, 1 - errors)}


def _answered_counts(coverages, n: int) -> np.ndarray:
    """(G,) ⌈c·n⌉ for each coverage c in (0, 1], as :func:`answered` counts."""
    coverages = as_array(coverages, "coverages", (None,), finite=True)
    if (coverages <= 0).any() or (coverages > 1).any():
        raise ArgumentError(f"coverages must lie in (0, 1], got values in [{coverages.min()}, {coverages.max()}]")
    return np.ceil(np.round(coverages * n, 9)).astype(np.int64)


def risk_coverage_band(confidence, correct, coverages, n_resamples: int = N_RESAMPLES, seed: int = 0,
                       level: float = LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """The percentile bootstrap band of the selective risk at each coverage: (G,) low and (G,) high.

    A resample answers its ⌈c·N⌉ most confident copies (the order of :func:`answer_order`, each copy of a
    tie group counting the group's mean error in that resample, as :func:`risk_coverage` does); the band at
    c is the (1 ± level)/2 quantiles of their share of errors over ``n_resamples`` resamples of the examples
    (:func:`~explorer.measure.calibration.resample_counts`).

    Args:
        confidence, correct: (N,) as :func:`risk_coverage`.
        coverages: (G,) coverages in (0, 1].
        n_resamples, seed, level: as :func:`aurc_intervals`.
    """
    level = _check_level(level)
    n_resamples = _check_n_resamples(n_resamples)
    confidence, errors = _checked(confidence, correct)
    n = len(confidence)
    wanted = _answered_counts(coverages, n)
    order = answer_order(confidence)
    starts = _tie_starts(confidence, order)
    drawn = []
    for counts in resample_counts(n, n_resamples, seed):
        w = counts[:, order]
        e = _tie_mean(errors[order], w, starts)
        copies, wrong = np.cumsum(w, axis=1), np.cumsum(w * e, axis=1)
        # one search over all rows at once: row r's cumulative copies (0…n) shifted by r·(n + 1) keep the
        # flattened array sorted, and the m-th answer of row r is found at m + r·(n + 1)
        rows = np.arange(len(w))[:, None]
        shift = rows * (n + 1)
        last = np.searchsorted((copies + shift).ravel(), (wanted + shift).ravel()).reshape(len(w), -1) - rows * n
        drawn.append((wrong[rows, last] - e[rows, last] * (copies[rows, last] - wanted)) / wanted)
    low, high = np.quantile(np.concatenate(drawn), [(1 - level) / 2, (1 + level) / 2], axis=0)
    return low, high


__all__ = ["MEASURES", "RiskCoverage", "answer_order", "answered", "aurc", "aurc_comparison", "aurc_difference",
           "aurc_intervals", "e_aurc", "oracle_aurc", "risk_coverage", "risk_coverage_band", "selective_accuracy",
           "selective_risk"]
