"""Tests for explorer.measure.calibration: hand-worked cases, properties, and torchmetrics as a cross-check."""

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.special import softmax
from torchmetrics.functional.classification import multiclass_calibration_error

from calibration_data import GOOD_P, GOOD_Y, random_probs, sample_labels
from explorer.core.errors import ArgumentError
from explorer.measure import calibration as cal

ROOT = Path(__file__).resolve().parents[2]


def test_the_metrics_import_no_torch():
    """Metrics of arrays load numpy alone: a page or a script that only measures needs no torch."""
    code = "import sys, explorer.measure.calibration; print(sorted({m.split('.')[0] for m in sys.modules}))"
    loaded = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert "torch" not in eval(loaded.stdout)


def torchmetrics_ce(probs, labels, n_bins, norm):
    return multiclass_calibration_error(
        torch.as_tensor(probs), torch.as_tensor(labels), probs.shape[1], n_bins, norm
    ).item()


# Hand-worked case, K = 3, n_bins = 4, edges 0, .25, .5, .75, 1 (all exact in binary).
#   row                  y   conf  correct  bin
#   [0.90, 0.05, 0.05]   0   0.9   yes      3  [.75, 1]
#   [0.80, 0.10, 0.10]   1   0.8   no       3
#   [0.10, 0.60, 0.30]   1   0.6   yes      2  [.5, .75)
#   [0.50, 0.25, 0.25]   0   0.5   yes      2  (on the edge 0.5: goes to the bin above)
#   [0.40, 0.30, 0.30]   2   0.4   no       1  [.25, .5)
# bin 0: empty
# bin 1: n=1, conf 0.40, acc 0.0, |gap| 0.40
# bin 2: n=2, conf 0.55, acc 1.0, |gap| 0.45
# bin 3: n=2, conf 0.85, acc 0.5, |gap| 0.35
# ECE = 1/5 · 0.40 + 2/5 · 0.45 + 2/5 · 0.35 = 0.08 + 0.18 + 0.14 = 0.40;  MCE = 0.45.
# Had 0.5 gone to the bin below, bin 1 would be {0.4, 0.5} and ECE = 0.24, MCE = 0.40.
HAND_PROBS = np.array(
    [[0.9, 0.05, 0.05], [0.8, 0.1, 0.1], [0.1, 0.6, 0.3], [0.5, 0.25, 0.25], [0.4, 0.3, 0.3]]
)
HAND_LABELS = np.array([0, 1, 1, 0, 2])


