"""Tests for explorer.measure.conformal: split conformal prediction sets, their coverage and sizes."""

import math

import numpy as np
import pytest

from explorer.core.errors import ArgumentError
from explorer.measure.conformal import (SCORES, class_scores, conformal_quantile, fit_conformal, prediction_sets,
                                        set_coverage)

P = np.array([[0.2, 0.5, 0.3]])  # ranked: class 1, class 2, class 0


def test_quantile_by_hand():
    scores = np.arange(1, 11) / 10  # 0.1 … 1.0, n = 10, shuffled below
    shuffled = np.random.default_rng(0).permutation(scores)
    assert conformal_quantile(shuffled, 0.1) == 1.0  # ⌈11 · 0.9⌉ = 10th smallest
    assert conformal_quantile(shuffled, 0.2) == pytest.approx(0.9)  # ⌈8.8⌉ = 9th
    assert conformal_quantile(shuffled, 0.5) == pytest.approx(0.6)  # ⌈5.5⌉ = 6th
    assert conformal_quantile(shuffled, 0.05) == math.inf  # ⌈10.45⌉ = 11 > n
    assert conformal_quantile(np.arange(19.0), 0.1) == 17.0  # ⌈20 · 0.9⌉ = 18th, not 19th


def test_scores_by_hand():
    np.testing.assert_allclose(class_scores(P, "lac"), [[0.8, 0.5, 0.7]])
    np.testing.assert_allclose(class_scores(P, "aps"), [[1.0, 0.5, 0.8]])  # mass up to and including y
    np.testing.assert_allclose(class_scores(P, "aps", u=[0.5]), [[0.8 + 0.1, 0.25, 0.5 + 0.15]])  # + U·p_y
    np.testing.assert_allclose(class_scores(P, "raps", lam=0.1, k_reg=1), [[1.0 + 0.2, 0.5, 0.8 + 0.1]])


def test_raps_at_lambda_zero_is_aps():
    probs = np.random.default_rng(1).dirichlet(np.ones(6), size=50)
    u = np.random.default_rng(2).random(50)
    np.testing.assert_array_equal(class_scores(probs, "raps", u, lam=0.0, k_reg=0), class_scores(probs, "aps", u))
    a = fit_conformal(probs, np.zeros(50, dtype=int), 0.2, "aps")
    r = fit_conformal(probs, np.zeros(50, dtype=int), 0.2, "raps", lam=0.0)
    assert a.threshold == r.threshold and np.array_equal(a.sets(probs), r.sets(probs))


def test_randomised_aps_sets_are_smaller_on_a_confident_model():
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(2000, 10)) * 6  # confident: true-label APS scores near 1 without U
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(10, p=row) for row in probs])
    fixed = set_coverage(prediction_sets(probs[:1000], labels[:1000], probs[1000:], 0.1, "aps", randomized=False),
                         labels[1000:])
    drawn = set_coverage(prediction_sets(probs[:1000], labels[:1000], probs[1000:], 0.1, "aps"), labels[1000:])
    assert drawn.mean_size < fixed.mean_size
    assert fixed.coverage >= drawn.coverage - 0.02  # non-randomised APS errs on the side of covering


def _synthetic(n, k, seed):
    """Exchangeable outputs of a calibrated model: Dirichlet probabilities, labels drawn from them."""
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.full(k, 0.4), size=n)
    labels = (rng.random((n, 1)) > np.cumsum(probs, axis=1)).sum(axis=1)
    return probs, np.minimum(labels, k - 1)


