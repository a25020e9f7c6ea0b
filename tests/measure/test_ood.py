"""Tests for explorer.measure.ood: the scores, the detection metrics and their intervals (cross-checked
against scikit-learn and torchmetrics), noise images and the comparison."""

import numpy as np
import pytest
import torch

from explorer.core.checkpoints import SHIPPED_DIR, load_checkpoint
from explorer.core.data import load_dataset
from explorer.measure import ood as diag
from explorer.measure.ood import noise_images, ood_comparison
from test_latents import tiny_model


def test_ood_scores_keys_and_shapes():
    model = tiny_model("vc", 2)
    scores = diag.ood_scores(model, torch.rand(7, 1, 8, 8))
    assert list(scores) == list(diag.SCORES)
    assert all(s.shape == (7,) and np.isfinite(s).all() for s in scores.values())
    assert (scores["neg_entropy"] <= 0).all() and (scores["neg_entropy"] >= -np.log(3) - 1e-9).all()
    assert (scores["energy"] >= scores["max_logit"]).all()  # logsumexp ≥ max
    # VC's logits are log p(z | k) + log π_k: its energy is log p(z) itself.
    np.testing.assert_allclose(scores["energy"], scores["log_density"], rtol=1e-5)
    assert ((scores["max_softmax"] >= 1 / 3) & (scores["max_softmax"] <= 1)).all()


def test_auroc_extremes():
    assert diag.auroc([3.0, 4.0, 5.0], [0.0, 1.0]) == 1.0
    assert diag.auroc([0.0, 1.0], [3.0, 4.0, 5.0]) == 0.0
    assert diag.auroc([1.0, 1.0], [1.0, 1.0, 1.0]) == 0.5
    assert diag.auroc([0.0, -1.0], [-np.inf, -np.inf]) == 1.0  # an underflowed log-density still ranks
    # Hand case: pairs (in > out) are 2 > 1, 2 > 0, 0.5 > 0 out of 4 → 0.75.
    assert diag.auroc([2.0, 0.5], [1.0, 0.0]) == pytest.approx(0.75)
    with pytest.raises(ValueError, match="both sides"):
        diag.auroc([1.0], [])


def test_ood_comparison_separates_noise_from_digits():
    """On LGM's compact latents p(z) tells noise from digits (the project's VC, whose latents fill
    their Gaussians, reaches 0.70 here: the results report says where that costs it)."""
    model, _ = load_checkpoint(SHIPPED_DIR / "digits-mlp-d16-lgm.pt")
    test = load_dataset("digits", "test")
    noise = noise_images(test.x, 300, seed=0)
    assert noise.shape == (300, 1, 8, 8) and 0 <= noise.min() and noise.max() <= 1
    report = ood_comparison(model, test.x, noise)
    assert list(report) == list(diag.SCORES)
    assert report["log_density"]["auroc"] > 0.9  # LGM's p(z) knows noise is not a digit
    assert np.isfinite(report["max_softmax"]["auroc"])


