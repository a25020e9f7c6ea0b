"""Tests for explorer.measure.selective: which examples a model answers at a coverage, the risk-coverage
curve, AURC and E-AURC with their intervals."""

import numpy as np
import pytest

from explorer.core.errors import ArgumentError
from explorer.measure.calibration import resample_counts
from explorer.measure.selective import (_harmonic, _resampled_areas, answer_order, answered, aurc, aurc_difference,
                                        aurc_intervals, e_aurc, oracle_aurc, risk_coverage, selective_accuracy,
                                        selective_risk)


def test_answers_the_most_confident_share():
    confidence = np.array([0.2, 0.9, 0.5, 0.7, 0.6, 0.95, 0.3, 0.8, 0.4, 0.1])
    assert answered(confidence, 0.9).tolist() == (confidence > 0.1).tolist()
    assert np.flatnonzero(answered(confidence, 0.3)).tolist() == [1, 5, 7]
    assert answered(confidence, 0.25).sum() == 3  # ⌈2.5⌉: a fraction of an example answers
    assert answered(confidence, 1.0).all() and not answered(confidence, 0.0).any()


def test_ties_break_by_index():
    confidence = np.ones(5)
    assert answered(confidence, 0.4).tolist() == [True, True, False, False, False]


@pytest.mark.parametrize("coverage", [-0.1, 1.5])
def test_rejects_coverage_outside_unit_interval(coverage):
    with pytest.raises(ArgumentError, match="coverage"):
        answered(np.ones(3), coverage)


def test_rejects_nan():
    with pytest.raises(ArgumentError, match="NaN"):
        answered(np.array([0.5, np.nan]), 0.5)


# --- the risk-coverage curve, AURC and E-AURC

# four predictions, most confident first: right, wrong, right, wrong
CONF = np.array([0.6, 0.9, 0.7, 0.8])
RIGHT = np.array([0, 1, 1, 0], dtype=bool)


def _authors_rc_curve(residuals, confidence):
    """The loop of Geifman et al.'s ``RC_curve`` (ICLR 2019 code), restated: returns (AURC, E-AURC)."""
    m = len(residuals)
    ascending = np.argsort(confidence)
    errors = residuals.sum()
    risks = [errors / m]
    for i in range(m - 1):
        errors -= residuals[ascending[i]]
        risks.append(errors / (m - i))
    r = residuals.mean()
    return np.mean(risks), np.mean(risks) - (r + (1 - r) * np.log(1 - r))


def test_risk_coverage_by_hand():
    curve = risk_coverage(CONF, RIGHT)
    assert curve.coverage.tolist() == [0.25, 0.5, 0.75, 1.0]
    np.testing.assert_allclose(curve.risk, [0, 1 / 2, 1 / 3, 2 / 4])
    for k in range(1, 5):  # point k answers what answered() answers at k/N
        assert selective_risk(CONF, RIGHT, k / 4) == pytest.approx(curve.risk[k - 1])
    assert selective_accuracy(CONF, RIGHT, 0.5) == pytest.approx(0.5)


def test_aurc_and_e_aurc_by_hand():
    assert aurc(CONF, RIGHT) == pytest.approx((0 + 1 / 2 + 1 / 3 + 1 / 2) / 4)  # 1/3
    assert oracle_aurc(4, 2) == pytest.approx((0 + 0 + 1 / 3 + 2 / 4) / 4)  # 5/24
    assert e_aurc(CONF, RIGHT) == pytest.approx(1 / 3 - 5 / 24)
    # the authors' code on the same case: risk over m − i where m − i − 1 examples remain, and the oracle's
    # continuous limit: (2/4 + 1/4 + 1/3 + 0/2)/4 = 13/48, and 13/48 − (1/2 + 1/2 ln 1/2)
    theirs, their_excess = _authors_rc_curve((~RIGHT).astype(float), CONF)
    assert theirs == pytest.approx(13 / 48)
    assert their_excess == pytest.approx(13 / 48 - 0.5 - 0.5 * np.log(0.5))