def test_hand_worked_ece_mce_and_bins():
    bins = cal.reliability_bins(HAND_PROBS, HAND_LABELS, n_bins=4)
    np.testing.assert_allclose(bins.edges, [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_array_equal(bins.count, [0, 1, 2, 2])
    np.testing.assert_allclose(bins.confidence[1:], [0.4, 0.55, 0.85])
    np.testing.assert_allclose(bins.accuracy[1:], [0.0, 1.0, 0.5])
    np.testing.assert_allclose(bins.gap[1:], [-0.4, 0.45, -0.35])
    assert cal.expected_calibration_error(HAND_PROBS, HAND_LABELS, n_bins=4) == pytest.approx(0.40)
    assert cal.maximum_calibration_error(HAND_PROBS, HAND_LABELS, n_bins=4) == pytest.approx(0.45)


def test_perfectly_calibrated_is_zero():
    # K = 2, 10 bins: four at 0.75 with three right; two at 0.5 (argmax takes class 0) with one
    # right; three at 1.0, all right. Every bin's accuracy equals its confidence exactly.
    p0 = np.array([0.75] * 4 + [0.5] * 2 + [1.0] * 3)
    probs = np.stack([p0, 1 - p0], axis=1)
    labels = np.array([0, 0, 0, 1, 0, 1, 0, 0, 0])
    assert cal.expected_calibration_error(probs, labels, n_bins=10) == pytest.approx(0, abs=1e-12)
    assert cal.maximum_calibration_error(probs, labels, n_bins=10) == pytest.approx(0, abs=1e-12)


def test_confident_and_wrong():
    probs = np.tile([0.9, 0.05, 0.05], (6, 1))
    labels = np.array([1, 2, 1, 2, 1, 2])
    assert cal.expected_calibration_error(probs, labels) == pytest.approx(0.9)
    assert cal.maximum_calibration_error(probs, labels) == pytest.approx(0.9)
    assert cal.adaptive_calibration_error(probs, labels) == pytest.approx(0.9)
    assert cal.accuracy(probs, labels) == 0
    assert cal.negative_log_likelihood(probs, labels) == pytest.approx(-math.log(0.05))
    # 0.9² + (0.05 − 1)² + 0.05² = 0.81 + 0.9025 + 0.0025
    assert cal.brier_score(probs, labels) == pytest.approx(1.715)


def test_fully_confident_and_wrong_hits_the_clamp_and_brier_maximum():
    probs, labels = np.array([[1.0, 0.0, 0.0]]), np.array([1])
    assert cal.expected_calibration_error(probs, labels) == 1.0
    assert cal.negative_log_likelihood(probs, labels) == pytest.approx(-math.log(cal.NLL_EPS))
    assert cal.brier_score(probs, labels) == 2.0


def test_binned_metrics_do_not_depend_on_sample_order():
    rng = np.random.default_rng(0)
    # Confidences on a coarse grid make ties straddle the equal-mass cuts (31 samples, 4 bins).
    p0 = rng.choice([0.6, 0.7, 0.8, 0.9], size=31)
    probs = np.stack([p0, 1 - p0], axis=1)
    labels = rng.integers(0, 2, size=31)
    metrics = (
        cal.expected_calibration_error,
        cal.maximum_calibration_error,
        cal.adaptive_calibration_error,
        cal.classwise_calibration_error,
        cal.debiased_calibration_error,
        cal.METRICS["smooth_ece"],
    )
    reference = [f(probs, labels, 4) for f in metrics]
    for _ in range(5):
        perm = rng.permutation(31)
        assert [f(probs[perm], labels[perm], 4) for f in metrics] == pytest.approx(reference, abs=1e-12)


@pytest.mark.parametrize("n_bins", [1, 3, 10, 15, 20, 37])
def test_agrees_with_torchmetrics_on_random_data(n_bins):
    rng = np.random.default_rng(n_bins)
    probs = random_probs(rng, 1000, 5)
    labels = sample_labels(softmax(np.log(probs) / 1.5, axis=1), rng)  # a miscalibrated model
    for norm, ours in (("l1", cal.expected_calibration_error), ("max", cal.maximum_calibration_error)):
        assert ours(probs, labels, n_bins) == pytest.approx(
            torchmetrics_ce(probs, labels, n_bins, norm), abs=1e-6
        )


# torchmetrics bins in float32 against torch.linspace edges, which for some n_bins (15 among them)
# are one float32 ulp off b / n_bins; these n_bins have edges that are the float32 rounding of ours,
# so "exactly on an edge" means the same thing to both.
@pytest.mark.parametrize("n_bins", [2, 4, 5, 8, 10])
def test_agrees_with_torchmetrics_on_bin_edges(n_bins):
    edges = np.linspace(0, 1, n_bins + 1)
    assert np.array_equal(edges.astype(np.float32), torch.linspace(0, 1, n_bins + 1).numpy())
    rng = np.random.default_rng(n_bins)
    n, k = 400, 20
    # Interior edges >= 0.1 > 1/K, so a row [c, (1 − c)/(K − 1), ...] has a unique argmax c.
    conf = rng.choice(edges[(edges >= 0.1) & (edges < 1)], size=n)
    top = rng.integers(0, k, size=n)
    probs = np.repeat(((1 - conf) / (k - 1))[:, None], k, axis=1)
    probs[np.arange(n), top] = conf
    labels = np.where(rng.random(n) < conf, top, (top + 1) % k)
    probs = np.concatenate([probs, random_probs(rng, 200, k, scale=3.0)])
    labels = np.concatenate([labels, rng.integers(0, k, size=200)])
    for norm, ours in (("l1", cal.expected_calibration_error), ("max", cal.maximum_calibration_error)):
        assert ours(probs, labels, n_bins) == pytest.approx(
            torchmetrics_ce(probs, labels, n_bins, norm), abs=1e-6
        )


def test_confidence_one_joins_the_last_bin_and_ece_still_matches_torchmetrics():
    rng = np.random.default_rng(1)
    probs = np.concatenate([random_probs(rng, 300, 4, scale=3.0), np.eye(4)[[0, 1, 2, 3] * 5]])
    labels = np.concatenate([rng.integers(0, 4, size=300), [0, 1, 2, 3] * 5])
    bins = cal.reliability_bins(probs, labels, n_bins=10)
    assert bins.count.shape == (10,)
    assert bins.count[-1] == 20 + np.sum(probs[:300].max(axis=1) >= 0.9)
    # torchmetrics puts conf == 1.0 in an extra bin; they are all correct, so its gap is 0 and the
    # l1 sums agree (see the module docstring).
    assert cal.expected_calibration_error(probs, labels, 10) == pytest.approx(
        torchmetrics_ce(probs, labels, 10, "l1"), abs=1e-6
    )


def test_reliability_bins_counts_sum_to_n_and_empty_bins_are_nan():
    rng = np.random.default_rng(2)
    probs = random_probs(rng, 500, 10, scale=0.3)  # low confidences: the upper bins stay empty
    labels = rng.integers(0, 10, size=500)
    bins = cal.reliability_bins(torch.as_tensor(probs), torch.as_tensor(labels), n_bins=20)
    assert bins.edges.shape == (21,)
    assert bins.confidence.shape == bins.accuracy.shape == bins.count.shape == (20,)
    assert bins.count.sum() == 500
    empty = bins.count == 0
    assert empty.any() and not empty.all()
    assert np.isnan(bins.confidence[empty]).all() and np.isnan(bins.accuracy[empty]).all()
    assert np.isnan(bins.gap[empty]).all() and not np.isnan(bins.gap[~empty]).any()
    filled_conf = bins.confidence[~empty]
    assert ((bins.edges[:-1][~empty] <= filled_conf) & (filled_conf <= bins.edges[1:][~empty])).all()



def test_bin_members_hand_worked():
    # HAND_PROBS' confidences 0.9, 0.8, 0.6, 0.5, 0.4 with 4 bins: 0.5 sits on an edge and goes up.
    members = [cal.bin_members(HAND_PROBS, 4, b).tolist() for b in range(4)]
    assert members == [[], [4], [2, 3], [0, 1]]
    assert cal.bin_members(HAND_PROBS, 4, 0).dtype == np.int64


@pytest.mark.parametrize("n_bins", [1, 4, 10, 15, 50])
def test_bin_members_agree_with_reliability_bins_in_every_bin(n_bins):
    rng = np.random.default_rng(n_bins)
    edges = np.linspace(0, 1, n_bins + 1)
    # random rows, rows exactly on the edges >= 1/2 (unique argmax) and saturated rows at 1.0
    on_edge = rng.choice(edges[edges >= 0.5], size=50)
    probs = np.column_stack([on_edge, 1 - on_edge])
    probs = np.concatenate([random_probs(rng, 400, 2, scale=3.0), probs, np.eye(2)[[0, 1] * 3]])
    labels = rng.integers(0, 2, size=len(probs))
    bins = cal.reliability_bins(probs, labels, n_bins)
    members = [cal.bin_members(probs, n_bins, b) for b in range(n_bins)]
    assert [len(m) for m in members] == bins.count.tolist()
    np.testing.assert_array_equal(np.sort(np.concatenate(members)), np.arange(len(probs)))  # a partition
    for b, m in enumerate(members):
        if len(m):
            conf, correct = probs[m].max(axis=1), probs[m].argmax(axis=1) == labels[m]
            assert conf.mean() == pytest.approx(bins.confidence[b])
            assert correct.mean() == pytest.approx(bins.accuracy[b])


@pytest.mark.parametrize("b, message", [(4, r"\[0, 4\), got 4"), (-1, "got -1"), (1.0, "got 1.0"), (True, "got True")])
def test_bin_members_rejects_a_bad_bin(b, message):
    with pytest.raises(ArgumentError, match=message):
        cal.bin_members(HAND_PROBS, 4, b)
    with pytest.raises(ArgumentError, match="n_bins"):
        cal.bin_members(HAND_PROBS, 0, 0)


def test_torch_and_numpy_inputs_agree():
    rng = np.random.default_rng(3)
    probs, labels = random_probs(rng, 200, 4), rng.integers(0, 4, size=200)
    probs32, labels_t = torch.as_tensor(probs, dtype=torch.float32), torch.as_tensor(labels)
    as_torch = cal.calibration_report(probs32, labels_t)
    assert as_torch == pytest.approx(cal.calibration_report(probs, labels), abs=1e-6)


@pytest.mark.parametrize("n, n_bins", [(60, 15), (60, 4), (7, 7), (1000, 20)])
def test_equal_mass_bins_have_equal_counts(n, n_bins):
    rng = np.random.default_rng(n)
    conf = rng.random(n)
    index = cal._equal_mass_index(conf, n_bins)
    np.testing.assert_array_equal(np.bincount(index, minlength=n_bins), n // n_bins)
    # Bins hold consecutive confidences: every bin lies entirely below the next one.
    for b in range(n_bins - 1):
        assert conf[index == b].max() < conf[index == b + 1].min()


def test_adaptive_ece_hand_worked():
    # K = 2, 2 equal-mass bins of 2: {0.6 right, 0.7 wrong} and {0.8 right, 0.9 wrong}.
    # bin 0: conf 0.65, acc 0.5, gap 0.15; bin 1: conf 0.85, acc 0.5, gap 0.35.
    # AdaECE = 0.5 · 0.15 + 0.5 · 0.35 = 0.25.
    p0 = np.array([0.9, 0.6, 0.8, 0.7])
    probs = np.stack([p0, 1 - p0], axis=1)
    labels = np.array([1, 0, 0, 1])
    assert cal.adaptive_calibration_error(probs, labels, n_bins=2) == pytest.approx(0.25)


def test_adaptive_ece_keeps_tied_confidences_in_one_bin():
    # K = 2, 2 equal-mass bins of 4 samples: 0.6 right, 0.8 wrong, 0.8 right, 0.9 right. The tie at
    # 0.8 (ranks 1 and 2, middle rank 1.5) goes whole to bin floor(1.5 · 2 / 4) = 0:
    # bin 0: {0.6 ✓, 0.8 ✗, 0.8 ✓}: conf 2.2/3, acc 2/3, gap 0.2/3; bin 1: {0.9 ✓}: gap 0.1.
    # AdaECE = 3/4 · 0.2/3 + 1/4 · 0.1 = 0.075. (Split by correctness, 0.8 ✗ below the cut and 0.8 ✓
    # above it, it would read 1/2 · 0.2 + 1/2 · 0.15 = 0.175.)
    p0 = np.array([0.8, 0.9, 0.6, 0.8])
    probs = np.stack([p0, 1 - p0], axis=1)
    labels = np.array([0, 0, 0, 1])
    assert cal.adaptive_calibration_error(probs, labels, n_bins=2) == pytest.approx(0.075)
    np.testing.assert_array_equal(cal._equal_mass_index(p0, 2), [0, 1, 0, 0])


# Two samples, K = 3, n_bins = 2 (edges 0, 0.5, 1):
#   [0.7, 0.2, 0.1] y = 0;  [0.2, 0.6, 0.2] y = 2.
# class 0: p = 0.7 (y = 0 ✓) in bin 1 gap 0.3; p = 0.2 (✗) in bin 0 gap 0.2 -> ECE_0 = 0.25
# class 1: p = 0.2 (✗) in bin 0 gap 0.2; p = 0.6 (✗) in bin 1 gap 0.6        -> ECE_1 = 0.40
# class 2: p = 0.1 (✗) and 0.2 (✓) both in bin 0: conf 0.15, freq 0.5        -> ECE_2 = 0.35
# classwise ECE = (0.25 + 0.40 + 0.35) / 3 = 1/3.
# NLL = −(log 0.7 + log 0.2) / 2;  Brier = ((.09 + .04 + .01) + (.04 + .36 + .64)) / 2 = 0.59;
# accuracy = 1/2 (the second row predicts class 1).
SMALL_PROBS = np.array([[0.7, 0.2, 0.1], [0.2, 0.6, 0.2]])
SMALL_LABELS = np.array([0, 2])


def test_classwise_nll_brier_accuracy_hand_worked():
    assert cal.classwise_calibration_error(SMALL_PROBS, SMALL_LABELS, n_bins=2) == pytest.approx(1 / 3)
    assert cal.negative_log_likelihood(SMALL_PROBS, SMALL_LABELS) == pytest.approx(
        -(math.log(0.7) + math.log(0.2)) / 2
    )
    assert cal.brier_score(SMALL_PROBS, SMALL_LABELS) == pytest.approx(0.59)
    assert cal.accuracy(SMALL_PROBS, SMALL_LABELS) == 0.5


def test_nll_and_brier_match_direct_formulas():
    rng = np.random.default_rng(4)
    probs, labels = random_probs(rng, 300, 6, scale=4.0), rng.integers(0, 6, size=300)
    direct_nll = torch.nn.functional.nll_loss(torch.log(torch.as_tensor(probs)), torch.as_tensor(labels))
    assert cal.negative_log_likelihood(probs, labels) == pytest.approx(direct_nll.item())
    # Σ_k (p_k − 1[y=k])² = Σ_k p_k² − 2 p_y + 1
    direct_brier = np.mean((probs**2).sum(axis=1) - 2 * probs[np.arange(300), labels] + 1)
    brier = cal.brier_score(probs, labels)
    assert brier == pytest.approx(direct_brier)
    assert 0 <= brier <= 2


def test_report_has_every_metric():
    report = cal.calibration_report(HAND_PROBS, HAND_LABELS, n_bins=4)
    keys = {"accuracy", "ece", "mce", "adaptive_ece", "classwise_ece", "debiased_ece", "smooth_ece", "nll",
            "brier", "n"}
    assert set(report) == keys
    assert report["n"] == 5
    assert report["ece"] == pytest.approx(0.40) and report["mce"] == pytest.approx(0.45)
    assert report["brier"] == cal.brier_score(HAND_PROBS, HAND_LABELS)


# ---------------------------------------------------------------------------------------------------
# Validation at the boundary


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: cal.accuracy(np.array([0.3, 0.7]), GOOD_Y), r"2-D .*got shape \(2,\)"),
        (lambda: cal.accuracy(GOOD_P, np.array([1, 0, 1])), r"\(N,\) = \(2,\).*got \(3,\)"),
        (lambda: cal.brier_score(GOOD_P, np.array([1, 2])), r"\[0, 2\), got 2 at index 1"),
        (lambda: cal.accuracy(GOOD_P, np.array([-1, 0])), r"got -1 at index 0"),
        (lambda: cal.accuracy(GOOD_P, np.array([1.0, 0.0])), r"integers .*got dtype float64"),
        (lambda: cal.expected_calibration_error(GOOD_P, GOOD_Y, n_bins=0), r"n_bins .*>= 1, got 0"),
        (lambda: cal.adaptive_calibration_error(GOOD_P, GOOD_Y, n_bins=2.5), r"n_bins .*got 2.5"),
        (lambda: cal.reliability_bins(GOOD_P, GOOD_Y, n_bins=True), r"n_bins .*got True"),
        (lambda: cal.accuracy([[1.1, -0.1], [0.5, 0.5]], GOOD_Y), r"got 1.1 at row 0, column 0"),
        (lambda: cal.accuracy([[0.5, 0.5], [np.nan, 1.0]], GOOD_Y), r"\[0, 1\], got nan at row 1"),
        (lambda: cal.accuracy([[0.5, 0.5], [0.6, 0.6]], GOOD_Y), r"row 1 sums to 1.2"),
        (lambda: cal.accuracy(np.zeros((0, 3)), np.zeros(0, dtype=int)), r"probs is empty"),
        (lambda: cal.accuracy(GOOD_P, np.array([], dtype=int)), r"labels is empty"),
    ],
)
def test_validation_errors_name_the_bad_value(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize(
    "metric",
    [
        cal.reliability_bins,
        cal.expected_calibration_error,
        cal.maximum_calibration_error,
        cal.adaptive_calibration_error,
        cal.classwise_calibration_error,
        cal.debiased_calibration_error,
        cal.negative_log_likelihood,
        cal.brier_score,
        cal.accuracy,
        cal.calibration_report,
    ],
)
def test_every_entry_point_validates(metric):
    with pytest.raises(ValueError, match=r"\[0, 2\), got 2 at index 1"):
        metric(GOOD_P, np.array([1, 2]))


def test_ece_standard_error_is_the_spread_of_resampled_eces_and_shrinks_with_n():
    rng = np.random.default_rng(0)
    probs = random_probs(rng, 400, 5)
    labels = sample_labels(probs, rng)
    se = cal.ece_standard_error(probs, labels, n_bins=10, n_resamples=300, seed=1)
    # the same bootstrap, resample by resample through expected_calibration_error
    draw = np.random.default_rng(1)
    slow = [cal.expected_calibration_error(probs[i], labels[i], 10)
            for i in (draw.integers(400, size=400) for _ in range(300))]
    assert se == pytest.approx(np.std(slow, ddof=1), rel=1e-9)
    big = random_probs(rng, 6400, 5)
    assert cal.ece_standard_error(big, sample_labels(big, rng), n_bins=10) < se / 2  # ~1/√N: 4× fewer


@pytest.mark.parametrize("n_resamples", [1, 2.5, True])
def test_ece_standard_error_needs_two_resamples_or_more(n_resamples):
    rng = np.random.default_rng(0)
    probs = random_probs(rng, 10, 3)
    with pytest.raises(ArgumentError):
        cal.ece_standard_error(probs, sample_labels(probs, rng), n_resamples=n_resamples)


def test_bootstrap_metrics_measure_every_set_on_the_same_resamples():
    rng = np.random.default_rng(0)
    probs = random_probs(rng, 200, 4)
    labels = sample_labels(probs, rng)
    drawn = cal.bootstrap_metrics({"a": probs, "b": probs.copy()}, labels, ("accuracy", "nll"), n_resamples=30, seed=3)
    assert drawn["a"]["nll"].shape == (30,) and np.array_equal(drawn["a"]["nll"], drawn["b"]["nll"])
    first = np.random.default_rng(3).integers(200, size=200)  # resample 0, as documented
    assert drawn["a"]["accuracy"][0] == cal.accuracy(probs[first], labels[first])
    with pytest.raises(ArgumentError, match="labels"):  # every set is checked against the same labels
        cal.bootstrap_metrics({"a": probs, "b": probs[:100]}, labels)


# ---------------------------------------------------------------------------------------------------
# The vectorised bootstrap: a resample as a vector of counts gives what the metrics give on the
# resampled arrays


def resampled_directly(probs, labels, n_bins, n_resamples, seed):
    """{measure: (n_resamples,)} each METRICS function on the arrays of each resample, as documented."""
    draw = np.random.default_rng(seed)
    drawn = [draw.integers(len(labels), size=len(labels)) for _ in range(n_resamples)]
    return {k: np.array([f(probs[i], labels[i], n_bins) for i in drawn]) for k, f in cal.METRICS.items()}


def saturated_on_edges(rng):
    """Confidences exactly 1 and exactly on bin edges (n_bins = 4), with ties, K = 3."""
    conf = rng.choice([0.5, 0.75, 1.0, 0.6], size=60)
    probs = np.column_stack([conf, (1 - conf) / 2, (1 - conf) / 2])
    return probs, rng.integers(0, 3, size=60)


@pytest.mark.parametrize("case", ["random", "ties", "edges and ones", "a tie at the top", "one class",
                                  "fewer than bins"])
def test_the_vectorised_bootstrap_is_the_metrics_on_resampled_arrays(case, monkeypatch):
    rng = np.random.default_rng(7)
    n_bins = 4 if case == "edges and ones" else 15
    if case == "random":
        probs = random_probs(rng, 300, 5, scale=3.0)
        labels = sample_labels(softmax(np.log(probs) / 1.5, axis=1), rng)
    elif case == "ties":
        pool = np.array([[0.7, 0.1, 0.1, 0.1], [0.4, 0.3, 0.2, 0.1], [0.1, 0.7, 0.1, 0.1], [0.25] * 4,
                         [0.5, 0.5, 0.0, 0.0], [0.0, 0.0, 0.4, 0.6]])
        probs = pool[rng.integers(len(pool), size=300)]  # six distinct rows: ties everywhere
        labels = rng.integers(0, 4, size=300)
    elif case == "edges and ones":
        probs, labels = saturated_on_edges(rng)
    elif case == "a tie at the top":  # 40 of 60 at confidence 1: one run whose middle leaves the top bins empty
        probs = np.concatenate([random_probs(rng, 20, 3), np.eye(3)[rng.integers(3, size=40)]])
        labels = rng.integers(0, 3, size=60)
    elif case == "one class":
        probs, labels = np.ones((40, 1)), np.zeros(40, dtype=int)
    else:
        probs = random_probs(rng, 6, 3)
        labels = rng.integers(0, 3, size=6)
    # resamples in chunks of 7 (25 = 7 + 7 + 7 + 4), and classwise columns one class at a time
    monkeypatch.setattr(cal, "_CHUNK_CELLS", 7 * len(labels))
    softer = 0.8 * probs + 0.2 / probs.shape[1]
    fast = cal.bootstrap_metrics({"a": probs, "b": softer}, labels, tuple(cal.METRICS), n_bins, 25, seed=3)
    for name, p in (("a", probs), ("b", softer)):
        slow = resampled_directly(p, labels, n_bins, 25, seed=3)
        for k in cal.METRICS:
            np.testing.assert_allclose(fast[name][k], slow[k], rtol=1e-9, atol=1e-12, err_msg=f"{case} {name} {k}")


def test_resample_counts_are_the_documented_draws():
    chunks = list(cal.resample_counts(50, 9, seed=4))
    counts = np.concatenate(chunks)
    draw = np.random.default_rng(4)
    expected = np.stack([np.bincount(draw.integers(50, size=50), minlength=50) for _ in range(9)])
    np.testing.assert_array_equal(counts, expected)
    assert counts.dtype == np.float64 and (counts.sum(axis=1) == 50).all()


# ---------------------------------------------------------------------------------------------------
# Debiased ECE (Kumar et al. 2019)

try:
    import calibration as verified_calibration  # the authors' package, uncertainty-calibration
except ImportError:  # a test requirement: CI installs it, and there its absence is a failure
    if os.environ.get("CI"):
        raise
    verified_calibration = None


def two_class(conf):
    conf = np.asarray(conf, dtype=float)
    return np.column_stack([conf, 1 - conf])


def test_debiased_ece_hand_worked():
    # K = 2, 2 equal-mass bins of 3, class 0 predicted (right when the label is 0):
    # bin 0: 0.6 ✓, 0.7 ✗, 0.8 ✓: conf 0.7, acc 2/3: (1/30)² − (2/3)(1/3)/2 = 1/900 − 100/900 = −0.11
    # bin 1: 0.85 ✗, 0.9 ✗, 0.95 ✗: conf 0.9, acc 0:  0.81 − 0 = 0.81
    # CE² = (−0.11 + 0.81) / 2 = 0.35, so 0.35^½ = 0.59161; the plug-in L2 error is 0.63683.
    probs = two_class([0.8, 0.6, 0.9, 0.7, 0.95, 0.85])
    labels = np.array([0, 0, 1, 1, 1, 1])
    assert cal.debiased_calibration_error(probs, labels, n_bins=2) == pytest.approx(math.sqrt(0.35))
    # bin 1 right twice of three (0.85 ✗, 0.9 ✓, 0.95 ✓): (7/30)² − 1/9 = −0.0567; CE² < 0 and 0 is returned
    assert cal.debiased_calibration_error(probs, np.array([0, 0, 0, 1, 0, 1]), n_bins=2) == 0.0
    # a bin of one example adds nothing: N < n_bins leaves every bin with at most one
    assert cal.debiased_calibration_error(probs, labels, n_bins=15) == 0.0


@pytest.mark.skipif(verified_calibration is None, reason="uncertainty-calibration (requirements-dev.txt) is not installed")
@pytest.mark.parametrize("n, temperature", [(1500, 1.0), (1500, 1.6), (3000, 0.7), (4500, 2.5)])
def test_debiased_ece_agrees_with_the_authors_code(n, temperature):
    # Their equal-mass bins (numpy.array_split of the sorted confidences, cut half-way between
    # neighbours) are ours when n_bins divides N and no confidences tie; then the estimates are equal.
    rng = np.random.default_rng(n)
    probs = random_probs(rng, n, 10, scale=3.0)
    labels = sample_labels(softmax(np.log(probs) / temperature, axis=1), rng)
    reference = verified_calibration.lower_bound_scaling_top_ce(probs, labels, p=2, debias=True, num_bins=15)
    assert cal.debiased_calibration_error(probs, labels, n_bins=15) == pytest.approx(reference, rel=1e-9, abs=1e-12)


def test_debiased_ece_removes_the_plug_in_bias_of_a_calibrated_model():
    rng = np.random.default_rng(11)
    probs = random_probs(rng, 2000, 5, scale=2.0)
    debiased, plug_in = [], []
    for _ in range(20):
        labels = sample_labels(probs, rng)  # calibrated: true error 0
        debiased.append(cal.debiased_calibration_error(probs, labels) ** 2)
        conf, correct = probs.max(axis=1), probs.argmax(axis=1) == labels
        index = cal._equal_mass_index(conf, 15)
        count = np.bincount(index, minlength=15)
        gap = (np.bincount(index, conf, 15) - np.bincount(index, correct, 15)) / count
        plug_in.append(np.sum(count * gap**2) / 2000)
    assert np.mean(debiased) < 0.25 * np.mean(plug_in)


# ---------------------------------------------------------------------------------------------------
# Binning edge cases: confidences of exactly 0 and 1, ties, empty bins, one class, N < n_bins


def test_a_wrong_confidence_of_one_stays_in_the_last_bin_unlike_torchmetrics():
    # 0.95 right and 1.0 wrong, 10 bins. Ours (module docstring): both in [0.9, 1], conf 0.975, acc 0.5,
    # ECE = MCE = 0.475. torchmetrics 1.9 gives 1.0 a bin of its own (its issue #3510): bins {0.95} and
    # {1.0}, ECE (0.05 + 1.0) / 2 = 0.525 and MCE 1.0.
    probs, labels = two_class([0.95, 1.0]), np.array([0, 1])
    assert cal.expected_calibration_error(probs, labels, 10) == pytest.approx(0.475)
    assert cal.maximum_calibration_error(probs, labels, 10) == pytest.approx(0.475)
    assert cal.reliability_bins(probs, labels, 10).count.tolist() == [0] * 9 + [2]
    assert torchmetrics_ce(probs, labels, 10, "l1") == pytest.approx(0.525, abs=1e-6)
    assert torchmetrics_ce(probs, labels, 10, "max") == pytest.approx(1.0)


@pytest.mark.parametrize("correct", [True, False])
def test_every_prediction_at_confidence_one(correct):
    probs = np.eye(3)[[0, 1, 2, 0, 1, 2]]
    labels = np.array([0, 1, 2, 0, 1, 2]) if correct else np.array([1, 2, 0, 1, 2, 0])
    report = cal.calibration_report(probs, labels)
    error = 0.0 if correct else 1.0
    for k in ("ece", "mce", "adaptive_ece", "debiased_ece", "smooth_ece", "classwise_ece"):
        # classwise, wrong: each class has p = 1 twice with y = 0 (gap 1) and p = 0 four times with y = 1
        # twice (gap 1/2): (2 · 1 + 4 · 1/2) / 6 = 2/3
        expected = 2 / 3 if (k == "classwise_ece" and not correct) else error
        assert report[k] == pytest.approx(expected, abs=1e-12), k
    assert report["brier"] == 2 * error
    if correct:
        assert report["ece"] == torchmetrics_ce(probs, labels, 15, "l1")


def test_probabilities_of_exactly_zero_bin_in_the_first_bin():
    # K = 2, classwise, 4 bins: class 1's p = 0 (y = 1 once, 0 twice) fills bin 0: gap 1/3 over 3 of 4.
    probs = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.2, 0.8]])
    labels = np.array([0, 0, 1, 1])
    # class 0: p = 1 (three, two right: gap 1/3) in bin 3, p = 0.2 (y = 0: gap 0.2) in bin 0 -> (1 + 0.2)/4
    # class 1: p = 0 (three, y = 1 once: gap 1/3) in bin 0, p = 0.8 (y = 1: gap 0.2) in bin 3 -> (1 + 0.2)/4
    assert cal.classwise_calibration_error(probs, labels, 4) == pytest.approx(0.3)
    bins = cal.reliability_bins(two_class([0.0, 1.0]).T[::-1].T, np.array([1, 0]), 4)  # conf 1.0 twice
    assert bins.count.tolist() == [0, 0, 0, 2]


