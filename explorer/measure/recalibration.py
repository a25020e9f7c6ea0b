"""Post-hoc recalibration on arrays: maps fitted on held-out logits and labels that make a trained
classifier's probabilities calibrated without training it again.

Today this is temperature scaling (Guo et al., "On Calibration of Modern Neural Networks", ICML 2017,
Sec. 4.2): :func:`fit_temperature` fits one scalar T by NLL, :func:`apply_temperature` gives
softmax(logits / T). The other maps of the same kind (vector and matrix scaling, Dirichlet
calibration, isotonic regression) belong here too, each as a ``fit_*`` that learns its parameters on
held-out logits and an ``apply_*`` that uses them on any others.

Inputs are numpy arrays or torch tensors: ``logits`` (N, K) finite, ``labels`` (N,) integers in
[0, K); results are float64 numpy. numpy and scipy only, no torch and no data: which held-out split
of a model or a bundle the maps are fitted on is :mod:`explorer.measure.evaluation`'s business, and
the metrics that judge the result are :mod:`explorer.measure.calibration`'s.
"""

from __future__ import annotations

import warnings
from math import inf
from numbers import Real

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax

from explorer.core._validation import check_labels, check_scores
from explorer.core.errors import ArgumentError


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
    if (logits[rows, labels] >= logits.max(axis=1)).all():  # a tie at the top also falls as T -> 0
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
