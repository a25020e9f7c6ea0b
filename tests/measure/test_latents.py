"""Tests for explorer.measure.latents: r² against χ²_d, the discriminator's KL, ellipses, prior samples."""

import numpy as np
import pytest
import torch

from explorer.core.config import ModelConfig
from explorer.core.models import build_model
from explorer.measure import latents as diag


def tiny_model(method: str, d: int):
    config = ModelConfig(method=method, encoder="mlp", latent_dim=d, num_classes=3, input_shape=(1, 8, 8),
                         mean=(0.3,), std=(0.4,), hidden=16)
    model = build_model(config, seed=0)
    if method == "vc":  # unequal variances, so r² really divides by each class's own σ²
        generator = torch.Generator().manual_seed(1)
        with torch.no_grad():
            model.head.log_vars.copy_(torch.randn(model.head.log_vars.shape, generator=generator))
    return model


def test_squared_mahalanobis_hand_case():
    # Class 0: μ = (0, 0), σ² = (1, 4); class 1: μ = (1, -1), σ² = (0.25, 1).
    means = np.array([[0.0, 0.0], [1.0, -1.0]])
    log_vars = np.log([[1.0, 4.0], [0.25, 1.0]])
    z = np.array([[1.0, 2.0], [2.0, 1.0], [1.0, -1.0]])
    y = np.array([0, 1, 1])
    # 1²/1 + 2²/4 = 2;  1²/0.25 + 2²/1 = 8;  0 at the class mean.
    np.testing.assert_allclose(diag.squared_mahalanobis(z, means, log_vars, y), [2.0, 8.0, 0.0])


def test_squared_mahalanobis_validates():
    means, log_vars = np.zeros((2, 3)), np.zeros((2, 3))
    with pytest.raises(ValueError, match="labels must lie in"):
        diag.squared_mahalanobis(np.zeros((1, 3)), means, log_vars, [2])
    with pytest.raises(ValueError, match="need z"):
        diag.squared_mahalanobis(np.zeros((1, 2)), means, log_vars, [0])


@pytest.mark.parametrize("method", ["softmax", "vc"])
@pytest.mark.parametrize("d", [2, 16])
def test_r2_of_prior_samples_follows_chi2(method, d):
    model = tiny_model(method, d)
    z, y = diag.prior_samples(model, n_per_class=1000, seed=0)
    means, log_vars = model.head.class_means().detach(), model.head.class_log_vars().detach()
    r2 = diag.squared_mahalanobis(z, means, log_vars, y)
    assert diag.chi2_ks(r2, d) < 0.05
    # The same samples scaled by 1.5 or shifted by one σ along every axis no longer fit.
    centred = z - means.numpy()[y]
    assert diag.chi2_ks(diag.squared_mahalanobis(means.numpy()[y] + 1.5 * centred, means, log_vars, y), d) > 0.2
    shift = np.exp(0.5 * log_vars.numpy())[y]
    assert diag.chi2_ks(diag.squared_mahalanobis(z + shift, means, log_vars, y), d) > 0.2


def test_prior_samples_shapes_and_seed():
    model = tiny_model("vc", 2)
    z, y = diag.prior_samples(model, n_per_class=4, seed=3)
    assert z.shape == (12, 2) and z.dtype == np.float64
    np.testing.assert_array_equal(y, np.repeat(np.arange(3), 4))
    np.testing.assert_array_equal(z, diag.prior_samples(model, n_per_class=4, seed=3)[0])
    assert not np.array_equal(z, diag.prior_samples(model, n_per_class=4, seed=4)[0])
    with pytest.raises(ValueError, match="n_per_class"):
        diag.prior_samples(model, n_per_class=0)