def test_one_class_and_one_label():
    # K = 1: every probability is 1 and right; nothing to calibrate
    report = cal.calibration_report(np.ones((5, 1)), np.zeros(5, dtype=int))
    assert report == {"accuracy": 1.0, "ece": 0.0, "mce": 0.0, "adaptive_ece": 0.0, "classwise_ece": 0.0,
                      "debiased_ece": 0.0, "smooth_ece": pytest.approx(0, abs=1e-12), "nll": 0.0, "brier": 0.0,
                      "n": 5}
    # K = 3, every label the same class: top-label ECE as torchmetrics has it
    rng = np.random.default_rng(5)
    probs, labels = random_probs(rng, 200, 3, scale=2.0), np.zeros(200, dtype=int)
    for n_bins in (5, 15):
        assert cal.expected_calibration_error(probs, labels, n_bins) == pytest.approx(
            torchmetrics_ce(probs, labels, n_bins, "l1"), abs=1e-6)


def test_fewer_examples_than_equal_mass_bins():
    # N = 3 < 15 bins: ranks 0, 1, 2 go to bins 0, 5, 10, one example each, twelve bins empty.
    probs, labels = two_class([0.9, 0.6, 0.7]), np.array([0, 1, 0])
    index = cal._equal_mass_index(probs.max(axis=1), 15)
    assert sorted(index.tolist()) == [0, 5, 10]
    # each bin is one example: AdaECE = mean |correct − conf| = (0.1 + 0.6 + 0.3) / 3
    assert cal.adaptive_calibration_error(probs, labels, 15) == pytest.approx(1 / 3)
    assert cal.debiased_calibration_error(probs, labels, 15) == 0.0
