"""Tests for explorer.measure.local_calibration: the local miscalibration field and the confidence gap
to the Gaussians."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from explorer.core.errors import ArgumentError
from explorer.core.implied import fit_implied
from explorer.core.models import GaussianHead, LinearHead
from explorer.measure.local_calibration import (NEIGHBOURS, NULL_DRAWS, SIGNIFICANCE_LEVEL, SIGNIFICANCE_WORDS,
                                                gaussian_confidence_gap, local_miscalibration)

ROOT = Path(__file__).resolve().parents[2]


def test_hand_worked_three_points():
    # 1-D latents 0, 1, 10 and k = 2: 0 and 1 are each other's neighbour, 10's nearest other is 1.
    z = np.array([[0.0], [1.0], [10.0]])
    confidence = np.array([0.9, 0.5, 0.8])
    correct = np.array([False, True, True])  # confidence − correct: 0.9, −0.5, −0.2
    local = local_miscalibration(z, confidence, correct, neighbours=2)
    np.testing.assert_allclose(local.gap, [0.2, 0.2, -0.35])
    # as if calibrated there: each point's variance c(1 − c) is 0.09, 0.25, 0.16
    np.testing.assert_allclose(local.se, [math.sqrt(0.09 + 0.25) / 2, math.sqrt(0.09 + 0.25) / 2,
                                          math.sqrt(0.16 + 0.25) / 2])
    np.testing.assert_allclose(local.effective_n, 2.0)
    assert local.bandwidth == 1.0 and local.references == 3  # median of the distances 1, 1, 9
    assert local.significant.tolist() == [False, False, False]
    # two neighbours: the null's gaps are (Σc − right answers) / 2 with 0, 1 or 2 right, never beyond them
    low, high = (0.9 + 0.5 - 2) / 2, (0.9 + 0.5) / 2
    assert (local.null_low[:2] >= low - 1e-12).all() and (local.null_high[:2] <= high + 1e-12).all()
    assert (local.null_low <= local.gap).all() and (local.gap <= local.null_high).all()
    fixed = local_miscalibration(z, confidence, correct, bandwidth=1.5)  # 10 has no neighbour within 1.5
    np.testing.assert_allclose(fixed.gap, [0.2, 0.2, -0.2])
    np.testing.assert_allclose(fixed.effective_n, [2.0, 2.0, 1.0])
    assert "given" in fixed.rule


def _half_space_field(n=4000, d=4, seed=0):
    """Confidence 0.8 everywhere; right 60 % of the time where z₁ > 0 (over-confident by 0.2), 80 % where
    z₁ < 0 (calibrated)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, d))
    confidence = np.full(n, 0.8)
    correct = rng.random(n) < np.where(z[:, 0] > 0, 0.6, 0.8)
    return z, confidence, correct


@pytest.mark.parametrize("d", [2, 16])
def test_recovers_a_known_field(d):
    z, confidence, correct = _half_space_field(d=d)
    local = local_miscalibration(z, confidence, correct)
    over, calibrated = z[:, 0] > 1.0, z[:, 0] < -1.0  # away from the boundary the kernel blurs
    assert np.median(local.gap[over]) == pytest.approx(0.2, abs=0.05)
    assert np.median(local.gap[calibrated]) == pytest.approx(0.0, abs=0.05)
    assert local.significant[over].mean() > 0.9
    # Neighbouring estimates share most of their neighbours, so a region's share of false alarms
    # varies far more than the 5 % a single point's test has.
    assert local.significant[calibrated].mean() < 0.3
    assert (local.effective_n >= NEIGHBOURS).all() and np.median(local.effective_n) == NEIGHBOURS  # ties all count
    assert f"{NEIGHBOURS} nearest of 4,000 latents in the {d}-dimensional latent space" in local.rule


def test_the_rule_follows_the_latents_scale():
    z, confidence, correct = _half_space_field(n=800)
    local, scaled = (local_miscalibration(c * z, confidence, correct) for c in (1.0, 100.0))
    assert scaled.bandwidth == pytest.approx(100 * local.bandwidth)
    np.testing.assert_allclose(scaled.gap, local.gap, atol=1e-9)


def test_a_reference_sample_agrees_with_all_references():
    z, confidence, correct = _half_space_field()
    whole = local_miscalibration(z, confidence, correct)
    sampled = local_miscalibration(z, confidence, correct, max_references=1000, seed=3)
    assert sampled.references == 1000 and "1,000 are a random sample of the 4,000" in sampled.rule
    assert sampled.gap.shape == sampled.se.shape == sampled.effective_n.shape == (4000,)
    assert np.median(np.abs(sampled.gap - whole.gap)) < 0.05


def test_a_calibrated_model_is_mostly_not_significant():
    rng = np.random.default_rng(1)
    z = rng.normal(size=(3000, 2))
    confidence = rng.uniform(0.5, 1.0, 3000)
    local = local_miscalibration(z, confidence, rng.random(3000) < confidence)
    assert local.significant.mean() < 0.2
    assert np.isfinite(local.gap).all() and (local.se > 0).all()