@pytest.mark.parametrize("score", SCORES)
@pytest.mark.parametrize("randomized", [True, False])
def test_coverage_holds_on_average_over_splits(score, randomized):
    alpha, n_cal, n_test, splits = 0.1, 50, 200, 400
    probs, labels = _synthetic(n_cal + n_test, 5, seed=4)
    rng = np.random.default_rng(5)
    found = []
    for _ in range(splits):
        order = rng.permutation(len(labels))
        cal, test = order[:n_cal], order[n_cal:]
        sets = prediction_sets(probs[cal], labels[cal], probs[test], alpha, score, randomized=randomized,
                               seed=int(rng.integers(1 << 30)))
        found.append(set_coverage(sets, labels[test]).coverage)
    mean, tol = np.mean(found), 3 * np.std(found) / np.sqrt(splits)
    # ≥ 1 − α; a quantile at ⌈n(1 − α)⌉ instead of ⌈(n + 1)(1 − α)⌉ would give 45/51 = 0.882 here
    assert mean >= 1 - alpha - tol
    if score == "lac" or randomized:  # continuous scores: also at most 1 − α + 1/(n + 1)
        assert mean <= 1 - alpha + 1 / (n_cal + 1) + tol


def test_mondrian_covers_each_class():
    alpha, splits = 0.1, 200
    probs, labels = _synthetic(3000, 4, seed=6)
    probs = np.where(labels[:, None] == 3, probs ** 0.3, probs)  # class 3 scored differently from the others
    probs /= probs.sum(axis=1, keepdims=True)
    rng = np.random.default_rng(7)
    per_class = {False: [], True: []}
    for _ in range(splits):
        order = rng.permutation(len(labels))
        for mondrian, found in per_class.items():
            sets = prediction_sets(probs[order[:400]], labels[order[:400]], probs[order[400:]], alpha, "lac",
                                   mondrian=mondrian)
            found.append(set_coverage(sets, labels[order[400:]]).per_class)
    for mondrian, found in per_class.items():
        found = np.array(found)
        holds = found.mean(axis=0) >= 1 - alpha - 3 * found.std(axis=0) / np.sqrt(splits)
        assert holds.all() == mondrian  # one threshold for all leaves classes 0-2 under 1 − α


def test_set_coverage_by_hand():
    sets = np.array([[1, 1, 0], [0, 1, 0], [0, 0, 0], [1, 1, 1]], dtype=bool)
    found = set_coverage(sets, [0, 0, 1, 2])
    assert found.coverage == 0.5 and found.n == 4
    assert found.se == pytest.approx(math.sqrt(0.25 / 4))
    np.testing.assert_allclose(found.per_class, [0.5, 0.0, 1.0])
    np.testing.assert_allclose(found.per_class_se, [math.sqrt(0.25 / 2), 0.0, 0.0])
    assert found.per_class_count.tolist() == [2, 1, 1]
    assert found.mean_size == 1.5 and found.size_counts.tolist() == [1, 1, 1, 1]
    assert found.as_dict()["per_class_coverage"] == [0.5, 0.0, 1.0]


def test_mondrian_threshold_per_class_and_empty_class():
    probs, labels = _synthetic(100, 3, seed=8)
    labels[labels == 2] = 0  # class 2 has no calibration example: its label always in the set
    predictor = fit_conformal(probs, labels, 0.1, "lac", mondrian=True)
    assert predictor.mondrian and predictor.threshold.shape == (3,) and predictor.threshold[2] == math.inf
    assert predictor.sets(probs)[:, 2].all()


def test_rejects_bad_arguments():
    with pytest.raises(ArgumentError, match="alpha"):
        fit_conformal(P, [0], alpha=1.0)
    with pytest.raises(ArgumentError, match="score"):
        class_scores(P, "thr")
    with pytest.raises(ArgumentError, match="probs"):
        class_scores(P * 2, "lac")


