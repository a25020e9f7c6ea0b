"""How sure a comparison of two methods is: confidence intervals for their difference (METHOD.md §4).

Two kinds of chance move a measured difference: the training seed (the split, the batches, the initial
encoder), and the test examples it is measured on. Methods trained with the same seed share the first,
and two models measured on one test split share the second, so both are compared in pairs:

- :func:`seed_interval`: the per-seed differences of a measure, their mean and a t interval over the
  seeds, widened by the test examples' bootstrap variance where it is known (the formula is there).
- :func:`bootstrap_difference`: two models on the same test examples, a paired bootstrap of the
  difference of one metric (:func:`explorer.measure.calibration.bootstrap_metrics`).

A difference is called only where its interval excludes 0 (:attr:`Interval.excludes_zero`), at
:data:`LEVEL` unless said otherwise.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from explorer.core.config import N_BINS
from explorer.core.errors import ArgumentError
from explorer.measure.calibration import METRICS, bootstrap_metrics

LEVEL = 0.95
"""The confidence level of every interval the project states."""


class Interval(NamedTuple):
    """A difference (a − b, in the measure's units) and its confidence interval [low, high] at ``level``."""

    mean: float
    low: float
    high: float
    level: float

    @property
    def excludes_zero(self) -> bool:
        """Whether the interval calls a difference: 0 lies outside it."""
        return self.low > 0 or self.high < 0


def _check_level(level: float) -> float:
    if not 0 < level < 1:
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
                         n_resamples: int = 1000, seed: int = 0, level: float = LEVEL) -> Interval:
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
    level = _check_level(level)
    drawn = bootstrap_metrics({"a": probs_a, "b": probs_b}, labels, (measure,), n_bins, n_resamples, seed)
    values = drawn["a"][measure] - drawn["b"][measure]
    observed = METRICS[measure](probs_a, labels, n_bins) - METRICS[measure](probs_b, labels, n_bins)
    low, high = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
    return Interval(float(observed), float(low), float(high), level)
