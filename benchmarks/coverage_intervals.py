"""How often the bootstrap intervals of the calibration metrics hold the population value, percentile
against basic ends (:data:`explorer.measure.intervals.BASIC` is chosen from this).

A synthetic 10-class model: true class probabilities q = softmax(z), z ~ N(0, 1.5² I), and predicted
p = softmax(s · z) (s > 1: over-confident). The population value of each metric is its value on
1 000 000 draws; each replication draws n examples, takes both 95 % intervals from ``--resamples``
resamples, and counts which holds the population value.

    python benchmarks/coverage_intervals.py [--n 2000] [--replications 200] [--sharpness 1.1]

About 3 minutes at the defaults on one busy core.
"""

import argparse

import numpy as np
from scipy.special import softmax

from explorer.core.config import N_BINS
from explorer.measure.calibration import METRICS, bootstrap_metrics
from explorer.measure.intervals import BASIC, LEVEL

K = 10
MEASURES = ("accuracy", "ece", "adaptive_ece", "classwise_ece", "smooth_ece", "debiased_ece", "nll", "brier")


def draw(rng: np.random.Generator, m: int, sharpness: float) -> tuple[np.ndarray, np.ndarray]:
    z = rng.normal(size=(m, K)) * 1.5
    y = (softmax(z, axis=1).cumsum(axis=1) > rng.random((m, 1))).argmax(axis=1)
    return softmax(sharpness * z, axis=1), y


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--replications", type=int, default=200)
    parser.add_argument("--resamples", type=int, default=500)
    parser.add_argument("--sharpness", type=float, default=1.1)
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    population = draw(rng, 1_000_000, args.sharpness)
    truth = {k: METRICS[k](*population, N_BINS) for k in MEASURES}
    held = {k: np.zeros(2) for k in MEASURES}
    q = [(1 - LEVEL) / 2, (1 + LEVEL) / 2]
    for r in range(args.replications):
        p, y = draw(rng, args.n, args.sharpness)
        drawn = bootstrap_metrics({"": p}, y, MEASURES, N_BINS, args.resamples, seed=r)[""]
        for k in MEASURES:
            observed, (low, high) = METRICS[k](p, y, N_BINS), np.quantile(drawn[k], q)
            held[k] += [low <= truth[k] <= high, 2 * observed - high <= truth[k] <= 2 * observed - low]
    print(f"n = {args.n}, {args.replications} replications of {args.resamples} resamples, predicted softmax("
          f"{args.sharpness} z), {LEVEL:.0%} intervals: share holding the population value")
    print(f"{'measure':>14} {'population':>11} {'percentile':>11} {'basic':>7}  used")
    for k in MEASURES:
        percentile, basic = held[k] / args.replications
        print(f"{k:>14} {truth[k]:>11.4f} {percentile:>11.3f} {basic:>7.3f}  {'basic' if k in BASIC else 'percentile'}")


if __name__ == "__main__":
    main()