def test_agrees_with_mapie():
    """MAPIE (requirements-dev.txt) around a logistic regression, on held-out examples: LAC's sets cell for
    cell; randomised APS, whose draws differ, in coverage and mean size (benchmarks/crosscheck_conformal.py:
    the shipped models)."""
    mapie = pytest.importorskip("mapie.classification")
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    x, y = make_classification(8000, n_features=10, n_informative=6, n_classes=5, random_state=0)
    model = LogisticRegression(max_iter=1000).fit(x[:2000], y[:2000])
    cal, test = slice(2000, 4000), slice(4000, None)
    probs = model.predict_proba(x)
    for score, last in (("lac", None), ("aps", "randomized")):
        theirs = mapie.SplitConformalClassifier(model, confidence_level=0.9, conformity_score=score, prefit=True,
                                                random_state=0).conformalize(x[cal], y[cal])
        theirs = theirs.predict_set(x[test], conformity_score_params=last and {"include_last_label": last})[1][:, :, 0]
        ours = prediction_sets(probs[cal], y[cal], probs[test], 0.1, score)
        if score == "lac":
            np.testing.assert_array_equal(ours, theirs)
        else:
            a, b = set_coverage(ours, y[test]), set_coverage(theirs, y[test])
            assert abs(a.coverage - b.coverage) < 3 * np.hypot(a.se, b.se)
            assert abs(a.mean_size - b.mean_size) < 0.1


def test_threshold_is_read_only_and_the_callers_array_is_not():
    probs, labels = _synthetic(100, 3, seed=9)
    predictor = fit_conformal(probs, labels, 0.1, "lac", mondrian=True)
    with pytest.raises(ValueError, match="read-only"):
        predictor.threshold[0] = 0.0  # a cached predictor is shared by every session
    mine = np.array([0.5, 0.6, 0.7])
    again = type(predictor)("lac", 0.1, mine, False, 0.0, 0, 0, 100)
    assert mine.flags.writeable and not again.threshold.flags.writeable and again.threshold is not mine


def test_an_infinite_threshold_is_flagged():
    import json

    probs, labels = _synthetic(100, 3, seed=8)
    finite = fit_conformal(probs, labels, 0.1, "lac")
    assert not finite.infinite and finite.infinite_classes is None and finite.warning() is None
    assert finite.as_dict()["infinite_threshold"] is False and finite.as_dict()["threshold"] > 0
    too_few = fit_conformal(probs[:5], labels[:5], 0.1, "lac")  # ⌈6 · 0.9⌉ = 6 > 5 examples
    assert too_few.infinite and too_few.sets(probs).all()
    assert "5 calibration examples are too few for alpha = 0.1" in too_few.warning()
    assert too_few.as_dict()["threshold"] is None and json.loads(json.dumps(too_few.as_dict()))["infinite_threshold"]
    labels[labels == 2] = 0
    mondrian = fit_conformal(probs, labels, 0.1, "lac", mondrian=True)
    assert mondrian.infinite and mondrian.infinite_classes == (2,)
    assert mondrian.warning(("cat", "dog", "bird")).startswith("threshold +inf for class bird:")
    found = mondrian.as_dict()
    assert found["infinite_threshold_classes"] == [2] and found["threshold"][2] is None


def test_keep_top_fills_the_empty_sets_with_the_top_class_and_only_them():
    probs, labels = _synthetic(2000, 5, seed=10)
    plain = fit_conformal(probs[:1000], labels[:1000], 0.2, "aps")
    kept = fit_conformal(probs[:1000], labels[:1000], 0.2, "aps", keep_top=True)
    assert kept.keep_top and not plain.keep_top and kept.threshold == plain.threshold  # calibrated alike
    before, after = plain.sets(probs[1000:]), kept.sets(probs[1000:])
    empty = ~before.any(axis=1)
    assert empty.any() and after.any(axis=1).all()
    top = probs[1000:].argmax(axis=1)
    assert (after[empty].sum(axis=1) == 1).all() and after[empty, top[empty]].all()
    assert (after | before == after).all() and (after.sum() - before.sum()) == (~before[np.arange(1000), top]).sum()
    assert set_coverage(after, labels[1000:]).coverage >= set_coverage(before, labels[1000:]).coverage
    assert kept.as_dict()["keep_top"] is True
