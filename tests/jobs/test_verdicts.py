"""VC against softmax (explorer/jobs/verdicts.py): the comparisons, the paired rule that judges them,
its false-call rate on null data, the A/A comparisons and the tally."""

import math

import numpy as np
import pytest

from explorer.jobs.results import AA_ARM, BOOTSTRAP, Results
from explorer.jobs.verdicts import AA, NO_VERDICT, VERDICTS, clean_pairs, compare, comparisons, judged, tally


def rows(**values):
    """Rows of one suite: values[method] = per-seed accuracies (clean)."""
    return [{"suite": "s d=16", "dataset": "s", "d": 16, "method": m, "seed": i, "condition": "clean",
             "measure": "accuracy", "value": v} for m, vs in values.items() for i, v in enumerate(vs)]


@pytest.mark.parametrize("a, b, higher, verdict", [
    ([0.90, 0.91, 0.92], [0.80, 0.81, 0.82], True, "wins"),
    ([0.90, 0.91, 0.92], [0.80, 0.81, 0.82], False, "loses"),
    ([0.90, 0.95, 0.85], [0.89, 0.94, 0.84], True, "wins"),  # 0.01 apart at every seed: paired, no spread
    ([0.90, 0.95, 0.85], [0.91, 0.93, 0.85], True, "ties"),  # differences -0.01, +0.02, 0
])
def test_compare_pairs_the_seeds(a, b, higher, verdict):
    assert compare(np.array(a), np.array(b), higher).verdict == verdict


A, B = np.array([0.93, 0.95, 0.97]), np.array([0.92, 0.935, 0.95])  # differences 0.01, 0.015, 0.02


def test_the_interval_is_the_t_interval_of_the_per_seed_differences():
    judged_ = compare(A, B, True)
    half = 4.3027 * 0.005 / math.sqrt(3)  # t(0.975, 2) · s / √n, s = 0.005
    assert judged_.interval.mean == pytest.approx(0.015)
    assert judged_.interval.low == pytest.approx(0.015 - half, abs=1e-6) and judged_.verdict == "wins"


def test_a_method_against_itself_ties_and_what_cannot_be_paired_has_no_verdict():
    a = np.array([0.90, 0.95, 0.85])
    assert compare(a, a.copy(), True).verdict == compare(a, a.copy(), False).verdict == "ties"
    assert compare(a, np.array([]), True) == (NO_VERDICT, None)
    assert compare(a, a[:2], True) == (NO_VERDICT, None)  # not one value a seed on both sides
    assert compare(np.array([0.9]), np.array([0.1]), True) == (NO_VERDICT, None)  # one seed: no interval


def test_test_variances_can_turn_a_call_into_a_tie():
    assert compare(A, B, True).verdict == "wins"
    assert compare(A, B, True, test_variances=np.full(3, 0.02 ** 2)).verdict == "ties"


def old_rule(a, b):
    """The rule this one replaced: a call where |mean_a − mean_b| > √(std_a² + std_b²)."""
    return abs(a.mean() - b.mean()) > math.sqrt(a.var(ddof=1) + b.var(ddof=1))


def false_call_rate(rule, seeds=3, repetitions=20_000, seed=0, shared_test_error=0.0):
    """How often ``rule(a, b)`` calls a difference where there is none: a and b are normal per-seed
    values of the same law; with ``shared_test_error``, one draw of test-split luck (its standard
    deviation) is added to every seed's difference, as one test split measured for every seed does."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(repetitions, seeds))
    b = rng.normal(size=(repetitions, seeds))
    a += rng.normal(scale=shared_test_error, size=(repetitions, 1))
    return float(np.mean([rule(x, y) for x, y in zip(a, b)]))


def test_the_rule_calls_a_null_difference_at_most_at_its_level_and_the_old_rule_did_not():
    new = false_call_rate(lambda a, b: compare(a, b, True).verdict != "ties")
    assert new <= 0.05 + 0.005  # 20 000 repetitions: the rate's standard error is 0.0015
    old = false_call_rate(old_rule)
    assert old == pytest.approx(0.157, abs=0.01) and old > 0.05 + 0.005  # this test fails on the old rule


def test_five_seeds_keep_the_level():
    assert false_call_rate(lambda a, b: compare(a, b, True).verdict != "ties", seeds=5, repetitions=10_000) <= 0.06


def test_test_variances_keep_the_level_when_every_seed_shares_one_test_split():
    """Luck of the test split, shared by all seeds, is invisible in their spread: over seeds alone the
    rule over-calls; widened by each seed's test variance (here known, 2² = 4), it keeps its level."""
    seeds_only = false_call_rate(lambda a, b: compare(a, b, True).verdict != "ties", shared_test_error=2.0,
                                 repetitions=10_000)
    widened = false_call_rate(lambda a, b: compare(a, b, True, test_variances=np.full(3, 4.0)).verdict != "ties",
                              shared_test_error=2.0, repetitions=10_000)
    assert seeds_only > 0.2 and widened <= 0.05


def test_each_comparison_is_judged_by_the_rule_and_tallied():
    results = Results({"rows": rows(softmax=[0.90, 0.92], vc=[0.95, 0.97])
                       + [{**r, "condition": "pgd10:0.1", "measure": "robust_accuracy"}
                          for r in rows(softmax=[0.5, 0.5], vc=[0.4, 0.41])]})
    verdicts = [v.verdict for _, v in judged(results, "s d=16")]
    assert [c.what for c, _ in judged(results, "s d=16")] == [c.what for c in comparisons(results, "s d=16")]
    assert verdicts[0] == "wins" and verdicts[-1] == "loses" and verdicts[1] == NO_VERDICT  # ECE not measured
    assert tally(verdicts) == {"wins": 1, "ties": 0, "loses": 1} and tuple(tally(verdicts)) == VERDICTS


