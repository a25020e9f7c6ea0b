"""SmoothECE and the smoothed reliability diagram (Błasiok & Nakkiran, "Smooth ECE: Principled
Reliability Diagrams via Kernel Smoothing", 2023), top-label: confidence c_i = max_k p_ik against
correct_i = 1[argmax_k p_ik = y_i].

The reflected Gaussian kernel of bandwidth σ on [0, 1] is the Gaussian summed over every mirror image
of its centre in 0 and 1, K_σ(t, f) = Σ_{j∈ℤ} φ_σ(t − f − 2j) + φ_σ(t + f − 2j). On [0, 1] it is the
heat kernel with reflecting ends, whose cosine series is exact:

    K_σ(t, f) = 1 + 2 Σ_{k≥1} exp(−π² k² σ² / 2) cos(π k f) cos(π k t).

So every kernel sum here is Σ_k damp_k(σ) c_k cos(π k t) with c_k = Σ_i w_i v_i cos(π k f_i): the
weights w_i (1, or a bootstrap resample's counts) and the values v_i (1, correct_i, or the residual
correct_i − c_i) enter only through c_k. The c_k are computed once per set of examples from the
values spread linearly onto :data:`NODES` equally spaced nodes (a discrete cosine transform), which
moves each example by less than half a node spacing, 1.2e-4; every bandwidth then costs one small
matrix product. SmoothECE at bandwidth σ is

    smECE_σ = ∫_0^1 | (1/N) Σ_i K_σ(t, c_i) (correct_i − c_i) | dt

(trapezoid rule on :data:`EVAL_POINTS` points), and SmoothECE is smECE_σ* at the fixed point
σ* = smECE_σ* (it exists and is unique: smECE_σ falls as σ grows, smoothing being a contraction in
L1). Bandwidths below :data:`SIGMA_MIN` are not resolved by the nodes: where smECE_σ < σ already
at SIGMA_MIN, σ* = SIGMA_MIN (relplot's floor is the same, 0.001).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from explorer.measure.calibration import _check_n_resamples, _check_probs_labels, _top_label, resample_counts
from explorer.measure.intervals import LEVEL, N_RESAMPLES, _check_level

NODES = 4097
"""Nodes the confidences are spread onto: spacing 1/4096."""
EVAL_POINTS = 1001
"""Points of the trapezoid rule for smECE_σ: spacing 0.001, a tenth of the smallest σ* seen in practice."""
SIGMA_MIN = 1e-3
"""The smallest bandwidth searched (relplot's floor too)."""
GRID_POINTS = 201
"""Points of the smoothed reliability diagram on [0, 1]: spacing 0.005."""
DIAGRAM_NODES = 1025
"""Nodes the diagram's curves are smoothed from (its bandwidth is SmoothECE's, from NODES): spacing
1/1024, a tenth of the diagram's and far below any σ* > SIGMA_MIN that a diagram can show."""
#: The fixed-point search starts at this bandwidth, and stops when the bracket of σ* is this narrow
#: (relative), or after this many regula falsi steps.
_SIGMA_START = 0.1
_TOLERANCE = 1e-12
_MAX_STEPS = 60
#: cos(π k t) terms whose damping exp(−π² k² σ² / 2) is above 1e-17 matter: k < _MODE_REACH / σ.
_MODE_REACH = math.sqrt(2 * math.log(1e17)) / math.pi
#: The density under which no example is near t (relative to the peak): the curve there is roundoff.
_EMPTY_DENSITY = 1e-6


def _modes(sigma: float) -> int:
    """How many cosine terms matter at bandwidth ``sigma`` (at most NODES)."""
    return min(NODES, int(_MODE_REACH / sigma) + 2)


def _damping(sigma, n_modes: int) -> np.ndarray:
    """(R, n_modes) [1, 2 exp(−π² k² σ_r² / 2) for k ≥ 1], one row per bandwidth of ``sigma`` (R,)."""
    k = np.arange(n_modes)
    damp = 2 * np.exp(-0.5 * (np.pi * k[None, :] * np.asarray(sigma, dtype=np.float64)[:, None]) ** 2)
    damp[:, 0] = 1.0
    return damp


def _cosines(points: int, n_modes: int) -> np.ndarray:
    """(n_modes, points) cos(π k t) on ``points`` equally spaced t in [0, 1]."""
    return np.cos(np.pi * np.arange(n_modes)[:, None] * np.linspace(0.0, 1.0, points)[None, :])


def _cosine_coefficients(conf: np.ndarray, weights: np.ndarray, values: np.ndarray, nodes: int = NODES) -> np.ndarray:
    """(R, nodes) c_k = Σ_i w_ri v_i cos(π k f_i), k < nodes, with f_i spread linearly onto the nodes.

    Args:
        conf: (N,) confidences in [0, 1].
        weights: (R, N) weights of the examples, one row per set (ones, or bootstrap counts).
        values: (N,) the value v_i each example carries.
        nodes: equally spaced nodes on [0, 1], their ends included.
    """
    from scipy import fft, sparse

    n = len(conf)
    position = conf * (nodes - 1)
    low = np.minimum(position.astype(np.int64), nodes - 2)
    frac = position - low
    rows = np.r_[np.arange(n), np.arange(n)]
    spread = sparse.csr_array((np.r_[(1 - frac) * values, frac * values], (rows, np.r_[low, low + 1])),
                              shape=(n, nodes))
    node_sums = np.ascontiguousarray(weights @ spread)  # (R, nodes), rows contiguous for the transform
    # DCT-I: y_k = x_0 + (−1)^k x_last + 2 Σ_interior x_n cos(π k n / (NODES − 1)); halve the interior.
    node_sums[:, 1:-1] *= 0.5
    return fft.dct(node_sums, type=1, axis=1)


def _smooth(coefficients: np.ndarray, sigma, cosines: np.ndarray, total) -> np.ndarray:
    """(R, points) (1/total) Σ_i w_i v_i K_σ(t, f_i) on the points of ``cosines``, row by row."""
    n_modes = cosines.shape[0]
    damped = coefficients[:, :n_modes] * _damping(sigma, n_modes)
    return (damped @ cosines) / np.asarray(total, dtype=np.float64).reshape(-1, 1)


def _smooth_ece_at(residual_coefficients, sigma, total) -> np.ndarray:
    """(R,) smECE_σ_r of each row (trapezoid rule on EVAL_POINTS points)."""
    curve = np.abs(_smooth(residual_coefficients, sigma, _eval_cosines(_modes(float(np.min(sigma)))), total))
    return (curve[:, 1:] + curve[:, :-1]).sum(axis=1) * 0.5 / (curve.shape[1] - 1)


_EVAL_COSINES: list[np.ndarray] = [np.ones((1, EVAL_POINTS))]


def _eval_cosines(n_modes: int) -> np.ndarray:
    """(n_modes, EVAL_POINTS) cos(π k t), built as far as asked and kept (22 MB at SIGMA_MIN)."""
    if _EVAL_COSINES[0].shape[0] < n_modes:
        _EVAL_COSINES[0] = _cosines(EVAL_POINTS, min(_modes(SIGMA_MIN), 2 * n_modes))
    return _EVAL_COSINES[0][:n_modes]


def _fixed_point(residual_coefficients: np.ndarray, total) -> tuple[np.ndarray, np.ndarray]:
    """(R,) σ* and (R,) smECE_σ* of each row of cosine coefficients of the residuals.

    s(σ) = smECE_σ falls as σ grows, so one step of the fixed-point map from σ_0 brackets the root
    of g(σ) = s(σ) − σ: with σ_1 = s(σ_0), g(σ_0) = σ_1 − σ_0 and g(σ_1) = s(σ_1) − s(σ_0) have
    opposite signs (or g(σ_1) = 0). Regula falsi with the Illinois rule then closes each row's
    bracket until it is 1e-12 wide (relative) or g vanishes: each row is stepped on its own, so its
    σ* does not depend on the other rows. Rows whose σ_1 falls below SIGMA_MIN stop there when
    g(SIGMA_MIN) <= 0.
    """
    total = np.asarray(total, dtype=np.float64)

    def s(sigma, rows=slice(None)):
        return _smooth_ece_at(residual_coefficients[rows], sigma, total[rows])

    sigma_0 = np.full(len(residual_coefficients), _SIGMA_START)
    sigma_1 = np.maximum(s(sigma_0), SIGMA_MIN)
    g_0, g_1 = sigma_1 - sigma_0, s(sigma_1) - sigma_1
    rising = g_0 > 0  # σ* above σ_0
    low, high = np.where(rising, sigma_0, sigma_1), np.where(rising, sigma_1, sigma_0)
    g_low, g_high = np.where(rising, g_0, g_1), np.where(rising, g_1, g_0)
    floor = (low == SIGMA_MIN) & (g_low <= 0)
    sigma = np.where(g_high == 0, high, low)
    side = np.zeros(len(low))  # which end each row's last step replaced (+1 low, −1 high)
    for _ in range(_MAX_STEPS):
        rows = np.flatnonzero(~floor & (g_high != 0) & (g_low != 0) & (high - low > _TOLERANCE * high))
        if not rows.size:
            break
        lo, hi, g_lo, g_hi = low[rows], high[rows], g_low[rows], g_high[rows]
        step = np.clip((lo * g_hi - hi * g_lo) / (g_hi - g_lo), lo, hi)
        g = s(step, rows) - step
        above = g > 0  # σ* above the step: it is the new low end
        # Illinois: an end kept twice running has its g halved, so the next step lands past the root
        g_hi = np.where(above & (side[rows] > 0), 0.5 * g_hi, g_hi)
        g_lo = np.where(~above & (side[rows] < 0), 0.5 * g_lo, g_lo)
        low[rows], g_low[rows] = np.where(above, step, lo), np.where(above, g, g_lo)
        high[rows], g_high[rows] = np.where(above, hi, step), np.where(above, g_hi, g)
        sigma[rows], side[rows] = step, np.where(above, 1.0, -1.0)
    sigma = np.where(floor, SIGMA_MIN, sigma)
    return sigma, s(sigma)


def _weighted_smooth_ece(conf: np.ndarray, correct: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(R,) SmoothECE of each row of example weights (R, N): ones for the data, counts for a resample."""
    coefficients = _cosine_coefficients(conf, weights, correct - conf)
    return _fixed_point(coefficients, weights.sum(axis=1))[1]


def _check(probs, labels) -> tuple[np.ndarray, np.ndarray]:
    """(N,) confidences and (N,) float correctness of validated probabilities and labels."""
    conf, correct = _top_label(*_check_probs_labels(probs, labels))
    return conf, correct.astype(np.float64)


def smooth_ece(probs, labels) -> float:
    """Top-label SmoothECE (Błasiok & Nakkiran 2023): smECE_σ* at the bandwidth σ* = smECE_σ*, in [0, 1].

    The kernel, the integral and the fixed point are in the module docstring. Unlike the binned ECE
    it has no bin count to choose, and it is continuous in the predictions. Agrees with
    ``relplot.smECE`` (relplot 1.0.3) to 2e-4 (measured in the tests), except where confidences sit at
    1.0: relplot gives those half a kernel's mass, and on saturated predictions reads higher (0.028
    against 0.018 on the shipped digits model's test split).

    Args:
        probs: (N, K) class probabilities, rows summing to 1.
        labels: (N,) integer labels in [0, K).
    """
    conf, correct = _check(probs, labels)
    return float(_weighted_smooth_ece(conf, correct, np.ones((1, len(conf))))[0])


@dataclass(frozen=True)
class SmoothReliability:
    """A smoothed reliability diagram with its bootstrap band, at the SmoothECE bandwidth.

    Attributes:
        grid: (G,) confidences t in [0, 1] (G = GRID_POINTS).
        accuracy: (G,) kernel-smoothed accuracy Σ_i K(t, c_i) correct_i / Σ_i K(t, c_i) (Nadaraya–Watson);
            NaN where no example is near t (density below 1e-6 of its peak).
        density: (G,) kernel density of the confidences, (1/N) Σ_i K(t, c_i); integrates to 1 on [0, 1].
        bandwidth: σ*, the SmoothECE bandwidth the curve, the density and the band are smoothed with.
        smooth_ece: SmoothECE, smECE_σ*.
        low, high: (G,) the ``level`` percentile band of ``accuracy`` over bootstrap resamples of the
            examples, at the fixed bandwidth σ* (as relplot draws its band); NaN where accuracy is.
        level: the band's confidence level.
        n_resamples: bootstrap resamples behind the band.
    """

    grid: np.ndarray
    accuracy: np.ndarray
    density: np.ndarray
    bandwidth: float
    smooth_ece: float
    low: np.ndarray
    high: np.ndarray
    level: float
    n_resamples: int


def smooth_reliability(probs, labels, n_resamples: int = N_RESAMPLES, level: float = LEVEL,
                       seed: int = 0) -> SmoothReliability:
    """The smoothed reliability diagram of top-label predictions (Błasiok & Nakkiran 2023, Sec. 5),
    with a percentile band over ``n_resamples`` bootstrap resamples of the examples.

    Args:
        probs: (N, K) class probabilities, rows summing to 1.
        labels: (N,) integer labels in [0, K).
        n_resamples: bootstrap resamples, >= 2.
        level: the band's level in (0, 1).
        seed: seed of the resamples (those of :func:`explorer.measure.calibration.bootstrap_metrics`).
    """
    level = _check_level(level)
    n_resamples = _check_n_resamples(n_resamples)
    conf, correct = _check(probs, labels)
    n = len(conf)
    ones = np.ones((1, n))
    sigma, ece = _fixed_point(_cosine_coefficients(conf, ones, correct - conf), [n])
    sigma = float(sigma[0])
    cosines = _cosines(GRID_POINTS, min(_modes(sigma), DIAGRAM_NODES))

    def curves(weights):
        """(R, G) smoothed accuracy and (R, G) density of each row of weights."""
        total, sigmas = weights.sum(axis=1), np.full(len(weights), sigma)
        density = _smooth(_cosine_coefficients(conf, weights, np.ones(n), DIAGRAM_NODES), sigmas, cosines, total)
        hits = _smooth(_cosine_coefficients(conf, weights, correct, DIAGRAM_NODES), sigmas, cosines, total)
        with np.errstate(invalid="ignore", divide="ignore"):
            # a ratio of two kernel sums lies in [0, 1]; the truncated series can leave it just outside
            # where both are nearly 0, and there (no example of this row near t) it means nothing: NaN
            accuracy = np.clip(hits / density, 0.0, 1.0)
        accuracy[density < _EMPTY_DENSITY * density.max(axis=1, keepdims=True)] = np.nan
        return accuracy, density

    accuracy, density = (row[0] for row in curves(ones))
    empty = np.isnan(accuracy)
    resampled = np.concatenate([curves(w)[0] for w in resample_counts(n, n_resamples, seed)])
    with warnings.catch_warnings():  # a point no resample reaches is all NaN: NaN, as it should be
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = np.nanquantile(resampled, [(1 - level) / 2, (1 + level) / 2], axis=0)
    low[empty], high[empty] = np.nan, np.nan
    return SmoothReliability(np.linspace(0.0, 1.0, GRID_POINTS), accuracy, density, sigma, float(ece[0]),
                             low, high, level, n_resamples)
