"""Intervals of a difference (explorer/measure/intervals.py): the t interval over seeds and its widening
by the test examples, and the paired bootstrap over test examples."""

import math

import numpy as np
import pytest

from explorer.core.errors import ArgumentError
from explorer.measure.calibration import expected_calibration_error
from explorer.measure.intervals import LEVEL, bootstrap_difference, seed_interval, t_quantile


def test_the_t_multiplier_is_the_tables():
    assert t_quantile(0.95, 2) == pytest.approx(4.303, abs=1e-3)
    assert t_quantile(0.95, 4) == pytest.approx(2.776, abs=1e-3)


def test_the_seed_interval_is_worked_by_hand():
    # differences 1, 2, 3: mean 2, s = 1, SE = 1/√3, half-width 4.303/√3 = 2.484
    interval = seed_interval([1.0, 2.0, 3.0])
    assert interval.mean == 2.0 and interval.level == LEVEL
    assert interval.high - 2.0 == pytest.approx(4.3027 / math.sqrt(3), rel=1e-4)
    assert interval.low < 0 < interval.high and not interval.excludes_zero
    assert seed_interval([1.0, 1.1, 0.9]).excludes_zero


def test_test_variances_widen_by_the_mean_standard_deviation_squared():
    d = [1.0, 2.0, 3.0]
    # SE² = s²/n + (mean √v)² = 1/3 + ((0.3 + 0.5 + 0.4) / 3)² = 1/3 + 0.16
    widened = seed_interval(d, test_variances=[0.09, 0.25, 0.16])
    assert widened.high - widened.mean == pytest.approx(t_quantile(0.95, 2) * math.sqrt(1 / 3 + 0.16))
    assert seed_interval(d, test_variances=[0.0, 0.0, 0.0]) == seed_interval(d)


def test_one_seed_has_no_interval_and_bad_inputs_are_refused():
    assert seed_interval([0.3]) is None
    with pytest.raises(ArgumentError):
        seed_interval([1.0, 2.0], test_variances=[0.1])
    with pytest.raises(ArgumentError):
        seed_interval([1.0, 2.0], test_variances=[0.1, -0.1])
    with pytest.raises(ArgumentError):
        seed_interval([1.0, 2.0], level=1.5)


def probs_of(rng, n, k, sharpness):
    logits = rng.normal(size=(n, k)) * sharpness
    p = np.exp(logits - logits.max(1, keepdims=True))
    return p / p.sum(1, keepdims=True)


def test_a_model_against_itself_differs_by_exactly_zero():
    rng = np.random.default_rng(0)
    p = probs_of(rng, 300, 4, 3.0)
    y = rng.integers(4, size=300)
    assert tuple(bootstrap_difference(p, p.copy(), y, "ece", n_resamples=50)[:3]) == (0.0, 0.0, 0.0)


def test_the_paired_bootstrap_is_narrower_than_two_unpaired_errors_on_shared_examples():
    """Two models that mostly agree: the examples' luck moves both ECEs together, and pairing cancels it."""
    rng = np.random.default_rng(1)
    a = probs_of(rng, 2000, 5, 4.0)
    b = 0.97 * a + 0.03 / 5  # a little softer: nearly the same predictions
    y = np.array([rng.choice(5, p=row) for row in a])
    paired = bootstrap_difference(a, b, y, "ece", n_resamples=300, seed=2)
    assert paired.mean == pytest.approx(expected_calibration_error(a, y) - expected_calibration_error(b, y))
    assert paired.low <= paired.mean <= paired.high
    from explorer.measure.calibration import ece_standard_error

    unpaired = 2 * 1.96 * math.hypot(ece_standard_error(a, y, seed=2), ece_standard_error(b, y, seed=2))
    assert paired.high - paired.low < 0.8 * unpaired


def test_the_bootstrap_names_its_measure():
    rng = np.random.default_rng(0)
    p = probs_of(rng, 20, 3, 1.0)
    with pytest.raises(ArgumentError, match="unknown measure"):
        bootstrap_difference(p, p, rng.integers(3, size=20), "auroc")
