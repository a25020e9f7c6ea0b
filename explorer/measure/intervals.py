"""How sure a measure or a comparison is: confidence intervals for calibration metrics, for their
differences, and for reliability diagrams (METHOD.md §4).

Two kinds of chance move a measured difference: the training seed (the split, the batches, the initial
encoder), and the test examples it is measured on. Methods trained with the same seed share the first,
and two models measured on one test split share the second, so both are compared in pairs:

- :func:`seed_interval`: the per-seed differences of a measure, their mean and a t interval over the
  seeds, widened by the test examples' bootstrap variance where it is known (the formula is there).
- :func:`bootstrap_difference`, :func:`difference_intervals`: two models on the same test examples, a
  paired bootstrap of the difference of one metric or of several
  (:func:`explorer.measure.calibration.bootstrap_metrics`).
- :func:`metric_intervals`: every metric of one model with its percentile bootstrap interval.
- :func:`reliability_bands`: per reliability bin, an interval on its accuracy, the consistency band of
  a perfectly calibrated model at the same confidences, and whether the bin is too sparse to read.

A difference is called only where its interval excludes 0 (:attr:`Interval.excludes_zero`), at
:data:`LEVEL` unless said otherwise.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from statistics import NormalDist
from typing import NamedTuple

import numpy as np

from explorer.core._validation import check_n_bins
from explorer.core.config import N_BINS
from explorer.core.errors import ArgumentError
from explorer.measure.calibration import (_CHUNK_CELLS, METRICS, _check_n_resamples, _check_probs_labels, _Weighted, bootstrap_metrics, resample_counts)

LEVEL = 0.95
"""The confidence level of every interval the project states."""


N_RESAMPLES = 1000
"""Bootstrap resamples behind every interval and band, unless said otherwise.

Chosen from the Monte-Carlo error of the interval ends: an end of a 95 % percentile interval is the
2.5 % (or 97.5 %) quantile of R resampled values, whose standard deviation over the choice of
resamples is √(0.025 · 0.975 / R) / f(q), 0.085 bootstrap standard errors at R = 1000 (normal f),
4.3 % of the interval's half-width. Measured on 10 000 examples × 10 classes over 20 seeds of the
resamples, the ends of every metric's interval moved by 2.4-5.0 % of its half-width at R = 1000,
4.8-7.5 % at R = 500 and 6-9 % at R = 300 (``python benchmarks/bench_calibration_intervals.py
--sizes 1000 --repeat 1 --mc 20 --mc-resamples 300 500 1000``). At R = 1000 an ECE of ±0.009 has
ends that move by about 0.0004: below the third decimal the page shows.
"""

_SPARSE_HALF_WIDTH = 0.1
"""The widest interval on a bin's accuracy still worth reading: ±0.1."""

MIN_BIN_COUNT = math.ceil((NormalDist().inv_cdf((1 + LEVEL) / 2) * 0.5 / _SPARSE_HALF_WIDTH) ** 2)
"""Bins with fewer examples are too sparse to read: 97. A bin's accuracy is a proportion of n_b
examples, and its 95 % interval (normal approximation) is ±1.96 √(p(1 − p)/n_b), ±0.98/√n_b at worst
(p = 1/2); under 97 examples it can be wider than ±0.1, as wide as the gaps a reliability diagram shows.
"""


class Interval(NamedTuple):
    """An observed value and its confidence interval [low, high] at ``level``.

    ``mean`` is the value measured on the data themselves, not a mean of resamples: a measure (from
    :func:`metric_intervals`) or a difference a − b (from :func:`difference_intervals`,
    :func:`bootstrap_difference`, or the mean of per-seed differences from :func:`seed_interval`), in
    the measure's units.
    """

    mean: float
    low: float
    high: float
    level: float

    @property
    def excludes_zero(self) -> bool:
        """Whether the interval calls a difference: 0 lies outside it."""
        return self.low > 0 or self.high < 0


def _check_level(level: float) -> float:
    if isinstance(level, bool) or not isinstance(level, (int, float, np.floating)) or not 0 < level < 1:
        raise ArgumentError(f"level must lie in (0, 1), got {level!r}")
    return float(level)