@pytest.mark.parametrize("method", ["softmax", "vc"])
def test_latent_fit_shapes(method):
    model = tiny_model(method, 3)
    x, y = torch.rand(40, 1, 8, 8, generator=torch.Generator().manual_seed(0)), torch.arange(40) % 2
    fit = diag.latent_fit(model, x, y)
    assert fit.d == 3 and fit.r2.shape == fit.norms.shape == fit.labels.shape == (40,)
    assert np.isfinite(fit.r2).all() and (fit.r2 >= 0).all() and (fit.norms >= 0).all()
    # Class 2 has no latents: NaN, left out of the mean.
    assert fit.ks.shape == (3,) and np.isfinite(fit.ks[:2]).all() and np.isnan(fit.ks[2])
    assert fit.mean_ks == pytest.approx(fit.ks[:2].mean())
    assert 0 < fit.mean_ks <= 1


@pytest.mark.parametrize("n_std", [1.0, 2.0])
def test_gaussian_ellipse_lies_on_the_contour(n_std):
    mean, var = np.array([1.0, -2.0]), np.array([0.5, 3.0])
    points = diag.gaussian_ellipse(mean, var, n_std=n_std, n_points=50)
    assert points.shape == (50, 2)
    np.testing.assert_allclose(((points - mean) ** 2 / var).sum(axis=1), n_std**2, rtol=0, atol=1e-9)
    np.testing.assert_allclose(points[0], points[-1])  # closed curve
    with pytest.raises(ValueError, match="shape"):
        diag.gaussian_ellipse(np.zeros(3), np.ones(3))


def test_discriminator_kl_is_far_larger_for_softmax_spokes_than_for_vc_latents():
    from explorer.core.checkpoints import load_checkpoint
    from explorer.core.data import load_dataset
    from explorer.measure.latents import discriminator_kl
    from explorer.core.checkpoints import SHIPPED_DIR

    test = load_dataset("digits", "test")
    kl = {m: discriminator_kl(load_checkpoint(SHIPPED_DIR / f"digits-mlp-d16-{m}.pt")[0], test.x, test.y)
          for m in ("softmax", "vc")}
    assert kl["softmax"] > 5 * kl["vc"] and kl["vc"] < 2, kl
    assert discriminator_kl(load_checkpoint(SHIPPED_DIR / "digits-mlp-d16-vc.pt")[0], test.x, test.y) == kl["vc"]


def test_latent_fit_compares_with_the_heads_own_law():
    """A Student-t head's fit check uses d·F(d, ν); latents drawn from the head fit it (KS small)."""
    from explorer.core.models import StudentTHead

    model = build_model(ModelConfig(method="vc", encoder="mlp", latent_dim=3, num_classes=2, input_shape=(1, 8, 8),
                                    mean=(0.3,), std=(0.4,), hidden=16, prior="student_t", nu=4), seed=0)
    assert isinstance(model.head, StudentTHead)
    gaussian = tiny_model("vc", 3)
    assert diag.latent_fit(gaussian, torch.rand(8, 1, 8, 8), torch.arange(8) % 3).law_name == "χ²(3)"
    z, y = diag.prior_samples(model, n_per_class=3000, seed=1)
    means, log_vars = model.head.class_means().detach(), model.head.class_log_vars().detach()
    r2 = diag.squared_mahalanobis(z, means, log_vars, y)
    assert diag.reference_ks(r2, model.head.r2_law()) < 0.03
    assert np.median(r2) / model.head.r2_law().median() == pytest.approx(1, abs=0.05)
    fit = diag.latent_fit(model, torch.rand(20, 1, 8, 8), torch.arange(20) % 2)
    assert fit.law_name == "3·F(3, 4)" and fit.law.median() == pytest.approx(model.head.r2_law().median())


def test_fit_latents_of_computed_latents_is_latent_fit_and_a_head_alone_samples_its_prior():
    model = tiny_model("vc", 3)
    x, y = torch.rand(40, 1, 8, 8, generator=torch.Generator().manual_seed(0)), torch.arange(40) % 3
    from_model, from_latents = diag.latent_fit(model, x, y), diag.fit_latents(model.head, model.embed(x), y)
    np.testing.assert_allclose(from_latents.r2, from_model.r2)
    np.testing.assert_allclose(from_latents.ks, from_model.ks)
    np.testing.assert_array_equal(diag.prior_samples(model.head, 4, seed=3)[0], diag.prior_samples(model, 4, seed=3)[0])
