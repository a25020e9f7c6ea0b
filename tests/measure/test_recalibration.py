"""Tests for explorer.measure.recalibration: temperature scaling fitted and applied on arrays."""

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.special import softmax

from calibration_data import GOOD_P, GOOD_Y, labelled_logits
from explorer.measure import calibration as cal
from explorer.measure import recalibration as recal

ROOT = Path(__file__).resolve().parents[2]


def test_recalibration_imports_no_torch():
    code = "import sys, explorer.measure.recalibration; print(sorted({m.split('.')[0] for m in sys.modules}))"
    loaded = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert "torch" not in eval(loaded.stdout)


def test_fit_temperature_recovers_the_true_temperature():
    logits, labels = labelled_logits(seed=0, t_true=2.0)
    assert abs(recal.fit_temperature(logits, labels) - 2.0) < 0.05


def test_fit_temperature_is_one_for_calibrated_logits():
    logits, labels = labelled_logits(seed=1, t_true=1.0)
    assert abs(recal.fit_temperature(torch.as_tensor(logits), torch.as_tensor(labels)) - 1.0) < 0.03


def test_fit_temperature_lowers_nll_of_overconfident_logits_and_keeps_accuracy():
    logits, labels = labelled_logits(seed=2, t_true=1.0, n=5000)
    overconfident = 3.0 * logits
    t = recal.fit_temperature(overconfident, labels)
    assert t > 2.5
    before, after = softmax(overconfident, axis=1), recal.apply_temperature(overconfident, t)
    assert cal.negative_log_likelihood(after, labels) < 0.9 * cal.negative_log_likelihood(before, labels)
    assert cal.expected_calibration_error(after, labels) < cal.expected_calibration_error(before, labels)
    assert cal.accuracy(after, labels) == cal.accuracy(before, labels)


def test_fit_temperature_warns_on_a_bound():
    logits = 10.0 * np.eye(3)[[0, 1, 2, 0]]  # confidently wrong throughout: the NLL keeps falling as T -> inf
    with pytest.warns(UserWarning, match="lies on the search bound"):
        t = recal.fit_temperature(logits, np.array([1, 2, 0, 2]))
    assert t == pytest.approx(100.0, rel=1e-12)


def test_a_perfectly_classified_held_out_set_is_not_scaled():
    """No error: the NLL falls without a minimum as T -> 0, so the fit keeps T = 1 and says why,
    instead of stopping at the search bound and sharpening every later mistake 100-fold."""
    logits = 10.0 * np.eye(3)[[0, 1, 2, 0]]
    with pytest.warns(UserWarning, match="all 4 held-out examples are classified correctly"):
        assert recal.fit_temperature(logits, np.array([0, 1, 2, 0])) == 1.0
    tied = np.array([[5.0, 5.0, 0.0], [0.0, 9.0, 1.0]])  # row 0: the label ties for the top logit
    with pytest.warns(UserWarning, match="classified correctly"):
        assert recal.fit_temperature(tied, np.array([1, 1])) == 1.0
    # One error among them is enough to fit: the minimum is inside the bounds, with no warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t = recal.fit_temperature(logits, np.array([0, 1, 2, 1]))
    assert 0.01 < t < 100


def test_apply_temperature_matches_torch_softmax():
    logits = np.random.default_rng(5).normal(size=(8, 4))
    probs = recal.apply_temperature(torch.as_tensor(logits), 0.5)
    assert probs.dtype == np.float64
    np.testing.assert_allclose(probs, torch.softmax(torch.as_tensor(logits) / 0.5, dim=1).numpy())


# ---------------------------------------------------------------------------------------------------
# Validation at the boundary


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: recal.fit_temperature([[0.0, np.inf]], [0]), r"logits must be finite, got inf"),
        (lambda: recal.fit_temperature(GOOD_P, GOOD_Y, bounds=(0.0, 10.0)), r"bounds .*\(0.0, 10.0\)"),
        (lambda: recal.apply_temperature(GOOD_P, 0), r"temperature .*> 0, got 0"),
        (lambda: recal.apply_temperature(GOOD_P, -1.5), r"got -1.5"),
        (lambda: recal.apply_temperature(GOOD_P, float("nan")), r"got nan"),
        (lambda: recal.fit_temperature(np.array([0.3, 0.7]), GOOD_Y), r"logits must be 2-D .*got shape \(2,\)"),
        (lambda: recal.fit_temperature(GOOD_P, np.array([1.0, 0.0])), r"integers .*got dtype float64"),
    ],
)
def test_validation_errors_name_the_bad_value(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_fit_temperature_validates_its_labels_as_every_metric_does():
    with pytest.raises(ValueError, match=r"\[0, 2\), got 2 at index 1"):
        recal.fit_temperature(GOOD_P, np.array([1, 2]))
