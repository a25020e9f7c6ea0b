"""Histograms (explorer/figures/distributions.py): confidences, norms, OOD scores, r² against χ²."""

import numpy as np
import pytest

from explorer import figures as F


def test_confidence_histogram_bars_are_fractions_including_confidence_one():
    confidences = {"A: softmax": np.array([0.1, 0.55, 1.0, 1.0]), "B: vc": np.array([0.3, 0.999])}
    fig = F.confidence_histogram(confidences, n_bins=10)
    assert [trace.name for trace in fig.data] == list(confidences)
    for trace in fig.data:
        assert len(trace.x) == 10
        assert trace.y.sum() == pytest.approx(1.0)
    assert fig.data[0].y[-1] == pytest.approx(0.5)  # 1.0 lands in the closed last bin


@pytest.mark.parametrize("confidences, match", [
    ({}, "at least one"),
    ({"A": np.array([0.5, 1.2])}, r"confidences\['A'\] must lie in \[0, 1\]"),
    ({"A": np.ones((2, 2))}, r"confidences\['A'\] must have shape \(N,\)"),
])
def test_confidence_histogram_rejects_bad_input(confidences, match):
    with pytest.raises(ValueError, match=match):
        F.confidence_histogram(confidences)


def test_norm_and_score_histograms_share_bins_between_series():
    fig = F.norm_histogram({"A": np.array([0.0, 1.0, 2.0]), "B": np.array([5.0, 10.0])}, n_bins=8)
    np.testing.assert_array_equal(fig.data[0].x, fig.data[1].x)
    assert [trace.y.sum() for trace in fig.data] == pytest.approx([1.0, 1.0])
    fig = F.score_histograms(np.array([0.9, 0.95]), np.array([0.2, 0.6, 0.7]), "max probability", auroc=0.875)
    assert "AUROC = 0.875" in fig.layout.title.text
    assert [trace.name for trace in fig.data] == ["in-distribution", "out-of-distribution"]
    with pytest.raises(ValueError, match="n_bins"):
        F.norm_histogram({"A": np.array([1.0])}, n_bins=0)


@pytest.mark.parametrize("d", [2, 3, 8])
def test_chi2_density_curve_integrates_to_one(d):
    curve = F.chi2_histogram(np.array([0.5, 1.0]), d=d, x_max=40.0).data[1]
    assert curve.x[0] == 0 and np.trapezoid(curve.y, curve.x) == pytest.approx(1.0, abs=5e-3)


def test_chi2_density_curve_drops_the_infinite_point_of_one_dimension():
    curve = F.chi2_histogram(np.array([0.5, 1.0]), d=1, x_max=40.0).data[1]
    assert curve.x[0] > 0 and np.isfinite(curve.y).all()


def test_chi2_histogram_bars_are_densities_over_all_points():
    r2 = np.array([0.5, 1.5, 2.5, 100.0])
    fig = F.chi2_histogram(r2, d=2, ks=0.4321, x_max=4.0, n_bins=4)
    bars = fig.data[0]
    assert np.sum(bars.y * bars.width) == pytest.approx(0.75)  # the point beyond x_max is not shown
    assert "1 of 4 beyond the axis" in bars.name
    assert "KS = 0.432" in fig.layout.title.text


@pytest.mark.parametrize("kwargs, match", [
    (dict(r2=np.array([-1.0, 2.0]), d=2), "r2 must be >= 0"),
    (dict(r2=np.array([1.0, np.inf]), d=2), "r2 must be finite"),
    (dict(r2=np.array([1.0]), d=0), "d must be an integer >= 1"),
])
def test_chi2_histogram_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        F.chi2_histogram(**kwargs)


def test_chi2_histogram_draws_another_reference_law_when_given_one():
    from scipy import stats

    law = stats.f(2, 5, scale=2)  # r² under a Student-t prior with ν = 5, d = 2
    fig = F.chi2_histogram(np.array([0.5, 1.0, 3.0]), d=2, law=law, law_name="2·F(2, 5)")
    curve = fig.data[1]
    assert curve.name == "2·F(2, 5) density" and "against 2·F(2, 5)" in fig.layout.title.text
    np.testing.assert_allclose(curve.y, law.pdf(np.asarray(curve.x)))
    # a heavy-tailed law: the axis ends at its 99 % quantile, not 99.9 % (far out in the tail)
    assert fig.layout.xaxis.range[1] == pytest.approx(max(law.ppf(0.99), np.quantile([0.5, 1.0, 3.0], 0.99)))
    with pytest.raises(ValueError, match="law_name must name"):
        F.chi2_histogram(np.array([0.5]), d=2, law=law)


def test_chi2_histogram_reads_far_latents_on_a_log_axis():
    """r² hundreds of times beyond χ²_d (softmax latents under Σ = I): bars and curve are densities of
    log₁₀ r², each integrating to 1, with r² ticks; the critical KS value joins the title."""
    from scipy import stats

    r2 = np.random.default_rng(0).chisquare(2, 2000) * 500
    fig = F.chi2_histogram(r2, d=2, ks=0.91, ks_critical=0.03)
    bars, curve = fig.data
    assert "log scale" in fig.layout.xaxis.title.text and "(KS = 0.910, chance < 0.030)" in fig.layout.title.text
    assert np.sum(np.asarray(bars.y) * np.asarray(bars.width)) == pytest.approx(1.0)  # every r² > 0 is drawn
    u = np.asarray(curve.x)
    np.testing.assert_allclose(np.asarray(curve.y), stats.chi2(2).pdf(10 ** u) * 10 ** u * np.log(10), rtol=1e-9)
    assert np.trapezoid(curve.y, u) == pytest.approx(1.0, abs=0.01)  # the law's whole mass is on the axis
    assert {"1", "10", "100"} <= set(fig.layout.xaxis.ticktext)
    linear = F.chi2_histogram(np.random.default_rng(0).chisquare(2, 2000), d=2)  # latents that follow the law
    assert "log scale" not in linear.layout.xaxis.title.text
