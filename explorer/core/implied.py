"""The Gaussians a linear softmax layer implies: one member of a family, fitted (METHOD.md §1).

softmax(W z + b) is Bayes' rule over N(μ_y, Σ) for every shared covariance Σ ≻ 0 and every offset v
with Σ⁻¹μ_y = w_y + v (softmax ignores v, added to every row of W), the class prior taking up the
biases: log π_y = b_y + ½ μ_yᵀΣ⁻¹μ_y + const. The layer fixes the family, not the member. Σ = I with
μ_y = w_y − mean_k w_k is a convention (``"identity"``), and an arbitrary one: scaling z by c and W by
1/c changes no prediction but scales every r² under Σ = I by c², so it can say anything of the fit.

The member worth comparing latents with is the one that fits them best. :func:`fit_implied` finds it
by maximum likelihood on latents z_i with labels y_i, for a covariance family:

- ``"isotropic"``: Σ = s² I;
- ``"diagonal"``: Σ = diag(s²_1 … s²_d), the family of VC's own Gaussian prior, and the default: the two
  methods' latents are then checked against Gaussians of one family, and d variances are estimated
  well from the few hundred validation latents a small dataset has;
- ``"full"``: any Σ ≻ 0 (d(d + 1)/2 parameters).

Each has a closed form. For a given Σ the best offset puts the means at μ_y = z̄ + Σ (w_y − w̄), with
z̄ the latents' mean and w̄ the mean of w_{y_i} over them. With e_i = z_i − z̄ and c_i = w_{y_i} − w̄,
−2 log-likelihood is, up to constants, N log|Σ| + tr(Σ⁻¹ S_ee) + tr(Σ S_cc) with S_ee = Σ_i e_i e_iᵀ and
S_cc = Σ_i c_i c_iᵀ; setting its gradient to zero gives Σ S_cc Σ + N Σ = S_ee, a continuous algebraic
Riccati equation (solved by scipy for ``"full"``), whose restriction to s² I or a diagonal is a
quadratic with one positive root per variance.

The latents to fit on are ones the layer did not train on: a checkpoint's validation split, a
bundle's validation latents. Fitted on the very latents it is then checked on, the member is a little
optimistic; :attr:`ImpliedGaussians.fitted_on` says which latents it was fitted on, for figures to state.
The stricter variant that also holds the implied class prior to the class frequencies is not offered.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from explorer.core._validation import as_array, check_labels
from explorer.core.config import COVARIANCE_NAMES, COVARIANCES, DEFAULT_COVARIANCE
from explorer.core.errors import ArgumentError
from explorer.core.models import LOG_2PI, Head, LinearHead


class ImpliedGaussians(Head):
    """Bayes' rule over N(μ_y, Σ) with one shared Σ: a member of the family a linear layer implies.

    It gives the layer's own predictions: ``forward(z)`` equals ``W z + b`` up to a term shared by every
    class. Buffers: ``means`` (K, d), ``scale_tril`` (d, d), the lower Cholesky factor L of Σ = L Lᵀ, and
    ``log_prior`` (K,). ``covariance`` names the member (:data:`COVARIANCES`); ``fitted_on`` says which
    latents it was fitted on ("" for the Σ = I convention).
    """

    def __init__(self, means: Tensor, scale_tril: Tensor, log_prior: Tensor, covariance: str,
                 fitted_on: str = "") -> None:
        super().__init__()
        self.register_buffer("means", means)
        self.register_buffer("scale_tril", scale_tril)
        self.register_buffer("log_prior", log_prior)
        self.covariance = covariance
        self.fitted_on = fitted_on

    @property
    def description(self) -> str:
        """The member in words, with the latents it was fitted on: "fitted, diagonal Σ, on 180
        validation latents"."""
        name = COVARIANCE_NAMES[self.covariance]
        return f"{name}, on {self.fitted_on}" if self.fitted_on else name

    def forward(self, z: Tensor) -> Tensor:
        return self.log_prob(z) + self.log_prior

    def class_means(self) -> Tensor:
        return self.means

    def class_log_vars(self) -> Tensor:
        """log of Σ's diagonal, for every class (K, d): the marginal variances, not the whole Σ."""
        return torch.log(self.scale_tril.square().sum(1)).expand_as(self.means)

    def covariances(self) -> Tensor:
        return (self.scale_tril @ self.scale_tril.T).expand(len(self.means), -1, -1)

    def log_class_prior(self) -> Tensor:
        return self.log_prior

    def squared_distances(self, z: Tensor) -> Tensor:
        """r²_ik = (z_i − μ_k)ᵀ Σ⁻¹ (z_i − μ_k): z (N, d) → (N, K)."""
        diff = z.unsqueeze(1) - self.means.unsqueeze(0)  # (N, K, d)
        white = torch.linalg.solve_triangular(self.scale_tril, diff.reshape(-1, diff.shape[-1]).T, upper=False)
        return white.square().sum(0).reshape(diff.shape[:2])

    def log_prob(self, z: Tensor) -> Tensor:
        log_det = 2 * torch.log(torch.diagonal(self.scale_tril)).sum()
        return -0.5 * (self.squared_distances(z) + log_det + z.shape[-1] * LOG_2PI)

    def sample(self, y: Tensor, generator: torch.Generator | None = None) -> Tensor:
        means = self.means[y]
        return means + self._noise(means, generator) @ self.scale_tril.T