@lru_cache(maxsize=64)
def t_quantile(level: float, dof: int) -> float:
    """The two-sided t multiplier: t((1 + level) / 2, dof), e.g. 4.303 for 95 % and 2 degrees of freedom."""
    from scipy import stats  # here: importing scipy.stats takes half a second

    return float(stats.t.ppf((1 + level) / 2, dof))


def seed_interval(differences, level: float = LEVEL, test_variances=None) -> Interval | None:
    """The mean of the per-seed differences D_s = a_s − b_s and its t interval over the n seeds; None
    with fewer than two seeds (no spread to judge a difference by).

    Between seeds, the differences are independent draws (one training run each), so the mean's
    standard error is s_D / √n and the interval D̄ ± t((1 + level)/2, n − 1) · SE is exact for normal
    differences. A t interval rather than a bootstrap over seeds: with 3 to 5 seeds a bootstrap has 10
    to 126 distinct resamples and its percentile interval is too narrow (its spread is s_D·√((n−1)/n)
    and its quantiles are normal ones, 1.96 where t gives 4.30 at n = 3).

    ``test_variances`` (n,), where known, are each seed's bootstrap variance v_s of D_s over the test
    examples. Every seed is measured on the same test split, so that part of the error, e_s, is shared
    across seeds and the spread s_D does not see it. The test-split error of the mean, ē = (1/n) Σ e_s,
    has Var(ē) = (1/n²) Σ_s Σ_t Cov(e_s, e_t) ≤ (1/n²) (Σ_s √v_s)² = (mean_s √v_s)² (Cauchy–Schwarz;
    equality when the seeds' test errors are perfectly correlated, the worst case). The interval uses

        SE² = s_D² / n + (mean_s √v_s)²

    with the same t multiplier. Conservative twice over: s_D² already holds the unshared part of the
    test error, and the bound takes the shared part at its largest.

    Args:
        differences: (n,) per-seed differences a − b, seed by seed.
        level: confidence level in (0, 1).
        test_variances: optional (n,) non-negative variances of each difference over test examples.
    """
    level = _check_level(level)
    d = np.asarray(differences, dtype=np.float64)
    if d.ndim != 1:
        raise ArgumentError(f"differences must be one value a seed, got shape {d.shape}")
    if len(d) < 2:
        return None
    se2 = float(np.var(d, ddof=1)) / len(d)
    if test_variances is not None:
        v = np.asarray(test_variances, dtype=np.float64)
        if v.shape != d.shape or np.any(~(v >= 0)):
            raise ArgumentError(f"test_variances must be {len(d)} non-negative values, one a seed, got {v!r}")
        se2 += float(np.mean(np.sqrt(v))) ** 2
    mean = float(np.mean(d))
    half = t_quantile(level, len(d) - 1) * math.sqrt(se2)
    return Interval(mean, mean - half, mean + half, level)


def bootstrap_difference(probs_a, probs_b, labels, measure: str = "ece", n_bins: int = N_BINS,
                         n_resamples: int = N_RESAMPLES, seed: int = 0, level: float = LEVEL) -> Interval:
    """Measure a − measure b of two models on the same test examples, with the percentile interval of
    its paired bootstrap: each resample draws the examples once and measures both models on them
    (:func:`explorer.measure.calibration.bootstrap_metrics`), so what the examples share cancels.
    Efron and Tibshirani, "An Introduction to the Bootstrap", 1993, ch. 13 (percentile intervals).

    Args:
        probs_a, probs_b: (N, K) class probabilities of the two models on the same N examples.
        labels: (N,) integer labels in [0, K).
        measure: a name of :data:`explorer.measure.calibration.METRICS`.
        n_bins: bins of the binned metrics, >= 1.
        n_resamples: bootstrap resamples, >= 2.
        seed: seed of the resamples.
        level: confidence level in (0, 1).
    """
    return difference_intervals(probs_a, probs_b, labels, (measure,), n_bins, n_resamples, seed, level)[measure]