def test_scores_of_outputs_are_those_of_the_model_and_need_latents_for_the_density():
    model = tiny_model("vc", 2)
    x = torch.rand(7, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        logits, z = model(x), model.embed(x)
    from_model, from_outputs = diag.ood_scores(model, x), diag.output_scores(logits, z, model.head)
    for name in from_model:
        np.testing.assert_allclose(from_outputs[name], from_model[name], rtol=1e-6)
    logit_scores = ["max_softmax", "max_logit", "energy", "neg_entropy"]
    assert list(diag.output_scores(logits)) == logit_scores  # logits alone: no latent scores
    both = diag.compare_scores(from_outputs, diag.output_scores(logits))
    assert list(both) == logit_scores and all(both[k]["auroc"] == 0.5 for k in logit_scores)


def test_a_softmax_models_density_needs_its_fitted_gaussians():
    """A linear layer's Gaussians must be fitted to labelled latents first: without them, max-softmax alone;
    with the member fitted to the validation latents, log p(z) under it (a real density: it integrates over z)."""
    from explorer.core.checkpoints import checkpoint_validation_split
    from explorer.measure.latents import fitted_reference

    model, meta = load_checkpoint(SHIPPED_DIR / "digits-mlp-d16-softmax.pt")
    test = load_dataset("digits", "test")
    noise = noise_images(test.x, 300, seed=0)
    assert "log_density" not in ood_comparison(model, test.x, noise)
    val = checkpoint_validation_split(model, meta)
    reference = fitted_reference(model, val.x, val.y)
    report = ood_comparison(model, test.x, noise, reference)
    assert list(report) == list(diag.SCORES) and 0 <= report["log_density"]["auroc"] <= 1
    from explorer.measure.inference import predict

    _, z = predict(model, test.x)
    expected = torch.logsumexp(reference.log_prob(z.double()) + reference.log_class_prior(), 1).numpy()
    np.testing.assert_allclose(report["log_density"]["in"], expected, rtol=1e-10)


def test_mahalanobis_is_minus_the_nearest_r2_under_each_class_covariance():
    """Hand case: a diagonal head, means (0, 0) and (4, 0), variances (1, 1) and (4, 1)."""
    model = tiny_model("vc", 2)
    head = model.head
    with torch.no_grad():
        head.means.copy_(torch.tensor([[0.0, 0.0], [4.0, 0.0]] + [[40.0, 40.0]] * (len(head.means) - 2)))
        head.log_vars.copy_(torch.log(torch.tensor([[1.0, 1.0], [4.0, 1.0]] + [[1.0, 1.0]] * (len(head.means) - 2))))
    z = torch.tensor([[1.0, 1.0], [3.0, 0.0]])
    # z1: r² = 2 to class 0, 9/4 + 1 to class 1 → −2; z2: 9 to class 0, 1/4 to class 1 → −0.25.
    scores = diag.output_scores(torch.zeros(2, len(head.means)), z, head)
    np.testing.assert_allclose(scores["mahalanobis"], [-2.0, -0.25], rtol=1e-6)


def test_logit_scores_by_hand():
    logits = torch.tensor([[0.0, np.log(3.0)]])  # p = (1/4, 3/4)
    scores = diag.output_scores(logits)
    np.testing.assert_allclose(scores["max_softmax"], [0.75])
    np.testing.assert_allclose(scores["max_logit"], [np.log(3.0)])
    np.testing.assert_allclose(scores["energy"], [np.log(4.0)])
    np.testing.assert_allclose(scores["neg_entropy"], [0.25 * np.log(0.25) + 0.75 * np.log(0.75)])


def test_fpr95_by_hand():
    """20 in-distribution scores 1..20, OOD scores 0.5, 2.5, 5, 30. Keeping ≥ 95 % of 20 means 19: the
    threshold is 2 (scores ≥ 2 called in); OOD 2.5, 5 and 30 pass it: FPR 3/4."""
    assert diag.detection_metrics(np.arange(1.0, 21.0), [0.5, 2.5, 5.0, 30.0])["fpr95"] == pytest.approx(0.75)
    # A tie at the threshold enters whole: in scores 1, 1, 2..19 (20). Scores ≥ 2 keep 18 (90 %), so the
    # threshold falls to 1, which admits both 1s and the OOD 1 with them: FPR 1/2.
    ties = diag.detection_metrics(np.r_[1.0, 1.0, np.arange(2.0, 20.0)], [1.0, 0.0])
    assert ties["fpr95"] == pytest.approx(0.5)


def _sklearn(in_scores, out_scores):
    from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

    labels = np.r_[np.ones(len(in_scores)), np.zeros(len(out_scores))]
    scores = np.r_[in_scores, out_scores]
    fpr, tpr, _ = roc_curve(labels, scores, drop_intermediate=False)
    return {"auroc": roc_auc_score(labels, scores), "aupr_in": average_precision_score(labels, scores),
            "aupr_out": average_precision_score(1 - labels, -scores),
            "fpr95": fpr[np.searchsorted(tpr, diag.TPR - 1e-12)]}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_metrics_agree_with_scikit_learn_ties_included(seed):
    rng = np.random.default_rng(seed)
    in_scores = np.round(rng.normal(1.0, 1.0, 300 + 50 * seed), 1)  # rounded: many ties
    out_scores = np.round(rng.normal(0.0, 1.5, 200), 1)
    ours = diag.detection_metrics(in_scores, out_scores)
    for k, v in _sklearn(in_scores, out_scores).items():
        assert ours[k] == pytest.approx(v, abs=1e-12), k


def test_metrics_agree_with_torchmetrics():
    tm = pytest.importorskip("torchmetrics.functional.classification")
    rng = np.random.default_rng(3)
    in_scores, out_scores = rng.normal(1.0, 1.0, 400), rng.normal(0.0, 1.0, 300)
    scores = torch.tensor(np.r_[in_scores, out_scores])
    labels = torch.tensor(np.r_[np.ones(400), np.zeros(300)]).long()
    ours = diag.detection_metrics(in_scores, out_scores)
    assert ours["auroc"] == pytest.approx(float(tm.binary_auroc(scores, labels)), abs=1e-6)
    assert ours["aupr_in"] == pytest.approx(float(tm.binary_average_precision(scores, labels)), abs=1e-6)
    assert ours["aupr_out"] == pytest.approx(float(tm.binary_average_precision(-scores, 1 - labels)), abs=1e-6)


def test_intervals_hold_the_value_and_resample_both_sides():
    rng = np.random.default_rng(4)
    in_scores, out_scores = rng.normal(1.0, 1.0, 150), rng.normal(0.0, 1.0, 90)
    got = diag.score_intervals(in_scores, out_scores, n_resamples=300, seed=0)
    assert list(got) == list(diag.METRICS)
    for k, interval in got.items():
        assert interval.low <= interval.mean <= interval.high and interval.level == 0.95, k
        assert interval.high - interval.low > 0.01, k
    # The same resamples, one at a time, by scikit-learn: the percentile ends agree.
    from explorer.measure.ood import _paired_counts

    values = []
    for w_in, w_out in _paired_counts(150, 90, 300, 0):
        for a, b in zip(w_in, w_out):
            values.append(_sklearn(np.repeat(in_scores, a.astype(int)), np.repeat(out_scores, b.astype(int)))["auroc"])
    assert len(values) == 300
    low, high = np.quantile(values, [0.025, 0.975])
    assert (got["auroc"].low, got["auroc"].high) == pytest.approx((low, high), abs=1e-12)
    # Separation by an exact order: every resample separates perfectly.
    perfect = diag.score_intervals([2.0, 3.0, 4.0], [0.0, 1.0], n_resamples=50)
    assert perfect["auroc"] == (1.0, 1.0, 1.0, 0.95) and perfect["fpr95"].high == 0.0
    with pytest.raises(ValueError, match="n_resamples"):
        diag.score_intervals([1.0], [0.0], n_resamples=1)


def _side(r2, centre, log_det, norm=3.0):
    return {"norm": norm, "centre_distance": centre, "r2_nearest": r2, "closer_than_typical": 0.5,
            "nearest_log_det": log_det, "log_density": -4.0}


def test_placement_causes_are_read_from_the_figures():
    inside = _side(r2=1.2, centre=3.1, log_det=0.1)
    assert diag.placement_causes(inside, inside) == []
    assert diag.placement_causes(inside, _side(r2=0.5, centre=0.9, log_det=0.3)) == ["nearer", "collapse", "tight"]
    # centre at 0.69 of the in-distribution latents': nearer it, not collapsed (COLLAPSE = 0.5)
    assert diag.placement_causes(inside, _side(r2=1.5, centre=0.69 * 3.1, log_det=0.1)) == []
    assert diag.placement_causes(inside, _side(r2=1.5, centre=diag.COLLAPSE * 3.1, log_det=0.1)) == ["collapse"]


def test_the_cause_is_said_only_below_chance():
    inside, nearer = _side(r2=14.2, centre=4.8, log_det=0.16), _side(r2=11.8, centre=3.3, log_det=0.15)
    said = diag.cause_sentence(inside, nearer, {"log_density": 0.355, "norm": 0.88})
    assert said == ("log p(z) ranks the OOD latents above the test latents (AUROC 0.355): they land nearer a class "
                    "mean than the test latents do (median r² to the nearest class 14.20 → 11.80)")
    above = diag.cause_sentence(inside, nearer, {"log_density": 0.6, "norm": 0.88})
    assert above == "log p(z) ranks the OOD latents below the test latents (AUROC 0.600)"
    farther = diag.cause_sentence(inside, _side(r2=17.7, centre=4.5, log_det=0.47),
                                  {"log_density": 0.597, "norm": 0.64})
    assert farther.endswith("they land farther from the nearest class mean (median r² 14.20 → 17.70)")
    collapsed = diag.cause_sentence(_side(r2=1.2, centre=3.1, log_det=0.1, norm=3.1),
                                    _side(r2=1.3, centre=0.9, log_det=0.1, norm=1.06),
                                    {"log_density": 0.135, "norm": 0.891})
    assert "collapse toward the centre of the class means (median distance 3.10 → 0.90, |z| 3.10 → 1.06)" \
        in collapsed
    assert "AUROC 0.89" in collapsed and "nearer" not in collapsed
    unexplained = diag.cause_sentence(inside, inside, {"log_density": 0.4, "norm": 0.5})
    assert "none of nearer, collapsed or tighter shows" in unexplained
