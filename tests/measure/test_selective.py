"""Tests for explorer.measure.selective: which examples a model answers at a coverage, the risk-coverage
curve, AURC and E-AURC with their intervals."""

import numpy as np
import pytest

from explorer.core.errors import ArgumentError
from explorer.measure.calibration import resample_counts
from explorer.measure.selective import (_harmonic, _resampled_areas, _tie_starts, answer_order, answered, aurc,
                                        aurc_comparison, aurc_difference, aurc_intervals, e_aurc, oracle_aurc,
                                        risk_coverage, selective_accuracy, selective_risk)


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


def test_ties_answer_by_index_but_the_curve_averages_them():
    assert answer_order(np.ones(3)).tolist() == [0, 1, 2]
    assert selective_risk(np.ones(2), [0, 1], 0.5) == 1  # the fixed set answered() picks: example 0
    np.testing.assert_allclose(risk_coverage(np.ones(2), [0, 1]).risk, [0.5, 0.5])
    np.testing.assert_allclose(risk_coverage(np.ones(2), [1, 0]).risk, [0.5, 0.5])


def test_resampled_areas_equal_the_areas_of_repeated_examples():
    rng = np.random.default_rng(1)
    n = 30
    confidence = np.round(rng.random(n), 1)  # ties on purpose
    right = rng.random(n) < 0.7
    errors = (~right).astype(float)
    counts = next(resample_counts(n, 5, seed=3))
    order = answer_order(confidence)
    area, excess = _resampled_areas(errors, order, counts, _harmonic(n), _tie_starts(confidence, order))
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
        risk = risk_coverage(np.repeat(confidence, w), np.repeat(right, w)).risk  # ties counted as the band does
        direct.append(risk[np.ceil(grid * 400).astype(int) - 1])
    np.testing.assert_allclose(np.quantile(direct, [0.25, 0.75], axis=0), [low, high])


# --- ties: the curve and its areas are the expectation over random tie-breaks, whatever the order

# six examples, two tie groups: confidence 0.9 holds one error among three, 0.5 two errors among three
TIED_CONF = np.array([0.9, 0.9, 0.9, 0.5, 0.5, 0.5])
TIED_RIGHT = np.array([1, 1, 0, 1, 0, 0], dtype=bool)


def test_tied_curve_counts_each_groups_mean_error_by_hand():
    # each position of the first group holds 1/3 error on average, of the second 2/3:
    # cumulative errors 1/3, 2/3, 1, 5/3, 7/3, 3 over k = 1…6
    np.testing.assert_allclose(risk_coverage(TIED_CONF, TIED_RIGHT).risk, [1 / 3, 1 / 3, 1 / 3, 5 / 12, 7 / 15, 1 / 2])
    assert aurc(TIED_CONF, TIED_RIGHT) == pytest.approx((1 / 3 * 3 + 5 / 12 + 7 / 15 + 1 / 2) / 6)


def test_tied_aurc_is_the_same_in_every_order_and_the_mean_over_random_tie_breaks():
    from itertools import permutations

    expected = aurc(TIED_CONF, TIED_RIGHT)
    broken = []  # AURC of every strict order within the groups: a tie-break, written as distinct confidences
    for first in set(permutations(TIED_RIGHT[:3])):
        for second in set(permutations(TIED_RIGHT[3:])):
            right = np.array(first + second)
            broken.append(aurc(np.arange(6, 0, -1.0), right))
            # the same examples shuffled into that order give the same tied AURC
            assert aurc(TIED_CONF, right) == pytest.approx(expected)
    assert len(broken) == 9 and min(broken) < expected < max(broken)
    assert expected == pytest.approx(np.mean(broken))  # every order of a group is equally likely: 3 × 3 orders
    assert e_aurc(TIED_CONF, TIED_RIGHT[[2, 0, 1, 5, 3, 4]]) == pytest.approx(e_aurc(TIED_CONF, TIED_RIGHT))


def test_tied_bootstrap_does_not_depend_on_the_order_of_the_examples():
    rng = np.random.default_rng(6)
    confidence = np.round(rng.random(300), 1)
    right = rng.random(300) < confidence
    correct_first = np.lexsort((~right, -confidence))  # within each tie group, right answers first
    errors_first = np.lexsort((right, -confidence))
    assert aurc(confidence[correct_first], right[correct_first]) == pytest.approx(
        aurc(confidence[errors_first], right[errors_first]))
    # the same resamples of the same examples, listed in the two orders: each row's counts follow the examples
    counts = next(resample_counts(300, 4, seed=7))
    areas = []
    for o in (correct_first, errors_first):
        order = answer_order(confidence[o])
        areas.append(_resampled_areas((~right[o]).astype(float), order, counts[:, o], _harmonic(300),
                                      _tie_starts(confidence[o], order)))
    np.testing.assert_allclose(areas[0], areas[1])


def test_comparison_is_both_intervals_and_the_difference_from_one_bootstrap():
    rng = np.random.default_rng(8)
    confidence_a, confidence_b = rng.random(400), np.round(rng.random(400), 1)
    right = rng.random(400) < confidence_a
    found_a, found_b, difference = aurc_comparison(confidence_a, right, confidence_b, right, n_resamples=100)
    assert found_a == aurc_intervals(confidence_a, right, n_resamples=100)
    assert found_b == aurc_intervals(confidence_b, right, n_resamples=100)
    assert difference == aurc_difference(confidence_a, right, confidence_b, right, n_resamples=100)
    assert difference["aurc"].mean == pytest.approx(aurc(confidence_a, right) - aurc(confidence_b, right))
