"""Tests for explorer.measure.decompositions: the Brier score and the NLL split into calibration and
refinement, on hand-worked and synthetic predictions."""

import numpy as np
import pytest
from scipy.special import softmax

from calibration_data import labelled_logits
from explorer.measure import calibration as cal
from explorer.measure import decompositions as dec
from explorer.measure.recalibration import apply_temperature, fit_temperature


def test_brier_decomposition_by_hand():
    """Two groups of equal rows, one per bin: ĉ is each group's label frequency (3/4, then 1/2 for class 0)."""
    probs = np.array([[0.8, 0.2]] * 4 + [[0.3, 0.7]] * 2)
    labels = np.array([0, 0, 0, 1, 1, 0])
    score, calibration, refinement = dec.brier_decomposition(probs, labels, n_bins=2)
    # calibration: 2 classes × (4 · 0.05² + 2 · 0.2²) / 6; refinement: 2 × (3 · 0.25² + 0.75² + 2 · 0.5²) / 6
    assert calibration == pytest.approx(0.18 / 6)
    assert refinement == pytest.approx(2.5 / 6)
    assert score == pytest.approx(2.68 / 6) == cal.brier_score(probs, labels)


def test_brier_identity_holds_on_the_sample():
    logits, labels = labelled_logits(seed=0, t_true=1.0, n=3000)
    probs = softmax(2.5 * logits + np.linspace(-1, 1, 10), axis=1)  # over-confident, per-class biased
    parts = dec.brier_decomposition(probs, labels)
    assert parts.score == cal.brier_score(probs, labels)
    assert parts.calibration + parts.refinement == pytest.approx(parts.score, abs=1e-12)
    fitted = dec.brier_calibration_map(probs, labels)
    assert parts.refinement == pytest.approx(np.mean(np.sum((fitted - np.eye(10)[labels]) ** 2, axis=1)))
    assert parts.calibration > 0.02


def test_nll_calibration_part_is_the_mean_kl_of_the_fitted_map():
    logits, labels = labelled_logits(seed=1, t_true=1.0, n=3000)
    probs = softmax(2.5 * logits + np.linspace(-1, 1, 10), axis=1)
    parts = dec.nll_decomposition(probs, labels)
    fitted = dec.nll_calibration_map(probs, labels)
    assert parts.score == cal.negative_log_likelihood(probs, labels)
    assert parts.refinement == pytest.approx(cal.negative_log_likelihood(fitted, labels))
    assert parts.calibration + parts.refinement == pytest.approx(parts.score, abs=1e-12)
    # Kull & Flach's calibration loss, E[KL(c ‖ p)]: equal to NLL(p) − NLL(ĉ) only at the maximum
    # likelihood fit (its score equations), so this checks the fit, not a definition.
    kl = np.mean(np.sum(fitted * np.log(fitted / probs), axis=1))
    assert parts.calibration == pytest.approx(kl, rel=1e-3, abs=1e-6)
    assert parts.calibration > 0.1


def test_a_calibrated_model_has_only_the_in_sample_bias_as_calibration():
    """Labels drawn from the probabilities: the true calibration part is 0, the estimate's bias is
    (K² − 1) / (2N) nats for the NLL and about 2B · E[1 − Σ p²] / N for the Brier score."""
    n, k, n_bins = 20_000, 10, 15
    logits, labels = labelled_logits(seed=2, t_true=1.0, n=n, k=k)
    probs = softmax(logits, axis=1)
    nll_bias = (k * k - 1) / (2 * n)
    assert 0.5 * nll_bias < dec.nll_decomposition(probs, labels).calibration < 1.6 * nll_bias
    brier_bias = 2 * n_bins * np.mean(1 - np.sum(probs ** 2, axis=1)) / n
    assert 0 < dec.brier_decomposition(probs, labels, n_bins).calibration < 2 * brier_bias


def test_temperature_scaling_shrinks_calibration_and_keeps_refinement():
    logits, labels = labelled_logits(seed=3, t_true=1.0, n=20_000)
    hot = 3.0 * logits
    t = fit_temperature(hot[:5000], labels[:5000])  # fitted on a held-out part, measured on the rest
    before_p, after_p = softmax(hot[5000:], axis=1), apply_temperature(hot[5000:], t)
    rest = labels[5000:]
    for decompose, refinement_tol in ((dec.nll_decomposition, 1e-3), (dec.brier_decomposition, None)):
        before, after = decompose(before_p, rest), decompose(after_p, rest)
        assert after.calibration < 0.1 * before.calibration
        shift = abs(after.refinement - before.refinement)
        # The Brier estimate bins each class's probability, and the scaling moves examples between bins:
        # its refinement moves, by less than a fifth of what calibration loses.
        assert shift < (refinement_tol or 0.2 * (before.calibration - after.calibration))


def test_decompositions_validate_their_inputs():
    with pytest.raises(ValueError, match="each row of probs must sum to 1"):
        dec.nll_decomposition([[0.5, 0.6]], [0])
    with pytest.raises(ValueError, match="n_bins must be an integer >= 1, got 0"):
        dec.brier_decomposition([[0.5, 0.5]], [0], n_bins=0)


def test_the_brier_identity_holds_when_probabilities_differ_only_by_rounding():
    """A histogram binning's flat steps give values equal but for the last bit; a slope fitted on those
    is rounding noise and broke the identity by 3e-5 on the digits model."""
    rng = np.random.default_rng(7)
    levels = rng.dirichlet(np.ones(3), size=4)
    probs = levels[rng.integers(4, size=600)]
    probs = probs * (1 + rng.choice([-1, 0, 1], size=probs.shape) * np.finfo(float).eps)  # the last bit moved
    probs /= probs.sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(3, p=row) for row in levels[rng.integers(4, size=600)]])
    found = dec.brier_decomposition(probs, labels)
    assert found.calibration + found.refinement == pytest.approx(found.score, abs=1e-12)