def test_stored_bootstrap_variances_reach_the_clean_comparisons():
    raw = rows(softmax=[0.90, 0.92, 0.91], vc=[0.95, 0.97, 0.96])
    raw += [{**r, "condition": f"{BOOTSTRAP}softmax"} for r in rows(vc=[0.1 ** 2] * 3)]
    claim, verdict = judged(Results({"rows": raw}), "s d=16")[0]
    assert claim.what == "accuracy (clean)" and np.allclose(claim.test_variances, 0.01)
    assert verdict.verdict == "ties"  # +0.05 ± 4.30 · 0.1: the test split alone could give it
    assert judged(Results({"rows": rows(softmax=[0.90, 0.92, 0.91], vc=[0.95, 0.97, 0.96])}),
                  "s d=16")[0][1].verdict == "wins"


def test_the_aa_comparisons_are_the_same_claims_with_softmax_in_vcs_place():
    raw = rows(softmax=[0.90, 0.92], vc=[0.95, 0.97], **{AA_ARM: [0.91, 0.915]})
    raw += [{**r, "condition": "ood:x", "measure": m}
            for r in rows(softmax=[0.9, 0.9], vc=[0.5, 0.5], **{AA_ARM: [0.8, 0.8]})
            for m in ("auroc_max_softmax", "auroc_log_density")]
    results = Results({"rows": raw})
    vc, aa = comparisons(results, "s d=16"), comparisons(results, "s d=16", AA)
    # A/A leaves out softmax' against temperature-scaled softmax (ECE, NLL): two methods, no null
    assert len(vc) == len(aa) + 2 and aa[0].what == "accuracy (clean)"
    assert list(aa[0].a) == [0.91, 0.915] and list(aa[0].b) == [0.90, 0.92]
    assert "VC against temperature-scaled softmax" in vc[5].what
    assert not any("softmax' against" in c.what for c in aa)
    assert vc[-1].what.endswith("VC's log p(z) vs softmax's max probability") and list(vc[-1].a) == [0.5, 0.5]
    assert aa[-1].what.endswith("max probability") and list(aa[-1].a) == [0.8, 0.8]  # the same score both sides


def test_clean_pairs_name_the_recalibrated_rows():
    assert [(a, b) for a, b, _ in clean_pairs(AA)] == [
        (AA_ARM, "softmax"), (f"{AA_ARM}+ts", "softmax+ts"), (f"{AA_ARM}+best", "softmax+best")]
    assert [ks for *_, ks in clean_pairs()][3:] == [("ece", "nll", "brier"), ("ece", "adaptive_ece", "nll", "brier")]


def _calibration(method, measure, values):
    return [{**r, "measure": measure} for r in rows(**{method: values})]


def test_the_comparisons_against_the_best_recalibrator_are_judged_where_measured_and_left_out_where_not():
    """VC against best-recalibrated softmax and both best-recalibrated, for VC and for the A/A check alike,
    with their stored bootstrap variances; a results file without ``+best`` rows has none of them."""
    old = rows(softmax=[0.90, 0.92, 0.91], vc=[0.95, 0.97, 0.96], **{AA_ARM: [0.91, 0.92, 0.90]})
    new = old[:]
    for method, values in (("softmax+best", [0.030, 0.031, 0.032]), ("vc+best", [0.010, 0.012, 0.011]),
                           ("vc", [0.020, 0.021, 0.022]), (f"{AA_ARM}+best", [0.031, 0.030, 0.032])):
        new += _calibration(method, "nll", values)
    new += [{**r, "condition": f"{BOOTSTRAP}softmax+best"} for r in _calibration("vc", "nll", [1e-6] * 3)]
    before, after = comparisons(Results({"rows": old}), "s d=16"), comparisons(Results({"rows": new}), "s d=16")
    assert not any("best" in c.what for c in before)
    added = {c.what: c for c in after if "best" in c.what}
    assert list(added) == [
        "ECE (clean), VC against best-recalibrated softmax", "NLL (clean), VC against best-recalibrated softmax",
        "Brier (clean), VC against best-recalibrated softmax", "ECE (clean), both best-recalibrated",
        "adaptive ECE (clean), both best-recalibrated", "NLL (clean), both best-recalibrated",
        "Brier (clean), both best-recalibrated"]
    against = added["NLL (clean), VC against best-recalibrated softmax"]
    assert list(against.a) == [0.020, 0.021, 0.022] and list(against.b) == [0.030, 0.031, 0.032]
    assert np.allclose(against.test_variances, 1e-6)
    verdicts = {c.what: v.verdict for c, v in judged(Results({"rows": new}), "s d=16")}
    assert verdicts["NLL (clean), VC against best-recalibrated softmax"] == "wins"
    assert verdicts["NLL (clean), both best-recalibrated"] == "wins"
    aa = [c.what for c in comparisons(Results({"rows": new}), "s d=16", AA) if "best" in c.what]
    assert aa == [w for w in added if w.endswith("both best-recalibrated")]  # A/A: one method on both sides