@pytest.mark.parametrize("low", [0.5, 0.98])
def test_a_calibrated_model_is_flagged_at_most_the_level_in_each_direction(low):
    # correct ~ Bernoulli(confidence): the gap is a mean of skewed terms (at confidence 0.99, −0.01 or
    # +0.99), which |gap| > 2 se flags as over-confident about 5 % of the time at U(0.98, 1) and as
    # under-confident never. A region's flags are shared by its neighbours, so one field's share varies
    # several-fold: the mean over fields is what the level bounds.
    over, under = [], []
    for seed in range(8):
        rng = np.random.default_rng(100 + seed)
        z = rng.normal(size=(2000, 16))
        confidence = rng.uniform(low, 1.0, 2000)
        local = local_miscalibration(z, confidence, rng.random(2000) < confidence, seed=seed)
        over.append((local.significant & (local.gap > 0)).mean())
        under.append((local.significant & (local.gap < 0)).mean())
    tail = SIGNIFICANCE_LEVEL / 2
    assert 0.2 * tail < np.mean(over) < 1.5 * tail
    if low == 0.5:
        assert 0.4 * tail < np.mean(under) < 1.5 * tail
    else:
        # Nearly every answer right: "all right" is most of the null, so no count is below its lower tail
        # and no test at this level can call such a neighbourhood under-confident.
        assert np.mean(under) == 0.0


def test_the_null_is_seeded_and_simulated_per_point():
    z, confidence, correct = _half_space_field(n=1000)
    first, again, other = (local_miscalibration(z, confidence, correct, seed=s) for s in (0, 0, 1))
    np.testing.assert_array_equal(first.null_low, again.null_low)
    assert not np.array_equal(first.null_high, other.null_high)
    # the central 95 % of a mean of 100 terms of ±(0.8, 0.2) spread: about ±1.96 · 0.04 around 0
    assert np.median(first.null_high) == pytest.approx(1.96 * 0.04, abs=0.02)
    assert np.median(first.null_low) == pytest.approx(-1.96 * 0.04, abs=0.02)
    assert NULL_DRAWS >= 100


def test_the_readme_states_the_significance_rule_in_the_modules_words():
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert SIGNIFICANCE_WORDS in readme


@pytest.mark.parametrize("kwargs, message", [
    (dict(confidence=np.array([0.5, 1.5, 0.2])), "confidence must lie in"),
    (dict(correct=np.array([1, 0])), "correct must be"),
    (dict(correct=np.array([2, 0, 1])), "correct must be"),
    (dict(bandwidth=0.0), "bandwidth must be"),
    (dict(latents=np.array([[0.0], [np.nan], [1.0]])), "latents must be finite"),
])
def test_rejects_bad_arguments(kwargs, message):
    arguments = dict(latents=np.array([[0.0], [1.0], [2.0]]), confidence=np.array([0.5, 0.6, 0.7]),
                     correct=np.array([True, False, True])) | kwargs
    with pytest.raises(ArgumentError, match=message):
        local_miscalibration(**arguments)


def test_needs_two_latents_that_vary():
    with pytest.raises(ArgumentError, match="at least 2"):
        local_miscalibration(np.zeros((1, 2)), np.array([0.5]), np.array([True]))
    with pytest.raises(ArgumentError, match="do not vary"):
        local_miscalibration(np.zeros((4, 2)), np.full(4, 0.5), np.ones(4, dtype=bool), neighbours=2)


def test_gap_is_zero_when_the_logits_are_the_gaussians_log_joint():
    torch.manual_seed(0)
    head = GaussianHead(3, 4).eval()
    with torch.no_grad():
        head.set_class_prior(torch.tensor([10, 20, 30, 40]))
        z = 2 * torch.randn(500, 3)
        probs = torch.softmax(head(z), 1).double().numpy()
    gap = gaussian_confidence_gap(probs, z.numpy(), head)
    assert gap.shape == (500,)
    np.testing.assert_allclose(gap, 0.0, atol=1e-5)  # float32 logits


def test_gap_of_a_linear_layer_is_zero_under_its_implied_prior_and_not_under_the_frequencies():
    torch.manual_seed(1)
    layer = LinearHead(2, 3)
    with torch.no_grad():
        layer.linear.weight.copy_(torch.tensor([[2.0, 0.0], [0.0, 2.0], [-2.0, -2.0]]))
        layer.linear.bias.copy_(torch.tensor([1.5, 0.0, -1.5]))
        y = torch.randint(0, 3, (600,))
        z = layer.linear.weight[y] + torch.randn(600, 2)
        probs = torch.softmax(layer(z), 1).double().numpy()
    member = fit_implied(layer, z.numpy(), y.numpy(), "diagonal")
    # Any member of the family reproduces the layer's predictions: its implied prior absorbs the bias.
    np.testing.assert_allclose(gaussian_confidence_gap(probs, z.numpy(), member), 0.0, atol=1e-6)
    uniform = np.log(np.full(3, 1 / 3))
    gap = gaussian_confidence_gap(probs, z.numpy(), member, log_prior=uniform)
    # Hand-computed: Bayes' rule over the member's Gaussians with equal priors.
    log_joint = member.log_prob(z.double()).numpy() + uniform
    expected = probs.max(1) - np.exp(log_joint - np.logaddexp.reduce(log_joint, axis=1, keepdims=True)).max(1)
    np.testing.assert_allclose(gap, expected, atol=1e-12)
    assert np.abs(gap).max() > 0.05  # the bias of 1.5 is not what equal priors give


def test_gap_rejects_mismatched_shapes():
    head = GaussianHead(2, 3).eval()
    with pytest.raises(ArgumentError, match="latents"):
        gaussian_confidence_gap(np.full((4, 3), 1 / 3), np.zeros((5, 2)), head)
    with pytest.raises(ArgumentError, match="log_prior"):
        gaussian_confidence_gap(np.full((4, 3), 1 / 3), np.zeros((4, 2)), head, log_prior=np.zeros(2))