def test_agrees_with_the_authors_code_at_large_n():
    rng = np.random.default_rng(0)
    n = 20_000
    confidence = rng.random(n)
    right = rng.random(n) < 0.5 + 0.45 * confidence  # informative: errors at low confidence
    theirs, their_excess = _authors_rc_curve((~right).astype(float), confidence)
    assert abs(aurc(confidence, right) - theirs) < np.log(n) / n
    assert abs(e_aurc(confidence, right) - their_excess) < 2 * np.log(n) / n
    r = 1 - right.mean()
    assert oracle_aurc(n, int((~right).sum())) == pytest.approx(r + (1 - r) * np.log(1 - r), abs=np.log(n) / n)


def test_oracle_and_worst_rankings():
    right = np.array([1, 1, 1, 0, 0], dtype=bool)
    assert e_aurc(np.array([5, 4, 3, 2, 1.0]), right) == pytest.approx(0)
    assert e_aurc(np.array([1, 2, 3, 4, 5.0]), right) > 0.3
    assert aurc(np.ones(5), np.ones(5, dtype=bool)) == 0
    assert oracle_aurc(5, 0) == 0 and oracle_aurc(5, 5) == 1


def test_ties_follow_answer_order():
    assert answer_order(np.ones(3)).tolist() == [0, 1, 2]
    np.testing.assert_allclose(risk_coverage(np.ones(2), [0, 1]).risk, [1, 0.5])


def test_resampled_areas_equal_the_areas_of_repeated_examples():
    rng = np.random.default_rng(1)
    n = 30
    confidence = np.round(rng.random(n), 1)  # ties on purpose
    right = rng.random(n) < 0.7
    errors = (~right).astype(float)
    counts = next(resample_counts(n, 5, seed=3))
    area, excess = _resampled_areas(errors, answer_order(confidence), counts, _harmonic(n))
    for r, w in enumerate(counts.astype(int)):
        assert area[r] == pytest.approx(aurc(np.repeat(confidence, w), np.repeat(right, w)))
        assert excess[r] == pytest.approx(e_aurc(np.repeat(confidence, w), np.repeat(right, w)))


def test_intervals_hold_the_observed_value_and_a_model_ties_itself():
    rng = np.random.default_rng(2)
    confidence = rng.random(500)
    right = rng.random(500) < confidence
    found = aurc_intervals(confidence, right, n_resamples=200)
    for name in ("aurc", "e_aurc"):
        assert found[name].low <= found[name].mean <= found[name].high
        assert found[name].level == 0.95
    assert found["aurc"].mean == pytest.approx(aurc(confidence, right))
    same = aurc_difference(confidence, right, confidence, right, n_resamples=50)
    assert same["aurc"] == (0.0, 0.0, 0.0, 0.95)
    shuffled = aurc_difference(confidence, right, rng.random(500), right, n_resamples=200)
    assert shuffled["e_aurc"].high < 0  # an informative ranking beats a random one, paired


def test_rejects_bad_inputs():
    with pytest.raises(ArgumentError, match="correct"):
        aurc(np.ones(3), [0, 2, 1])
    with pytest.raises(ArgumentError, match="coverage"):
        selective_risk(np.ones(3), [1, 1, 0], 0.0)
    with pytest.raises(ArgumentError, match="same examples"):
        aurc_difference(np.ones(3), [1, 1, 0], np.ones(4), [1, 1, 0, 0])


def test_risk_band_brackets_the_curve_and_matches_repeated_examples():
    from explorer.measure.selective import risk_coverage_band

    rng = np.random.default_rng(4)
    confidence = np.round(rng.random(400), 2)
    right = rng.random(400) < confidence
    grid = np.array([0.1, 0.5, 0.9, 1.0])
    low, high = risk_coverage_band(confidence, right, grid, n_resamples=300)
    risk = np.array([selective_risk(confidence, right, c) for c in grid])
    assert (low <= risk + 1e-12).all() and (risk <= high + 1e-12).all() and (high > low).all()
    # one resample of two: the band's ends are the risks of the two resampled arrays, computed directly
    low, high = risk_coverage_band(confidence, right, grid, n_resamples=2, seed=5, level=0.5)
    direct = []
    for w in resample_counts(400, 2, seed=5).__next__().astype(int):
        direct.append([selective_risk(np.repeat(confidence, w), np.repeat(right, w), c) for c in grid])
    np.testing.assert_allclose(np.quantile(direct, [0.25, 0.75], axis=0), [low, high])
