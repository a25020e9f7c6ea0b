"""Time to compute every calibration interval of one model, and of a pair, on synthetic predictions.

For N × 10 predictions (an over-confident model: labels drawn at temperature 1.5) it times, with the
default :data:`explorer.measure.intervals.N_RESAMPLES`:

- ``intervals``: :func:`metric_intervals`, every metric of :data:`METRICS` with its interval;
- ``bands``: :func:`reliability_bands` (bootstrap and consistency bands of the reliability bins);
- ``smooth band``: :func:`smooth_reliability` (the SmoothECE diagram and its band);
- ``one model``: the three together, what a page shows for one model;
- ``difference``: :func:`difference_intervals` of two models (paired, every metric).

Each is run ``--repeat`` times after one warm-up call; the range (min-max) and median of the
wall-clock seconds are printed, and the range of the CPU seconds of the process (on a machine shared
with other work the wall clock runs ahead of the CPU time). The matrix products use BLAS threads: on
a busy machine, ``OPENBLAS_NUM_THREADS=1`` is faster (measured on 2 shared cores: one model 0.84 s
against 2.0 s with OpenBLAS's default threads, which spin waiting for a core). Targets at N = 10 000: one model well under 1 s, the difference under 1.5 s (a page warm
within 2 s). ``--mc`` also measures the Monte-Carlo error of the interval ends: the standard deviation
of each end over ``--mc`` seeds of the resamples, as a fraction of the interval's half-width.

    python benchmarks/bench_calibration_intervals.py [--sizes 10000 100000] [--repeat 5] [--mc 10]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np
from scipy.special import softmax

from explorer.measure.calibration import METRICS
from explorer.measure.intervals import N_RESAMPLES, difference_intervals, metric_intervals, reliability_bands
from explorer.measure.smooth_calibration import smooth_reliability


def predictions(n: int, k: int = 10, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(n, k) probabilities of an over-confident model, of its temperature-scaled twin, and (n,) labels."""
    rng = np.random.default_rng(seed)
    logits = 3.0 * rng.normal(size=(n, k))
    probs, calibrated = softmax(logits, axis=1), softmax(logits / 1.5, axis=1)
    labels = (calibrated.cumsum(axis=1) < rng.random((n, 1))).sum(axis=1).clip(0, k - 1)
    return probs, calibrated, labels


def timed(call, repeat: int) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU seconds (this process, every thread) of ``repeat`` calls after a warm-up."""
    call()  # warm-up: imports, the cosine tables
    wall, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        call()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return wall, cpu


def report(name: str, seconds: tuple[list[float], list[float]]) -> None:
    wall, cpu = seconds
    print(f"  {name:12s} wall {min(wall):.3f}-{max(wall):.3f} s (median {statistics.median(wall):.3f}), "
          f"CPU {min(cpu):.3f}-{max(cpu):.3f} s, {len(wall)} runs")


def monte_carlo_error(n: int, seeds: int, n_resamples: int) -> None:
    """Spread of the interval ends over seeds of the resamples, per metric, as a fraction of half-width."""
    probs, _, labels = predictions(n)
    runs = [metric_intervals(probs, labels, n_resamples=n_resamples, seed=s) for s in range(seeds)]
    print(f"Monte-Carlo error of the ends, N = {n}, R = {n_resamples}, {seeds} seeds "
          f"(sd of the end / half-width of the interval):")
    for k in METRICS:
        half = statistics.mean((r[k].high - r[k].low) / 2 for r in runs)
        low, high = (statistics.stdev(getattr(r[k], end) for r in runs) / half for end in ("low", "high"))
        print(f"  {k:14s} low {low:.3f}  high {high:.3f}  (half-width {half:.4f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000], help="numbers of examples N")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of each call")
    parser.add_argument("--mc", type=int, default=0, help="seeds for the Monte-Carlo error of the ends (0: skip)")
    parser.add_argument("--mc-resamples", type=int, nargs="+", default=[N_RESAMPLES], help="R for --mc")
    args = parser.parse_args()
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; "
          f"R = {N_RESAMPLES} resamples")
    for n in args.sizes:
        probs, calibrated, labels = predictions(n)
        print(f"N = {n} examples × 10 classes")
        times = {
            "intervals": timed(lambda: metric_intervals(probs, labels), args.repeat),
            "bands": timed(lambda: reliability_bands(probs, labels), args.repeat),
            "smooth band": timed(lambda: smooth_reliability(probs, labels), args.repeat),
        }
        times["one model"] = tuple([sum(t) for t in zip(*(v[i] for v in times.values()))] for i in (0, 1))
        times["difference"] = timed(lambda: difference_intervals(probs, calibrated, labels), args.repeat)
        for name, seconds in times.items():
            report(name, seconds)
    for r in args.mc_resamples if args.mc else ():
        monte_carlo_error(10_000, args.mc, r)


if __name__ == "__main__":
    main()
