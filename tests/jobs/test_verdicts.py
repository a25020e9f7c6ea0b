"""VC against softmax (explorer/jobs/verdicts.py): the comparisons, the rule that judges them, the tally."""

import numpy as np
import pytest

from explorer.jobs.results import Results
from explorer.jobs.verdicts import VERDICTS, compare, comparisons, judged, tally


def rows(**values):
    """Rows of one suite: values[method] = per-seed accuracies (clean)."""
    return [{"suite": "s d=16", "dataset": "s", "d": 16, "method": m, "seed": i, "condition": "clean",
             "measure": "accuracy", "value": v} for m, vs in values.items() for i, v in enumerate(vs)]


@pytest.mark.parametrize("a, b, higher, verdict", [
    ([0.90, 0.91, 0.92], [0.80, 0.81, 0.82], True, "wins"),
    ([0.90, 0.91, 0.92], [0.80, 0.81, 0.82], False, "loses"),
    ([0.90, 0.95, 0.85], [0.89, 0.94, 0.84], True, "ties"),  # 0.01 apart, spread 0.07
])
def test_compare_needs_a_difference_larger_than_the_spread(a, b, higher, verdict):
    assert compare(np.array(a), np.array(b), higher) == verdict


def test_a_method_against_itself_ties_and_a_missing_side_has_no_verdict():
    a = np.array([0.90, 0.95, 0.85])
    assert compare(a, a.copy(), True) == compare(a, a.copy(), False) == "ties"
    assert compare(a, np.array([]), True) == "–"


def test_each_comparison_is_judged_by_the_rule_and_tallied():
    results = Results({"rows": rows(softmax=[0.90, 0.92], vc=[0.95, 0.97])
                       + [{**r, "condition": "pgd10:0.1", "measure": "robust_accuracy"}
                          for r in rows(softmax=[0.5, 0.5], vc=[0.4, 0.4])]})
    verdicts = [verdict for _, verdict in judged(results, "s d=16")]
    assert [c.what for c, _ in judged(results, "s d=16")] == [c.what for c in comparisons(results, "s d=16")]
    assert verdicts[0] == "wins" and verdicts[-1] == "loses" and verdicts[1] == "–"  # ECE was not measured
    assert tally(verdicts) == {"wins": 1, "ties": 0, "loses": 1} and tuple(tally(verdicts)) == VERDICTS