BASIC = ("ece", "adaptive_ece", "classwise_ece")
"""Measures whose intervals are basic bootstrap intervals, not percentile ones: the binned calibration
errors. Each is biased upwards (the |gap| of a bin holds its noise), and more so on a resample, whose
repeated examples make fewer, noisier distinct points: the percentile interval sits above the estimate,
which sits above the population value, and misses it. The basic interval [2θ̂ − q_high, 2θ̂ − q_low]
(Davison and Hinkley, "Bootstrap Methods and their Application", 1997, §5.2) moves back by the bias the
resamples show. By simulation (``benchmarks/coverage_intervals.py``: a 10-class model, 2 000
examples, 200 data sets, 95 %), the share of intervals holding the population value, basic against
percentile:

================  ===========================  ==============================
measure           over-confident (s = 1.1)     under-confident (s = 0.8)
================  ===========================  ==============================
ECE               0.89 against 0.62            0.92 against 0.94
adaptive ECE      0.90 against 0.12            0.85 against 0.86
classwise ECE     0.20 against 0.00            0.84 against 0.00
SmoothECE         0.79 against 0.88            0.94 against 0.96
debiased ECE      0.69 against 0.83            0.80 against 0.92
================  ===========================  ==============================

so SmoothECE and the debiased ECE keep percentile intervals, as do accuracy, NLL and Brier (0.96-0.98
either way). Classwise ECE of a nearly calibrated model stays biased beyond what either corrects: read its
interval as how it moves with the examples. MCE, a maximum over bins that may hold one example, keeps the
percentile interval (not simulated: its basic ends overran 1 on the shipped MNIST models). A basic
interval of a measure is clipped to [0, 1], the range of these errors."""


def _bootstrap_intervals(observed: dict[str, float], drawn: dict[str, np.ndarray], level: float,
                         clip: bool) -> dict[str, Interval]:
    """{measure: Interval(observed, ends)}: the percentile ends of the drawn values, or for :data:`BASIC`
    measures the basic ends, clipped to [0, 1] when ``clip`` (a measure, not a difference)."""
    out = {}
    for k, values in drawn.items():
        low, high = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
        if k in BASIC:
            low, high = 2 * observed[k] - high, 2 * observed[k] - low
            low, high = (min(max(low, 0.0), 1.0), min(max(high, 0.0), 1.0)) if clip else (low, high)
        out[k] = Interval(float(observed[k]), float(low), float(high), level)
    return out


def metric_intervals(probs, labels, measures: Sequence[str] = tuple(METRICS), n_bins: int = N_BINS,
                     n_resamples: int = N_RESAMPLES, seed: int = 0, level: float = LEVEL) -> dict[str, Interval]:
    """Each measure of one model with its bootstrap interval over the test examples: the measure on
    ``n_resamples`` resamples of the examples (:func:`explorer.measure.calibration.bootstrap_metrics`)
    and the (1 ± level)/2 quantiles q of those. The interval is [q_low, q_high] (percentile, Efron and
    Tibshirani 1993, ch. 13), or for the binned calibration errors of :data:`BASIC`, whose upward bias
    the percentile interval doubles, [2θ̂ − q_high, 2θ̂ − q_low] clipped to [0, 1] (why, and the coverage
    measured, in :data:`BASIC`).

    Args:
        probs: (N, K) class probabilities, rows summing to 1.
        labels: (N,) integer labels in [0, K).
        measures: names of :data:`explorer.measure.calibration.METRICS`.
        n_bins: bins of the binned metrics, >= 1.
        n_resamples: bootstrap resamples, >= 2.
        seed: seed of the resamples.
        level: confidence level in (0, 1).

    Returns:
        {measure: Interval(observed value, low, high, level)}.
    """
    level = _check_level(level)
    drawn = bootstrap_metrics({"": probs}, labels, measures, n_bins, n_resamples, seed)[""]
    return _bootstrap_intervals({k: METRICS[k](probs, labels, n_bins) for k in measures}, drawn, level, clip=True)


def difference_intervals(probs_a, probs_b, labels, measures: Sequence[str] = tuple(METRICS),
                         n_bins: int = N_BINS, n_resamples: int = N_RESAMPLES, seed: int = 0,
                         level: float = LEVEL) -> dict[str, Interval]:
    """Measure a − measure b of two models on the same test examples, each measure with the interval of
    its paired bootstrap: each resample draws the examples once and measures both models on them, so
    what the examples share cancels (Efron and Tibshirani 1993, ch. 13). Percentile intervals, basic
    ones for the :data:`BASIC` measures (whose biases need not cancel between two models), unclipped.

    Args:
        probs_a, probs_b: (N, K) class probabilities of the two models on the same N examples.
        labels, measures, n_bins, n_resamples, seed, level: as :func:`metric_intervals`.

    Returns:
        {measure: Interval(observed a − b, low, high, level)}.
    """
    level = _check_level(level)
    drawn = bootstrap_metrics({"a": probs_a, "b": probs_b}, labels, measures, n_bins, n_resamples, seed)
    observed = {k: METRICS[k](probs_a, labels, n_bins) - METRICS[k](probs_b, labels, n_bins) for k in measures}
    return _bootstrap_intervals(observed, {k: drawn["a"][k] - drawn["b"][k] for k in measures}, level, clip=False)