def _variances(n: int, a: np.ndarray, c: np.ndarray) -> np.ndarray:
    """The positive root t of c t² + n t − a = 0, elementwise: the ML variance of an isotropic or
    diagonal Σ (a = Σ e², c = Σ c² per variance, n observations of each); t = a / n when c = 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        # 2a / (n + √(n² + 4ac)) is the positive root without the cancellation of (−n + √…) / 2c.
        return 2 * a / (n + np.sqrt(n * n + 4 * a * c))


def fit_implied(head: LinearHead, z, y, covariance: str = DEFAULT_COVARIANCE,
                fitted_on: str | None = None) -> ImpliedGaussians:
    """The member of ``head``'s implied family that fits latents z (N, d) with labels y (N,) best, by
    maximum likelihood over Σ in the ``covariance`` family and the offset v (module docstring).

    ``covariance="identity"`` gives the Σ = I convention and ignores z and y (which may then be None).
    ``fitted_on`` says which latents z are, for figures ("180 validation latents"; default: "N latents").
    The result is float64, on the CPU, in eval mode. Raises :class:`ArgumentError` for an unknown
    family, mismatched shapes, or latents that do not determine a Σ ≻ 0 (all equal along a direction).
    """
    if covariance not in COVARIANCES:
        raise ArgumentError(f"covariance must be one of {', '.join(COVARIANCES)}, got {covariance!r}")
    with torch.no_grad():
        weight = head.linear.weight.detach().cpu().double().numpy()
        bias = head.linear.bias.detach().cpu().double().numpy()
    k, d = weight.shape
    if covariance == "identity":
        means, tril = weight - weight.mean(0), np.eye(d)
        fitted_on = ""
    else:
        z = as_array(z, "z", (None, d))
        y = check_labels(y, n=len(z), k=k)
        if len(z) < 2:
            raise ArgumentError(f"fitting Σ needs at least 2 latents, got {len(z)}")
        e = z - z.mean(0)
        c = weight[y] - weight[y].mean(0)
        n = len(z)
        if covariance == "isotropic":
            cov = np.eye(d) * _variances(n * d, np.square(e).sum(), np.square(c).sum())
        elif covariance == "diagonal":
            cov = np.diag(_variances(n, np.square(e).sum(0), np.square(c).sum(0)))
        else:
            cov = _riccati(n, e.T @ e, c.T @ c)
        cov = _floored(cov)
        if cov is None:
            raise ArgumentError(f"the {n} latents do not determine a {covariance} Σ: they do not vary")
        means = z.mean(0) + (weight - weight[y].mean(0)) @ cov
        tril = np.linalg.cholesky(cov)
        fitted_on = f"{n:,} latents" if fitted_on is None else fitted_on
    precision_means = np.linalg.solve(tril @ tril.T, means.T).T  # Σ⁻¹ μ_y, (K, d)
    log_prior = bias + 0.5 * (means * precision_means).sum(1)
    log_prior = log_prior - np.logaddexp.reduce(log_prior)
    return ImpliedGaussians(torch.from_numpy(means), torch.from_numpy(tril), torch.from_numpy(log_prior),
                            covariance, fitted_on).eval()


def reference_head(head: Head, z=None, y=None, covariance: str = DEFAULT_COVARIANCE,
                   fitted_on: str | None = None) -> Head:
    """The class distributions to check latents against: a learnt head's own, or for a linear layer
    the member of its family :func:`fit_implied` fits to latents z (N, d) with labels y (N,)."""
    if isinstance(head, LinearHead):
        return fit_implied(head, z, y, covariance, fitted_on)
    return head


VARIANCE_FLOOR = 1e-6
"""Σ's smallest variance (eigenvalue), relative to their mean: latents that do not vary along a
direction (a dead ReLU unit, a blank pixel) leave Σ singular, and the floor keeps it invertible while
that direction adds almost nothing to r² (the check then sees fewer effective dimensions than d)."""


def _floored(cov: np.ndarray) -> np.ndarray | None:
    """Σ with its eigenvalues floored at :data:`VARIANCE_FLOOR` times their mean; None if Σ is not finite
    or all of them are 0."""
    if not np.isfinite(cov).all():
        return None
    values, vectors = np.linalg.eigh(cov)
    scale = np.clip(values, 0, None).mean()
    if not scale > 0:
        return None
    if values.min() >= VARIANCE_FLOOR * scale:
        return cov
    values = np.maximum(values, VARIANCE_FLOOR * scale)
    return (vectors * values) @ vectors.T


def _riccati(n: int, s_ee: np.ndarray, s_cc: np.ndarray) -> np.ndarray:
    """The Σ ≻ 0 with Σ S_cc Σ + n Σ = S_ee: scipy's continuous algebraic Riccati solver with
    a = −(n/2) I, b bᵀ = S_cc, q = S_ee, r = I."""
    from scipy.linalg import solve_continuous_are  # here: scipy.linalg is not needed otherwise

    d = len(s_ee)
    values, vectors = np.linalg.eigh(s_cc)
    b = vectors * np.sqrt(np.clip(values, 0, None))
    try:
        cov = solve_continuous_are(-0.5 * n * np.eye(d), b, s_ee, np.eye(d))
    except (np.linalg.LinAlgError, ValueError):
        return np.full((d, d), math.nan)
    return 0.5 * (cov + cov.T)


__all__ = ["ImpliedGaussians", "fit_implied", "reference_head"]
