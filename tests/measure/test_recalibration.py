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


# ---------------------------------------------------------------------------------------------------
# Every recalibrator through fit_recalibrator


BIAS = np.linspace(-1.0, 1.0, 10)


@pytest.fixture(scope="module")
def miscalibrated():
    """Logits three times too sharp with a per-class bias: the calibrated probabilities are
    softmax((z − β) / 3) for these z = 3 · logits + β; the first half is held out for fitting."""
    logits, labels = labelled_logits(seed=7, t_true=1.0, n=20_000)
    z = 3.0 * logits + BIAS
    return (z[:10_000], labels[:10_000]), (z[10_000:], labels[10_000:])


@pytest.fixture(scope="module")
def fitted(miscalibrated):
    (z, y), _ = miscalibrated
    return {name: recal.fit_recalibrator(name, z, y) for name in recal.RECALIBRATORS}


@pytest.mark.parametrize("name", recal.RECALIBRATORS)
def test_each_recalibrator_improves_nll_and_ece_on_a_separate_sample(miscalibrated, fitted, name):
    _, (z, y) = miscalibrated
    before, after = softmax(z, axis=1), fitted[name].probs(z)
    assert after.shape == z.shape and after.dtype == np.float64
    assert np.all((after >= 0) & (after <= 1)) and np.allclose(after.sum(axis=1), 1.0, atol=1e-12)
    assert cal.negative_log_likelihood(after, y) < 0.8 * cal.negative_log_likelihood(before, y)
    assert cal.expected_calibration_error(after, y) < 0.2 * cal.expected_calibration_error(before, y)
    assert fitted[name].name == name and fitted[name].describe()


def _centred(b):
    return b - b.mean()


def test_scalings_recover_the_known_parameters(fitted):
    assert fitted["temperature"].temperature == pytest.approx(3.0, rel=0.05)
    vector = fitted["vector"]
    np.testing.assert_allclose(np.diag(vector.weight), 1 / 3, atol=0.03)
    np.testing.assert_allclose(_centred(vector.bias), _centred(-BIAS / 3), atol=0.2)


def test_full_maps_recover_the_calibrated_probabilities(miscalibrated, fitted):
    """W + 1cᵀ gives every class the same shift c · z, so a full W is known only up to that (and b up
    to a constant): the map, not its parameters, is what can be recovered. Here W = I / 3, b = −β / 3."""
    _, (z, _) = miscalibrated
    truth = softmax((z - BIAS) / 3, axis=1)
    before = np.mean(np.sum(truth * np.log(truth / softmax(z, axis=1)), axis=1))
    for name in ("matrix", "dirichlet"):
        kl = np.mean(np.sum(truth * np.log(truth / fitted[name].probs(z)), axis=1))
        assert kl < 0.01 < 0.5 < before, name


def test_which_recalibrators_keep_the_argmax(miscalibrated, fitted):
    """Temperature scaling keeps it always; per-class scales and biases (vector, matrix, Dirichlet)
    and per-class maps (histogram, isotonic) need not: here they move some predictions."""
    _, (z, _) = miscalibrated
    top = z.argmax(axis=1)
    assert (fitted["temperature"].probs(z).argmax(axis=1) == top).all()
    for name in ("vector", "matrix", "dirichlet", "isotonic"):
        assert 0 < (fitted[name].probs(z).argmax(axis=1) != top).mean() < 0.1, name


def test_isotonic_matches_scikit_learns_one_vs_rest_calibration(miscalibrated, fitted):
    """CalibratedClassifierCV(method="isotonic") on a frozen classifier whose probabilities are
    softmax(z): the same per-class fits and the same renormalisation."""
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator

    class Softmax(ClassifierMixin, BaseEstimator):  # a fitted classifier whose inputs are its logits
        def fit(self, *_):
            self.classes_ = np.arange(10)
            return self

        @staticmethod
        def predict_proba(z):
            return softmax(z, axis=1)

        @staticmethod
        def predict(z):
            return z.argmax(axis=1)

    (z_val, y_val), (z, _) = miscalibrated
    reference = CalibratedClassifierCV(FrozenEstimator(Softmax().fit()), method="isotonic")
    reference.fit(z_val, y_val)
    np.testing.assert_allclose(fitted["isotonic"].probs(z), reference.predict_proba(z), atol=1e-12)


def test_histogram_bins_hold_the_held_out_frequencies(miscalibrated, fitted):
    (z, y), _ = miscalibrated
    histogram = fitted["histogram"]
    n_bins = len(histogram.values[0])
    assert n_bins in recal.HISTOGRAM_BINS
    p = softmax(z, axis=1)[:, 4]
    in_top_bin = p >= 1 - 1 / n_bins
    assert histogram.values[4][-1] == pytest.approx((y[in_top_bin] == 4).mean())


def test_recalibrators_are_frozen_and_pickle(miscalibrated, fitted):
    import dataclasses
    import pickle

    _, (z, _) = miscalibrated
    for name, map_ in fitted.items():
        copy = pickle.loads(pickle.dumps(map_))
        np.testing.assert_array_equal(copy.probs(z[:50]), map_.probs(z[:50]))
        with pytest.raises(dataclasses.FrozenInstanceError):
            map_.name = "other"
    with pytest.raises(ValueError, match="read-only"):
        fitted["matrix"].weight[0, 0] = 1.0