@dataclass(frozen=True)
class ReliabilityBands:
    """What a reliability diagram's bins can and cannot say, per equal-width bin of
    :func:`explorer.measure.calibration.reliability_bins`.

    Attributes:
        low, high: (n_bins,) percentile bootstrap interval on each bin's accuracy, over resamples of
            the examples (a bin empty in a resample is left out of it); NaN for an empty bin.
        consistency_low, consistency_high: (n_bins,) where a perfectly calibrated model's bin accuracy
            falls at these confidences and counts: the ``level`` quantiles of the bin's accuracy when
            each correct_i ~ Bernoulli(conf_i) (consistency resampling, Bröcker and Smith, "Increasing
            the reliability of reliability diagrams", Weather and Forecasting 22, 2007). A bin whose
            accuracy falls outside it deviates more than chance at that count explains. NaN: empty.
        sparse: (n_bins,) bool, bins with fewer than ``min_count`` examples (empty ones included).
        level: the level of both bands.
        min_count: the count under which a bin is sparse.
    """

    low: np.ndarray
    high: np.ndarray
    consistency_low: np.ndarray
    consistency_high: np.ndarray
    sparse: np.ndarray
    level: float
    min_count: int


def reliability_bands(probs, labels, n_bins: int = N_BINS, level: float = LEVEL, n_resamples: int = N_RESAMPLES,
                      seed: int = 0, min_count: int = MIN_BIN_COUNT) -> ReliabilityBands:
    """The bands of a top-label reliability diagram: see :class:`ReliabilityBands`.

    Args:
        probs: (N, K) class probabilities, rows summing to 1.
        labels: (N,) integer labels in [0, K).
        n_bins: number of equal-width bins on [0, 1], >= 1.
        level: level of the bands in (0, 1).
        n_resamples: resamples of each band, >= 2 (the bootstrap's are those of ``bootstrap_metrics``).
        seed: seed of the resamples; the consistency draws use the stream ``(seed, 1)``.
        min_count: bins with fewer examples are marked sparse, an integer >= 1.
    """
    level = _check_level(level)
    n_resamples = _check_n_resamples(n_resamples)
    if isinstance(min_count, bool) or not isinstance(min_count, (int, np.integer)) or min_count < 1:
        raise ArgumentError(f"min_count must be an integer >= 1, got {min_count!r}")
    probs, labels = _check_probs_labels(probs, labels)
    weighted = _Weighted(probs, labels, check_n_bins(n_bins))
    conf, n_bins = weighted.conf, weighted.n_bins
    # (N, 2·n_bins): bin membership, then correct_i in its bin
    columns = weighted._bin_columns(np.column_stack([conf, conf]), np.column_stack([np.ones_like(conf), weighted.correct]))
    count = columns[:, :n_bins].sum(axis=0)
    quantiles = [(1 - level) / 2, (1 + level) / 2]
    resampled = []
    for weights in resample_counts(len(conf), n_resamples, seed):
        sums = weights @ columns
        with np.errstate(invalid="ignore", divide="ignore"):
            resampled.append(sums[:, n_bins:] / sums[:, :n_bins])
    with warnings.catch_warnings():  # a bin empty in the data is NaN in every resample, and stays NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = np.nanquantile(np.concatenate(resampled), quantiles, axis=0)
    rng = np.random.default_rng((seed, 1))
    simulated = []
    chunk = max(1, _CHUNK_CELLS // len(conf))
    for first in range(0, n_resamples, chunk):
        rows = min(chunk, n_resamples - first)
        hits = (rng.random((rows, len(conf))) < conf).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            simulated.append((hits @ columns[:, :n_bins]) / count)
    consistency_low, consistency_high = np.quantile(np.concatenate(simulated), quantiles, axis=0)
    return ReliabilityBands(low, high, consistency_low, consistency_high, count < min_count, level, int(min_count))
