"""The loss terms of variational classification (Dhuliawala et al., TMLR 2024; METHOD.md §2–3).

Maximising L_VC = E[log p(y|z)] − β·E_y KL(q(z|y) ‖ p(z|y)) is done by minimising, per batch,

    cross_entropy + λ_prior · prior_nll + λ_kl · kl_estimate

where ``prior_nll`` is the exact −E log p(z|y) part of the KL and ``kl_estimate`` the density-ratio
estimate of the whole KL, E_q[log q − log p], read off a class-conditional discriminator T(z, y)
trained by logistic regression to tell encoder latents (label 1) from prior samples (label 0). The
−E log p part thus enters twice, as in the authors' code: T is held fixed in the main loss, so only
``prior_nll`` gives the prior's parameters a gradient.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

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
    ``hidden > 0``: a two-layer MLP with one output per class, read at the label's output.
    """

    def __init__(self, latent_dim: int, num_classes: int, hidden: int = 0) -> None:
        super().__init__()
        if hidden:
            self.net = nn.Sequential(
                nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                nn.Linear(hidden, num_classes),
            )
        else:
            self.net = nn.Linear(latent_dim, num_classes)

    def forward(self, z: Tensor, y: Tensor) -> Tensor:
        """z (N, d), y (N,) → T(z_i, y_i) (N,)."""
        return self.net(z).gather(1, y.unsqueeze(1)).squeeze(1)


def kl_estimate(discriminator: ClassConditionalDiscriminator, z: Tensor, y: Tensor) -> Tensor:
    """mean_i T(z_i, y_i) ≈ E_y KL(q(z|y) ‖ p(z|y)): scalar.

    With T at the logistic-regression optimum, T = log q(z|y) − log p(z|y) (density-ratio trick,
    Sugiyama et al. 2012), so its mean over encoder latents estimates the KL.
    """
    return discriminator(z, y).mean()


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
