"""Tests for explorer.core.implied: the member of a linear layer's implied family, fitted by maximum likelihood."""

import numpy as np
import pytest
import torch
from scipy import optimize

from explorer.core.errors import ArgumentError
from explorer.core.config import COVARIANCES
from explorer.core.implied import fit_implied, reference_head
from explorer.core.models import GaussianHead, LinearHead


def layer(d: int = 3, k: int = 4, seed: int = 0) -> LinearHead:
    torch.manual_seed(seed)
    return LinearHead(d, k).double()


def latents_of(head: LinearHead, n: int, cov: np.ndarray, v: np.ndarray, seed: int = 0):
    """n latents drawn from the member N(Σ(w_y + v), Σ) of head's family, with labels."""
    rng = np.random.default_rng(seed)
    w = head.linear.weight.detach().numpy()
    y = rng.integers(0, len(w), n)
    z = (w[y] + v) @ cov + rng.multivariate_normal(np.zeros(len(cov)), cov, n)
    return z, y


def negative_log_likelihood(head: LinearHead, z, y, cov: np.ndarray, v: np.ndarray) -> float:
    w = head.linear.weight.detach().numpy()
    means = (w[y] + v) @ cov
    diff = z - means
    _, log_det = np.linalg.slogdet(cov)
    return 0.5 * float((diff @ np.linalg.inv(cov) * diff).sum() + len(z) * log_det)


@pytest.mark.parametrize("covariance", COVARIANCES)
def test_every_member_gives_the_layers_probabilities(covariance):
    head = layer()
    z, y = latents_of(head, 400, np.diag([0.5, 2.0, 1.0]), np.array([1.0, -2.0, 0.5]))
    member = fit_implied(head, z, y, covariance)
    zt = torch.from_numpy(z)
    torch.testing.assert_close(torch.softmax(member(zt), 1), torch.softmax(head(zt), 1).detach())


def test_the_convention_is_the_centred_rows_with_unit_variance():
    head = layer()
    member = fit_implied(head, None, None, "identity")
    torch.testing.assert_close(member.class_means(), head.class_means().detach())
    torch.testing.assert_close(member.covariances()[0], torch.eye(3, dtype=torch.float64))
    torch.testing.assert_close(member.log_class_prior(), head.log_class_prior().detach())
    assert member.description == "Σ = I, a convention"


@pytest.mark.parametrize("covariance", ["isotropic", "diagonal", "full"])
def test_the_closed_form_is_the_maximum_likelihood(covariance):
    """A generic optimiser over v and Σ's factor, started from Σ = I and v = 0, finds no better fit."""
    head = layer(d=3)
    true_cov = np.array([[1.0, 0.4, 0.0], [0.4, 2.0, -0.3], [0.0, -0.3, 0.5]])
    z, y = latents_of(head, 300, true_cov, np.array([0.5, 1.0, -1.0]))
    member = fit_implied(head, z, y, covariance)
    fitted_cov = member.covariances()[0].numpy()
    w = head.linear.weight.detach().numpy()
    fitted_v = np.linalg.solve(fitted_cov, member.class_means().numpy().T).T - w  # Σ⁻¹μ_y − w_y, one v
    np.testing.assert_allclose(fitted_v, np.broadcast_to(fitted_v[0], fitted_v.shape), atol=1e-8)

    def unpack(p):
        v = p[:3]
        if covariance == "isotropic":
            return np.exp(p[3]) * np.eye(3), v
        if covariance == "diagonal":
            return np.diag(np.exp(p[3:6])), v
        factor = np.zeros((3, 3))
        factor[np.tril_indices(3)] = p[3:9]
        return factor @ factor.T + 1e-12 * np.eye(3), v

    start = {"isotropic": np.zeros(4), "diagonal": np.zeros(6),
             "full": np.r_[np.zeros(3), np.eye(3)[np.tril_indices(3)]]}[covariance]
    found = optimize.minimize(lambda p: negative_log_likelihood(head, z, y, *unpack(p)), start, method="BFGS",
                              options={"gtol": 1e-9, "maxiter": 10_000})
    closed = negative_log_likelihood(head, z, y, fitted_cov, fitted_v[0])
    assert closed <= found.fun + 1e-6
    np.testing.assert_allclose(fitted_cov, unpack(found.x)[0], rtol=1e-3, atol=1e-4)


