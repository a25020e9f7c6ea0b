"""Post-hoc recalibration on arrays: maps fitted on held-out logits and labels that make a trained
classifier's probabilities calibrated without training it again.

Temperature scaling (Guo et al., "On Calibration of Modern Neural Networks", ICML 2017, Sec. 4.2):
:func:`fit_temperature` fits one scalar T by NLL, :func:`apply_temperature` gives softmax(logits / T).
Beside it, :func:`fit_recalibrator` fits any of :data:`RECALIBRATORS` and returns a
:class:`Recalibrator` whose ``probs(logits)`` applies it: vector and matrix scaling (Guo et al.),
Dirichlet calibration (Kull et al., "Beyond temperature scaling", NeurIPS 2019), histogram binning and
isotonic regression one class against the rest (Zadrozny & Elkan 2001, 2002). Regularisation
strengths and bin counts are chosen by cross-validation on the same held-out outputs.

Inputs are numpy arrays or torch tensors: ``logits`` (N, K) finite, ``labels`` (N,) integers in
[0, K); results are float64 numpy. numpy, scipy and scikit-learn (isotonic regression) only, no torch and no data: which held-out split
of a model or a bundle the maps are fitted on is :mod:`explorer.measure.evaluation`'s business, and
the metrics that judge the result are :mod:`explorer.measure.calibration`'s.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from math import inf
from numbers import Real
from typing import Protocol

import numpy as np
from scipy.optimize import minimize, minimize_scalar
from scipy.special import log_softmax, softmax
from threadpoolctl import threadpool_limits

from explorer.core._validation import check_choice, check_labels, check_scores
from explorer.core.errors import ArgumentError
from explorer.measure.calibration import brier_score, negative_log_likelihood


def _check_logits(logits) -> np.ndarray:
    logits = check_scores(logits, "logits")
    if not np.isfinite(logits).all():
        i, j = np.argwhere(~np.isfinite(logits))[0]
        raise ArgumentError(f"logits must be finite, got {logits[i, j]} at row {i}, column {j}")
    return logits


def _check_temperature(temperature) -> float:
    if isinstance(temperature, bool) or not isinstance(temperature, Real) or not 0 < temperature < inf:
        raise ArgumentError(f"temperature must be a finite number > 0, got {temperature!r}")
    return float(temperature)


def apply_temperature(logits, temperature: float) -> np.ndarray:
    """Temperature-scaled class probabilities, softmax(logits / T), computed in float64.

    Reference: Guo et al. 2017, Sec. 4.2.

    Args:
        logits: (N, K) finite logits (numpy array or torch tensor).
        temperature: T > 0; T > 1 softens the probabilities, T < 1 sharpens them.

    Returns:
        (N, K) float64 numpy array of probabilities, rows summing to 1.
    """
    logits = _check_logits(logits)
    return softmax(logits / _check_temperature(temperature), axis=1)


def fit_temperature(logits, labels, *, bounds: tuple[float, float] = (1e-2, 1e2)) -> float:
    """The temperature T > 0 minimising the NLL of softmax(logits / T) (Guo et al. 2017, Sec. 4.2).

    T* = argmin_T −(1/N) Σ_i log softmax(z_i / T)_{y_i}, fitted on held-out (validation) logits,
    never on the test set. One scalar for all classes, so the argmax, hence accuracy, is unchanged.

    Optimiser: bounded Brent search (``scipy.optimize.minimize_scalar(method="bounded")``) over log T
    in log(bounds). The NLL is convex in 1/T (cross-entropy is convex in the logits, which are linear
    in 1/T), so it is unimodal in log T and a 1-D bracketing search finds its minimum to ~1e-6 in log T
    without a learning rate, an iteration budget or a gradient, and deterministically. Searching over
    log T keeps T > 0 and treats T and 1/T alike. (Guo et al.'s code runs LBFGS on T itself, which needs
    a step size and an iteration budget and does not constrain T > 0.)

    Args:
        logits: (N, K) finite held-out logits (numpy array or torch tensor).
        labels: (N,) integer labels in [0, K).
        bounds: (T_min, T_max), 0 < T_min < T_max. If the NLL at a bound is no higher than at the
            search's answer, that bound is returned with a warning: it happens when the logits carry
            no information about the labels (T → ∞).

    When every held-out example is classified correctly (its label among the top logits), the NLL
    falls as T → 0 without a
    minimum: the data say "sharpen" but not how far, and the bound the search would stop at turns
    the test errors it has not seen into huge NLLs.
    T = 1 is returned then, with a warning: no scaling, rather than a scaling the data cannot fix.

    Returns:
        T as a Python float.
    """
    logits = _check_logits(logits)
    labels = check_labels(labels, *logits.shape)
    t_min, t_max = bounds
    if not 0 < t_min < t_max < inf:
        raise ArgumentError(f"bounds must satisfy 0 < T_min < T_max < inf, got {bounds!r}")
    rows = np.arange(len(labels))
    if _all_correct(logits, labels):
        warnings.warn(f"all {len(labels)} held-out examples are classified correctly, so no temperature can "
                      "be fitted (the NLL keeps falling as T -> 0); T = 1, no scaling", stacklevel=2)
        return 1.0

    def nll(log_t: float) -> float:
        return -np.mean(log_softmax(logits / np.exp(log_t), axis=1)[rows, labels])

    lo, hi = np.log(t_min), np.log(t_max)
    found = minimize_scalar(nll, bounds=(lo, hi), method="bounded", options={"xatol": 1e-6}).x
    # An unbracketed minimum is not found by the search: where the NLL keeps falling towards a bound
    # it may flatten out in float64 well before, a stretch on which the search stops anywhere. So a
    # bound at least as good as the search's answer wins.
    log_t = min((lo, hi, found), key=nll)
    if log_t != found:
        warnings.warn(
            f"fitted temperature {np.exp(log_t):.4g} lies on the search bound {bounds!r}; the NLL may "
            "keep falling beyond it (e.g. logits that carry no information about the labels)",
            stacklevel=2,
        )
    return float(np.exp(log_t))


# ---------------------------------------------------------------------------------------------------
# Recalibrators beyond one temperature: one call shape, fitted on held-out logits only

RECALIBRATORS: tuple[str, ...] = ("temperature", "vector", "matrix", "dirichlet", "histogram", "isotonic")
"""What :func:`fit_recalibrator` fits, in the order the app lists them."""

N_FOLDS = 5
"""Folds of the cross-validation that chooses a regularisation strength or a bin count on held-out data."""

ODIR_STRENGTHS = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)
"""The λ that matrix scaling and Dirichlet calibration choose among (:func:`fit_affine`'s ``strength``)."""

HISTOGRAM_BINS = (5, 10, 15, 20, 30, 50)
"""The bin counts histogram binning chooses among."""

MIN_TEMPERATURE_EXAMPLES = 10
MIN_EXAMPLES_PER_CLASS = 5
MIN_HELD_OUT = 50
"""Held-out examples below which every recalibrator but temperature scaling refuses to fit: at least
this many, and at least MIN_EXAMPLES_PER_CLASS · K (so that each of N_FOLDS folds sees about one
example of each class). Temperature scaling, one parameter, needs MIN_TEMPERATURE_EXAMPLES."""

_NOTE = f"{N_FOLDS}-fold CV on validation"


class Recalibrator(Protocol):
    """A map fitted on held-out logits that turns any logits of the same classifier into probabilities.

    Every implementation here is a frozen dataclass of plain floats and read-only numpy arrays, so it
    pickles (``st.cache_data``) and cannot be changed once fitted.
    """

    name: str

    def probs(self, logits) -> np.ndarray:
        """(N, K) float64 recalibrated probabilities of (N, K) logits, rows summing to 1."""

    def describe(self) -> str:
        """One line for a reader: the map and what was chosen on held-out data."""


def _frozen(*arrays: np.ndarray) -> None:
    for array in arrays:
        array.setflags(write=False)


@dataclass(frozen=True, eq=False)
class TemperatureScaling:
    """softmax(logits / T) (Guo et al. 2017, Sec. 4.2): keeps the argmax, so top-label accuracy."""

    temperature: float
    name: str = "temperature"

    def probs(self, logits) -> np.ndarray:
        return apply_temperature(logits, self.temperature)

    def describe(self) -> str:
        return f"T = {self.temperature:.3g}"


@dataclass(frozen=True, eq=False)
class AffineScaling:
    """softmax(W · f(logits) + b), with f the identity (vector and matrix scaling, Guo et al. 2017,
    Sec. 4.2) or log-softmax (Dirichlet calibration, Kull et al., NeurIPS 2019, whose map is a softmax
    of W log p + b).

    Attributes:
        name: ``"vector"`` (W diagonal), ``"matrix"`` or ``"dirichlet"`` (W full).
        weight: (K, K) W, read-only.
        bias: (K,) b, read-only.
        strength: the ODIR λ chosen by cross-validation (None for vector scaling, not regularised).
    """

    name: str
    weight: np.ndarray
    bias: np.ndarray
    strength: float | None = None

    def __post_init__(self):
        _frozen(self.weight, self.bias)

    def probs(self, logits) -> np.ndarray:
        logits = _check_logits(logits)
        if logits.shape[1] != len(self.bias):
            raise ArgumentError(f"logits have {logits.shape[1]} classes, the {self.name} map was fitted "
                                f"on {len(self.bias)}")
        features = log_softmax(logits, axis=1) if self.name == "dirichlet" else logits
        return softmax(features @ self.weight.T + self.bias, axis=1)

    def describe(self) -> str:
        if self.strength is None:
            scale = np.diag(self.weight)
            return f"vector scaling, per-class scale {scale.min():.3g} to {scale.max():.3g}"
        what = "matrix scaling" if self.name == "matrix" else "Dirichlet calibration"
        return f"{what}, ODIR λ = {self.strength:g} ({_NOTE})"


@dataclass(frozen=True, eq=False)
class ClasswiseMap:
    """One-vs-rest maps of each class's probability p_k to an estimate of P(y = k | p_k), then the
    row renormalised (Zadrozny & Elkan, KDD 2002, Sec. 4), as scikit-learn's
    ``CalibratedClassifierCV(method="isotonic")`` does.

    Histogram binning (``"histogram"``, Zadrozny & Elkan, ICML 2001) maps p_k to the frequency of class
    k among the held-out examples whose p_k fell in the same of ``n_bins`` equal-width bins (an empty
    bin: its midpoint). Isotonic regression (``"isotonic"``) interpolates linearly between the steps of
    the non-decreasing fit of 1[y = k] on p_k (pool-adjacent-violators), clipped outside their range.

    Both are step-like, so distinct probabilities share one value and the argmax can change, ties
    included (broken towards the lower class index): top-label accuracy is not kept and is worth
    measuring after (on 10 000 test images of the shipped Fashion-MNIST CNN, 0.9153 became 0.9099
    with histogram binning and 0.9143 with isotonic regression: ``benchmarks/crosscheck_recalibration.py``).
    A row that every class maps to 0 becomes uniform (scikit-learn's rule). A class never seen among
    the held-out labels would map to 0 everywhere, so that no later example could be given it:
    :func:`fit_recalibrator` refuses to fit then. A class probability that maps to exactly 0 costs the
    NLL's clamp (27.6 nats) when that class occurs: binning's NLL can be worse than before even
    where its ECE is better.

    Attributes:
        name: ``"histogram"`` or ``"isotonic"``.
        knots: K read-only arrays: the interior bin edges (histogram) or the step abscissae (isotonic).
        values: K read-only arrays: each bin's value (one more than its knots) or the step ordinates.
    """

    name: str
    knots: tuple[np.ndarray, ...]
    values: tuple[np.ndarray, ...]

    def __post_init__(self):
        _frozen(*self.knots, *self.values)

    def probs(self, logits) -> np.ndarray:
        logits = _check_logits(logits)
        if logits.shape[1] != len(self.values):
            raise ArgumentError(f"logits have {logits.shape[1]} classes, the {self.name} map was fitted "
                                f"on {len(self.values)}")
        return _renormalised(self.scores(softmax(logits, axis=1)))

    def scores(self, probs: np.ndarray) -> np.ndarray:
        """(N, K) each class's mapped probability before renormalisation."""
        if self.name == "histogram":
            columns = [v[np.searchsorted(x, p, side="right")] for x, v, p in zip(self.knots, self.values, probs.T)]
        else:
            columns = [np.interp(p, x, v) for x, v, p in zip(self.knots, self.values, probs.T)]
        return np.stack(columns, axis=1)

    def describe(self) -> str:
        if self.name == "histogram":
            return f"histogram binning per class, {len(self.values[0])} equal-width bins ({_NOTE}), renormalised"
        steps = [len(x) for x in self.knots]
        return f"isotonic regression per class, {min(steps)} to {max(steps)} knots, renormalised"


def _renormalised(scores: np.ndarray) -> np.ndarray:
    total = scores.sum(axis=1, keepdims=True)
    uniform = np.full_like(scores, 1.0 / scores.shape[1])
    return np.where(total > 0, scores / np.where(total > 0, total, 1.0), uniform)


def fit_affine(features, labels, *, diagonal: bool = False, strength: float = 0.0, gtol: float = 1e-7,
               start: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """W, b minimising the NLL of softmax(features · Wᵀ + b) plus Kull et al.'s ODIR penalty.

    loss = −(1/N) Σ_i log softmax(W x_i + b)_{y_i} + λ/(K(K−1)) Σ_{j≠k} W_jk² + λ/K Σ_k b_k²

    (Kull et al., NeurIPS 2019, Sec. 4: off-diagonal and intercept regularisation, one λ for both
    here). The diagonal is never penalised, so λ pulls towards a per-class scaling, not towards 0.
    With ``diagonal`` only W's diagonal is fitted (vector scaling; ODIR then penalises b alone). L-BFGS
    with the exact gradient from ``start`` (default W = I, b = 0), deterministic, at most 2000 steps.
    Without regularisation (λ = 0) on a real classifier's logits the problem is ill-conditioned and
    the search can end there short of the optimum (by 2e-4 nats on 6000 CNN validation logits).

    Args:
        features: (N, K) finite logits or log-probabilities.
        labels: (N,) integers in [0, K).
        diagonal: fit a diagonal W.
        strength: λ >= 0.
        gtol: L-BFGS's gradient tolerance; it stops too when a step lowers the loss by less than gtol / 100
            of itself.
        start: (W, b) to start from (a fit at a neighbouring λ converges in fewer steps).

    Returns:
        (K, K) W and (K,) b, float64.
    """
    x = _check_logits(features)
    y = check_labels(labels, *x.shape)
    n, k = x.shape
    rows = np.arange(n)
    off = ~np.eye(k, dtype=bool)
    w_penalty, b_penalty = strength / max(k * (k - 1), 1), strength / k

    def unpack(theta):
        w = np.diag(theta[:k]) if diagonal else theta[:k * k].reshape(k, k)
        return w, theta[-k:]

    def loss(theta):
        w, b = unpack(theta)
        scores = x @ w.T + b
        scores -= scores.max(axis=1, keepdims=True)
        exp = np.exp(scores)
        total = exp.sum(axis=1)
        # mean of log Σ exp − score of the label; scipy's log_softmax costs ~5x more at this size
        value = (np.log(total).sum() - scores[rows, y].sum()) / n + b_penalty * (b @ b)
        grad_scores = exp / total[:, None]
        grad_scores[rows, y] -= 1.0
        grad_scores /= n
        grad_w, grad_b = grad_scores.T @ x, grad_scores.sum(axis=0) + 2 * b_penalty * b
        if diagonal:
            return value, np.concatenate([np.diag(grad_w), grad_b])
        value += w_penalty * np.sum(w[off] ** 2)
        grad_w = grad_w + 2 * w_penalty * np.where(off, w, 0.0)
        return value, np.concatenate([grad_w.ravel(), grad_b])

    if start is None:
        start = (np.eye(k), np.zeros(k))
    w0, b0 = start
    start = np.concatenate([np.diag(w0) if diagonal else np.asarray(w0).ravel(), b0])
    # (N, K) @ (K, K) products are too small to gain from BLAS threads, and on a busy machine the
    # threads' hand-offs make each product ~50x slower (0.1 ms against 11 ms for N = 8000, K = 10).
    with threadpool_limits(limits=1, user_api="blas"):
        # 50 past steps kept, not 10: on real logits, strongly correlated across classes, it halves
        # the steps (6000 validation logits of a CNN: 2146 evaluations for the whole CV, from 4439).
        found = minimize(loss, start, jac=True, method="L-BFGS-B",
                         options={"maxiter": 2000, "gtol": gtol, "ftol": gtol / 100, "maxcor": 50})
    return unpack(found.x)


def _folds(n: int, seed: int) -> list[np.ndarray]:
    return np.array_split(np.random.default_rng(seed).permutation(n), N_FOLDS)


def _cross_validated(choices, score, n: int, seed: int):
    """The choice with the lowest mean held-out-fold ``score(choice, fold, train_idx, test_idx)``, the
    choices tried in order; on a tie the earlier (the more regularised: each grid here is listed so) wins."""
    folds = _folds(n, seed)
    means = []
    for choice in choices:
        losses = [score(choice, i, np.concatenate(folds[:i] + folds[i + 1:]), fold) for i, fold in enumerate(folds)]
        means.append(np.mean(losses))
    return choices[int(np.argmin(means))]


def _fit_affine_scaling(name: str, logits: np.ndarray, labels: np.ndarray, seed: int) -> AffineScaling:
    features = log_softmax(logits, axis=1) if name == "dirichlet" else logits
    if name == "vector":
        if _all_correct(logits, labels):
            warnings.warn(f"all {len(labels)} held-out examples are classified correctly, so vector scaling "
                          "has no finite fit (the NLL keeps falling as the scales grow); identity map", stacklevel=3)
            k = logits.shape[1]
            return AffineScaling(name, np.eye(k), np.zeros(k))
        return AffineScaling(name, *fit_affine(features, labels, diagonal=True))

    fitted = {}  # each fold's last fit, the start of its next one (λ falling)
    # The folds only rank the λ: stopped at a gradient of 1e-4, not 1e-7, they chose the same λ on
    # 6000 validation logits of a CNN in a third of the time.

    def held_out_nll(strength, fold, train, test):
        w, b = fitted[fold] = fit_affine(features[train], labels[train], strength=strength, gtol=1e-4,
                                         start=fitted.get(fold))
        return negative_log_likelihood(softmax(features[test] @ w.T + b, axis=1), labels[test])

    # Largest λ first, so that a tie goes to the stronger regularisation.
    strength = _cross_validated(ODIR_STRENGTHS[::-1], held_out_nll, len(labels), seed)
    return AffineScaling(name, *fit_affine(features, labels, strength=strength), strength=strength)


def _histogram(probs: np.ndarray, labels: np.ndarray, n_bins: int) -> ClasswiseMap:
    edges = np.linspace(0.0, 1.0, n_bins + 1)[1:-1]
    midpoints = (np.arange(n_bins) + 0.5) / n_bins
    knots, values = [], []
    for k, p in enumerate(probs.T):
        index = np.searchsorted(edges, p, side="right")
        count = np.bincount(index, minlength=n_bins)
        hits = np.bincount(index, weights=labels == k, minlength=n_bins)
        knots.append(edges.copy())
        values.append(np.where(count > 0, hits / np.maximum(count, 1), midpoints))
    return ClasswiseMap("histogram", tuple(knots), tuple(values))


def _isotonic(probs: np.ndarray, labels: np.ndarray) -> ClasswiseMap:
    from sklearn.isotonic import IsotonicRegression  # scikit-learn's import costs ~1 s: only when fitted

    knots, values = [], []
    for k, p in enumerate(probs.T):
        fitted = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(p, labels == k)
        knots.append(np.asarray(fitted.X_thresholds_, dtype=np.float64))
        values.append(np.asarray(fitted.y_thresholds_, dtype=np.float64))
    return ClasswiseMap("isotonic", tuple(knots), tuple(values))


def _fit_histogram(probs: np.ndarray, labels: np.ndarray, seed: int) -> ClasswiseMap:
    def held_out_brier(n_bins, _, train, test):
        fitted = _histogram(probs[train], labels[train], n_bins)
        return brier_score(_renormalised(fitted.scores(probs[test])), labels[test])

    # Its own criterion: a bin's frequency is a least-squares fit, and an empty or pure bin gives 0
    # for a class that can still occur, which the Brier score weighs finitely and the NLL does not.
    return _histogram(probs, labels, _cross_validated(HISTOGRAM_BINS, held_out_brier, len(labels), seed))


def _all_correct(logits: np.ndarray, labels: np.ndarray) -> bool:
    """Every label among the top logits (a tie included): no finite NLL fit of a scale exists."""
    return bool((logits[np.arange(len(labels)), labels] >= logits.max(axis=1)).all())


def _check_held_out(name: str, logits: np.ndarray, labels: np.ndarray) -> None:
    n, k = logits.shape
    least = MIN_TEMPERATURE_EXAMPLES if name == "temperature" else max(MIN_HELD_OUT, MIN_EXAMPLES_PER_CLASS * k)
    if n < least:
        raise ArgumentError(f"{name} recalibration needs at least {least} held-out examples"
                            f"{'' if name == 'temperature' else f' for {k} classes'}, got {n}")
    absent = np.flatnonzero(np.bincount(labels, minlength=k) == 0)
    if name != "temperature" and absent.size:
        raise ArgumentError(f"class {absent[0]} never occurs among the {n} held-out labels: {name} "
                            "recalibration would learn never to predict it; fit on held-out data that has "
                            "every class, or use temperature scaling")


def fit_recalibrator(name: str, logits, labels, seed: int = 0) -> Recalibrator:
    """Fit the recalibrator ``name`` (one of :data:`RECALIBRATORS`) on held-out logits and labels.

    - ``temperature``: one T by NLL (:func:`fit_temperature`); keeps the argmax.
    - ``vector``: per-class scale and bias on the logits, softmax(a ⊙ z + b), by NLL, not regularised
      (Guo et al. 2017, Sec. 4.2). The argmax can change: the scales and biases differ by class.
    - ``matrix``: softmax(W z + b) with a full W, by NLL with ODIR (:func:`fit_affine`).
    - ``dirichlet``: softmax(W log p + b), p = softmax(z), by NLL with ODIR (Kull et al. 2019).
    - ``histogram``, ``isotonic``: one-vs-rest on p = softmax(z), renormalised (:class:`ClasswiseMap`).

    The rule for what cross-validation chooses: λ (matrix, Dirichlet) from :data:`ODIR_STRENGTHS`
    by the mean NLL, and the bin count (histogram) from :data:`HISTOGRAM_BINS` by the mean Brier
    score, each on the left-out folds of :data:`N_FOLDS` folds of the held-out examples (shuffled
    with ``seed``); a tie goes to the stronger regularisation (larger λ, fewer bins). The chosen
    value is then refitted on all held-out examples. Nothing here sees a test split: pass held-out
    (validation) outputs only.

    Args:
        name: one of :data:`RECALIBRATORS`.
        logits: (N, K) finite held-out logits (numpy array or torch tensor).
        labels: (N,) integer held-out labels in [0, K).
        seed: the fold shuffle.

    Raises:
        ArgumentError: an unknown ``name``; fewer held-out examples than :data:`MIN_HELD_OUT` (or
            :data:`MIN_TEMPERATURE_EXAMPLES`); a class absent from the held-out labels (all but
            temperature scaling would then learn never to predict it).
    """
    check_choice("recalibrator", name, RECALIBRATORS)
    logits = _check_logits(logits)
    labels = check_labels(labels, *logits.shape)
    _check_held_out(name, logits, labels)
    if name == "temperature":
        return TemperatureScaling(fit_temperature(logits, labels))
    if name in ("vector", "matrix", "dirichlet"):
        return _fit_affine_scaling(name, logits, labels, seed)
    probs = softmax(logits, axis=1)
    return _fit_histogram(probs, labels, seed) if name == "histogram" else _isotonic(probs, labels)


def select_recalibrator(logits, labels, names: tuple[str, ...] = RECALIBRATORS, folds: int = N_FOLDS,
                        seed: int = 0) -> tuple[Recalibrator, dict[str, float]]:
    """The best of ``names`` on held-out outputs, by K-fold cross-validated NLL, refitted on all of them.

    The held-out examples (shuffled with ``seed``) are split into ``folds`` folds; each name is fitted
    (:func:`fit_recalibrator`, its own choices cross-validated inside the training folds) on every
    K − 1 folds and scored by the NLL (:func:`~explorer.measure.calibration.negative_log_likelihood`)
    of the fold left out; its score is the mean over folds. The lowest score wins (a tie: the name
    listed first, so temperature scaling, the fewest parameters, before the rest), and the winner is
    fitted again on every held-out example. Nothing here sees a test split: the selection, like each
    fit, uses the held-out (validation) arrays it is given and nothing else.

    NLL ranks proper probabilistic fits, and it is the measure the maps of :data:`RECALIBRATORS` but
    histogram binning are fitted by. Histogram binning and isotonic regression map some class
    probabilities to exactly 0; where such a class occurs in a left-out fold, its term is the NLL's
    clamp, −log 1e-12 ≈ 27.6 nats, instead of infinity. That keeps their scores finite and comparable,
    and is also why they rarely win here: one such example in a thousand adds 0.03 nats.

    A name whose fit is refused on some fold (:func:`fit_recalibrator` raises an ArgumentError: too few
    examples for its parameters in K − 1 folds, or a class absent from them) is left out of the
    scores and of the choice.

    Args:
        logits: (N, K) finite held-out logits (numpy array or torch tensor).
        labels: (N,) integer held-out labels in [0, K).
        names: the candidates, each one of :data:`RECALIBRATORS`.
        folds: K >= 2, and at most N.
        seed: the fold shuffle (and each fit's own cross-validation).

    Returns:
        (the winner fitted on all N examples, {name: mean left-out-fold NLL in nats} of every name that
        could be fitted on every fold, in the order of ``names``).

    Raises:
        ArgumentError: an unknown name, no names, a bad ``folds``, or no name that could be fitted on
            every fold.
    """
    names = tuple(names)
    if not names:
        raise ArgumentError("names must name at least one recalibrator, got none")
    for name in names:
        check_choice("recalibrator", name, RECALIBRATORS)
    logits = _check_logits(logits)
    labels = check_labels(labels, *logits.shape)
    if isinstance(folds, bool) or not isinstance(folds, int) or not 2 <= folds <= len(labels):
        raise ArgumentError(f"folds must be an integer from 2 to the {len(labels)} held-out examples, got {folds!r}")
    parts = np.array_split(np.random.default_rng(seed).permutation(len(labels)), folds)
    scores: dict[str, float] = {}
    refusals: list[str] = []
    for name in names:
        losses = []
        for i, test in enumerate(parts):
            train = np.concatenate(parts[:i] + parts[i + 1:])
            try:
                # A fold's fit only scores the name: its warnings (a perfectly classified fold, a bound
                # reached) say nothing about the map that is refitted on all examples, which warns itself.
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    fitted = fit_recalibrator(name, logits[train], labels[train], seed=seed)
            except ArgumentError as error:
                refusals.append(f"{name} ({error})")
                break
            losses.append(negative_log_likelihood(fitted.probs(logits[test]), labels[test]))
        else:
            scores[name] = float(np.mean(losses))
    if not scores:
        raise ArgumentError(f"no recalibrator could be fitted on every {folds}-fold split of the {len(labels)} "
                            f"held-out examples: {'; '.join(refusals)}")
    best = min(scores, key=scores.get)  # the first of equal scores: dicts keep the order of names
    return fit_recalibrator(best, logits, labels, seed=seed), scores
