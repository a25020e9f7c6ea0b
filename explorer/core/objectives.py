"""The loss terms of variational classification (Dhuliawala et al., TMLR 2024; METHOD.md §2–3).

Maximising L_VC = E[log p(y|z)] − β·E_y KL(q(z|y) ‖ p(z|y)) is done by minimising, per batch,

    cross_entropy + λ_prior · prior_nll + λ_kl · kl_estimate

where ``prior_nll`` is the exact −E log p(z|y) part of the KL and ``kl_estimate`` the density-ratio
estimate of the whole KL, E_q[log q − log p], read off a class-conditional discriminator T(z, y)
trained by logistic regression to tell encoder latents (label 1) from prior samples (label 0). The
−E log p part thus enters twice, as in the authors' code: T is held fixed in the main loss, so only
``prior_nll`` gives the prior's parameters a gradient.

That is the ``released`` objective (METHOD.md §3). The ``paper`` objective (§3b) takes ``prior_nll``
on detached latents, so it fits the prior and leaves the encoder to the cross-entropy and the KL
estimate; the estimate is the discriminator's (linear, quadratic or an MLP) or :func:`moment_kl`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from explorer.core.errors import ArgumentError
from explorer.core.models import Head

METHOD_TERMS: dict[str, tuple[str, ...]] = {
    "softmax": (),
    "gaussian": (),
    "lgm": ("prior_nll",),
    "vc": ("prior_nll", "kl"),
}
"""Loss terms each method adds to the cross-entropy (METHOD.md §3's table)."""


def cross_entropy(logits: Tensor, y: Tensor) -> Tensor:
    """−mean_i log p(y_i | z_i): logits (N, K), y (N,) → scalar. Minus the ELBO of METHOD.md §2."""
    return F.cross_entropy(logits, y)


def prior_nll(head: Head, z: Tensor, y: Tensor) -> Tensor:
    """mean_i −log p(z_i | y_i) under the head's class-conditionals: z (N, d), y (N,) → scalar.

    The exact (cross-entropy) part of KL(q(z|y) ‖ p(z|y)); the only term that pulls the prior's
    parameters towards the latents. Called the "likelihood" term in Wan et al.'s LGM loss (2018).
    """
    return -head.log_prob(z).gather(1, y.unsqueeze(1)).mean()


class ClassConditionalDiscriminator(nn.Module):
    """T(z, y): the log density ratio log q(z|y) − log p(z|y) at its optimum.

    ``hidden = 0``: one linear function per class, T(z, y) = w_yᵀz + b_y (the authors' default).
    It sees where the latents sit but not how widely they spread: the log ratio of two Gaussians
    with different variances is quadratic in z.
    ``quadratic``: T(z, y) = w_yᵀz + v_yᵀ(z ⊙ z) + b_y, which holds the exact log ratio of any two
    diagonal Gaussians (METHOD.md §3b).
    ``hidden > 0``: a two-layer MLP with one output per class, read at the label's output.
    """

    def __init__(self, latent_dim: int, num_classes: int, hidden: int = 0, quadratic: bool = False) -> None:
        super().__init__()
        if hidden and quadratic:
            raise ArgumentError("a discriminator is either an MLP (hidden > 0) or quadratic, not both")
        self.quadratic = quadratic
        if quadratic:
            self.net = nn.Linear(2 * latent_dim, num_classes)
        elif hidden:
            self.net = nn.Sequential(
                nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                nn.Linear(hidden, num_classes),
            )
        else:
            self.net = nn.Linear(latent_dim, num_classes)

    def forward(self, z: Tensor, y: Tensor) -> Tensor:
        """z (N, d), y (N,) → T(z_i, y_i) (N,)."""
        features = torch.cat([z, z * z], dim=1) if self.quadratic else z
        return self.net(features).gather(1, y.unsqueeze(1)).squeeze(1)


def kl_estimate(discriminator: ClassConditionalDiscriminator, z: Tensor, y: Tensor) -> Tensor:
    """mean_i T(z_i, y_i) ≈ E_y KL(q(z|y) ‖ p(z|y)): scalar.

    With T at the logistic-regression optimum, T = log q(z|y) − log p(z|y) (density-ratio trick,
    Sugiyama et al. 2012), so its mean over encoder latents estimates the KL.
    """
    return discriminator(z, y).mean()


def moment_kl(head: Head, z: Tensor, y: Tensor, min_per_class: int = 2, correlation: bool = False) -> Tensor:
    """E_y KL(N(m_y, diag s²_y) ‖ p(z|y)) from each class's batch moments, a scalar whose minimiser is
    the prior.

    m_y and s²_y are the mean and the (unbiased) variance of the batch's n_y latents of class y, so the
    value is differentiable in z; the prior's means and variances are held fixed (detached): this
    term moves the encoder only. Per class and dimension,
    KL = ½ [log σ²_yj − log s²_yj + (s²_yj + (m_yj − μ_yj)² − s²_yj / n_y) / σ²_yj − 1], summed over j
    and averaged over the classes weighted by their share of the batch.

    The − s²/n term removes the bias of a batch mean: E(m − μ)² = (E m − μ)² + var/n, so without it
    the expected loss is least at var = σ² · n/(n + 1), not at σ², and the latents settle that much
    inside their prior: n/(n + 1) = 0.86 with about 6.4 latents of a class in digits' batches of 64,
    0.93 with about 12.8 in MNIST's of 128. With it, the expected
    loss is the KL between the class's latent Gaussian and its prior up to a constant, least at the
    prior. The value itself can then dip below 0 on a batch.

    It matches two moments only: latents with the right mean and variance but another shape score 0.
    And it needs several latents of each class in a batch: classes with fewer than ``min_per_class``
    (at least 2, for a variance) are left out, and the estimate of s² is noisy when a class has few;
    batch sizes of several times the number of classes suit it. A batch with no such class gives 0,
    which then says nothing about the fit. z (N, d), y (N,).

    With ``correlation`` it also sees how the dimensions vary together, which a diagonal KL cannot:
    latents whose per-dimension means and variances match the prior but whose dimensions are
    correlated have an r² that varies more than χ²_d does, so the χ² check's KS stays high (on digits,
    ``moment`` against ``moment_corr`` in ``docs/tuning/digits-d16.md``). The KL of a Gaussian with
    correlation matrix R against a diagonal one is the diagonal KL plus −½ log det R; one class's R is
    singular with fewer latents than dimensions, so R here is pooled over the batch's classes
    (residuals from each class's mean, in units of its batch standard deviation), and the term is left
    out when the classes give no more than d degrees of freedom. It pushes the average correlation, not each
    class's, to 0.
    """
    if min_per_class < 2:
        raise ArgumentError(f"min_per_class must be >= 2 (a variance needs two latents), got {min_per_class}")
    means, log_vars = head.class_means().detach(), head.class_log_vars().detach()
    total, count = z.new_zeros(()), 0
    residuals, dof = [], 0
    for k in y.unique():
        members = z[y == k]
        n = len(members)
        if n < min_per_class:
            continue
        m, s2 = members.mean(0), members.var(0) + 1e-8  # a collapsed class stays finite and still pushed
        var = log_vars[k].exp()
        kl = 0.5 * (log_vars[k] - s2.log() + (s2 + (m - means[k]).square() - s2 / n) / var - 1).sum()
        total, count = total + n * kl, count + n
        if correlation:
            residuals.append((members - m) / s2.sqrt())
            dof += n - 1
    if not count:
        return total
    total = total / count
    d = z.shape[1]
    if correlation and d > 1 and dof > d:
        r = torch.cat(residuals)
        pooled = r.T @ r / dof  # unit diagonal: each class's residuals are in units of its own deviation
        total = total - 0.5 * torch.linalg.slogdet(pooled + 1e-6 * torch.eye(d, device=z.device, dtype=z.dtype))[1]
    return total


def discriminator_loss(
    discriminator: ClassConditionalDiscriminator, real: Tensor, fake: Tensor, y: Tensor
) -> tuple[Tensor, Tensor]:
    """Logistic loss for T: BCE(T(real), 1) + BCE(T(fake), 0); also the accuracy at threshold 0.

    real: encoder latents (N, d), fake: prior samples for the same labels (N, d), y (N,).
    Returns (loss, accuracy), both scalars; the accuracy is over the 2N points.
    """
    t_real, t_fake = discriminator(real, y), discriminator(fake, y)
    loss = F.binary_cross_entropy_with_logits(t_real, torch.ones_like(t_real)) + \
        F.binary_cross_entropy_with_logits(t_fake, torch.zeros_like(t_fake))
    accuracy = torch.cat([t_real > 0, t_fake <= 0]).float().mean()
    return loss, accuracy