def test_the_fit_recovers_the_member_the_latents_were_drawn_from():
    head = layer(d=2, k=3)
    true_cov = np.array([[0.8, 0.3], [0.3, 0.4]])
    z, y = latents_of(head, 20_000, true_cov, np.array([2.0, -1.0]))
    np.testing.assert_allclose(fit_implied(head, z, y, "full").covariances()[0].numpy(), true_cov, rtol=0.05)


def test_the_fitted_r2_ignores_the_layers_arbitrary_scale():
    """z·c with W/c predicts the same: the fitted member's r² is the same, the convention's grows about c²."""
    from explorer.measure.latents import fit_latents

    head = layer()
    z, y = latents_of(head, 500, np.diag([0.5, 2.0, 1.0]), np.zeros(3))
    scaled = layer()
    with torch.no_grad():
        scaled.linear.weight.div_(10.0)
    for covariance in ("isotropic", "diagonal", "full"):
        np.testing.assert_allclose(fit_latents(fit_implied(scaled, 10 * z, y, covariance), 10 * z, y).r2,
                                   fit_latents(fit_implied(head, z, y, covariance), z, y).r2, rtol=1e-8)
    convention = fit_latents(fit_implied(head, z, y, "identity"), z, y).r2
    rescaled = fit_latents(fit_implied(scaled, 10 * z, y, "identity"), 10 * z, y).r2
    assert np.median(rescaled / convention) > 50  # |10 z − μ/10|² against |z − μ|²: about 100 times


def test_samples_follow_the_fitted_covariance():
    head = layer(d=2, k=3)
    true_cov = np.array([[0.8, 0.3], [0.3, 0.4]])
    member = fit_implied(head, *latents_of(head, 5000, true_cov, np.zeros(2)), "full")
    draws = member.sample(torch.zeros(50_000, dtype=torch.long), torch.Generator().manual_seed(0)).numpy()
    np.testing.assert_allclose(np.cov(draws.T), member.covariances()[0].numpy(), rtol=0.05, atol=0.01)


def test_a_learnt_head_is_its_own_reference():
    head = GaussianHead(2, 3)
    assert reference_head(head, np.zeros((4, 2)), [0, 1, 2, 0]) is head


def test_bad_input_is_refused():
    head = layer()
    with pytest.raises(ArgumentError, match="covariance must be one of"):
        fit_implied(head, np.zeros((5, 3)), [0] * 5, "spherical")
    with pytest.raises(ArgumentError, match="do not vary"):
        fit_implied(head, np.zeros((5, 3)), [0, 0, 0, 0, 0], "diagonal")
    with pytest.raises(ArgumentError, match=r"z"):
        fit_implied(head, np.zeros((5, 2)), [0] * 5)
    with pytest.raises(ArgumentError, match="at least 2"):
        fit_implied(head, np.zeros((1, 3)), [0])


@pytest.mark.parametrize("covariance", ["isotropic", "diagonal", "full"])
def test_a_direction_the_latents_never_vary_along_is_floored_not_refused(covariance):
    """Dead units and blank pixels: z_3 is always 0. Σ stays invertible, and that direction adds ~0 to r²."""
    head = layer(d=3)
    z, y = latents_of(head, 400, np.diag([0.5, 2.0, 1.0]), np.zeros(3))
    z[:, 2] = 0.0
    member = fit_implied(head, z, y, covariance)
    cov = member.covariances()[0].numpy()
    assert np.linalg.eigvalsh(cov).min() > 0
    zt = torch.from_numpy(z)
    torch.testing.assert_close(torch.softmax(member(zt), 1), torch.softmax(head(zt), 1).detach())
    if covariance == "diagonal":
        r2 = member.squared_distances(zt)[np.arange(len(y)), y].numpy()
        means, variances = member.class_means().numpy()[y], np.diag(cov)
        two_dims = ((z[:, :2] - means[:, :2]) ** 2 / variances[:2]).sum(1)
        np.testing.assert_allclose(r2, two_dims, rtol=1e-4)