def test_cross_validation_follows_the_seed_and_the_fit_is_deterministic(miscalibrated):
    (z, y), _ = miscalibrated
    one, again = (recal.fit_recalibrator("matrix", z[:2000], y[:2000], seed=3) for _ in range(2))
    np.testing.assert_array_equal(one.weight, again.weight)
    assert one.strength in recal.ODIR_STRENGTHS


def test_vector_scaling_of_a_perfectly_classified_held_out_set_is_the_identity():
    logits = 10.0 * np.eye(5)[np.arange(60) % 5]
    with pytest.warns(UserWarning, match="all 60 held-out examples are classified correctly"):
        vector = recal.fit_recalibrator("vector", logits, np.arange(60) % 5)
    np.testing.assert_array_equal(vector.weight, np.eye(5))


@pytest.mark.parametrize(
    "name, n, classes, message",
    [
        ("platt", 100, 3, r"unknown recalibrator 'platt'; choose one of temperature, vector, matrix, dirichlet, "
                          r"histogram, isotonic"),
        ("matrix", 49, 3, r"matrix recalibration needs at least 50 held-out examples for 3 classes, got 49"),
        ("isotonic", 90, 20, r"needs at least 100 held-out examples for 20 classes, got 90"),
        ("temperature", 9, 3, r"temperature recalibration needs at least 10 held-out examples, got 9"),
        ("dirichlet", 100, 2, r"class 2 never occurs among the 100 held-out labels: dirichlet recalibration "
                              r"would learn never to predict it"),
    ],
)
def test_fit_recalibrator_refuses_in_one_line(name, n, classes, message):
    rng = np.random.default_rng(0)
    logits, labels = rng.normal(size=(n, max(classes, 3))), np.arange(n) % classes
    with pytest.raises(ValueError, match=message):
        recal.fit_recalibrator(name, logits, labels)


def test_temperature_is_fitted_with_a_class_absent():
    logits, labels = labelled_logits(seed=8, t_true=2.0, n=400, k=4)
    kept = labels != 3
    scaled = recal.fit_recalibrator("temperature", logits[kept], labels[kept])
    assert scaled.describe().startswith("T = ") and 1.5 < scaled.temperature < 2.5


def test_a_recalibrator_refuses_logits_of_another_width(fitted):
    with pytest.raises(ValueError, match="logits have 3 classes, the dirichlet map was fitted on 10"):
        fitted["dirichlet"].probs(np.zeros((2, 3)))


# ---------------------------------------------------------------------------------------------------
# Choosing among them on held-out data


@pytest.mark.parametrize("seed", [0, 1])
def test_the_selection_picks_the_family_the_miscalibration_needs(seed):
    """A per-class bias only a per-class map can remove: vector scaling (exact, and the fewest of those
    parameters) wins; logits three times too sharp: one temperature is exact and wins."""
    logits, labels = labelled_logits(seed=seed, t_true=1.0, n=3000)
    biased, _ = recal.select_recalibrator(logits + 1.5 * np.linspace(-1.0, 1.0, 10), labels, seed=seed)
    sharp, scores = recal.select_recalibrator(3.0 * logits, labels, seed=seed)
    assert (biased.name, sharp.name) == ("vector", "temperature")
    assert list(scores) == list(recal.RECALIBRATORS) and min(scores, key=scores.get) == "temperature"
    assert sharp.temperature == pytest.approx(3.0, rel=0.1)


def test_the_selection_scores_each_name_on_left_out_folds_of_the_held_out_arrays_alone():
    """Temperature scaling's score, computed by hand from the same shuffled folds of the arrays given,
    and the winner refitted on all of them: nothing else enters."""
    logits, labels = labelled_logits(seed=4, t_true=2.0, n=500)
    best, scores = recal.select_recalibrator(logits, labels, names=("temperature", "isotonic"), folds=4, seed=3)
    parts = np.array_split(np.random.default_rng(3).permutation(500), 4)
    by_hand = []
    for i, test in enumerate(parts):
        train = np.concatenate(parts[:i] + parts[i + 1:])
        t = recal.fit_temperature(logits[train], labels[train])
        by_hand.append(cal.negative_log_likelihood(recal.apply_temperature(logits[test], t), labels[test]))
    assert scores["temperature"] == pytest.approx(np.mean(by_hand), rel=1e-12)
    assert best.name == "temperature" and scores["isotonic"] > scores["temperature"]
    np.testing.assert_allclose(best.probs(logits), recal.fit_recalibrator("temperature", logits, labels).probs(logits))


def test_a_name_refused_on_a_fold_is_left_out_and_none_left_is_an_error():
    logits, labels = labelled_logits(seed=5, t_true=1.0, n=60)  # 48 a fold: below MIN_HELD_OUT for K = 10
    best, scores = recal.select_recalibrator(logits, labels)
    assert best.name == "temperature" and list(scores) == ["temperature"]
    with pytest.raises(ValueError, match="no recalibrator could be fitted .*vector recalibration needs"):
        recal.select_recalibrator(logits, labels, names=("vector", "isotonic"))


@pytest.mark.parametrize("kwargs, message", [({"names": ()}, "at least one"), ({"names": ("platt",)}, "platt"),
                                             ({"folds": 1}, "folds must be"), ({"folds": 2.5}, "folds must be")])
def test_the_selection_validates_its_arguments(kwargs, message):
    logits, labels = labelled_logits(seed=5, t_true=1.0, n=100)
    with pytest.raises(ValueError, match=message):
        recal.select_recalibrator(logits, labels, **kwargs)
