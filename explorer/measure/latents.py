"""Does q(z|y) match the head's p(z|y)? The χ² check, the discriminator's KL, prior samples (METHOD.md §4).

Every function works for every method: the Gaussian head exposes the class Gaussians it learns, the
linear softmax head those it implies (N(w_y − mean_k w_k, I), METHOD.md §1). Results are float64 numpy
arrays; inputs may be numpy arrays or torch tensors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy import stats
from torch import nn

from explorer.core._io import seeded
from explorer.core._validation import as_array, check_labels
from explorer.core.errors import ArgumentError
from explorer.core.objectives import ClassConditionalDiscriminator, discriminator_loss, kl_estimate
from explorer.measure.inference import predict


def squared_mahalanobis(z, means, log_vars, y) -> np.ndarray:
    """Squared Mahalanobis distance of each latent to its own class Gaussian.

    r²_i = Σ_j (z_ij − μ_{y_i j})² / σ²_{y_i j}. Shapes: z (N, d), means (K, d), log_vars (K, d) holding
    log σ², y (N,) integers in [0, K); returns (N,). If q(z|y) = p(z|y) = N(μ_y, diag σ²_y), then
    r² ~ χ²_d (a sum of d squared standard normals).
    """
    z, means, log_vars = (as_array(a, n, (None, None), nonempty=False)
                          for a, n in ((z, "z"), (means, "means"), (log_vars, "log_vars")))
    y = check_labels(y, k=len(means))
    if means.shape != log_vars.shape or z.shape[1] != means.shape[1] or len(y) != len(z):
        raise ArgumentError(
            f"need z (N, d), means and log_vars (K, d), y (N,); got {z.shape}, {means.shape}, "
            f"{log_vars.shape}, {y.shape}"
        )
    return ((z - means[y]) ** 2 * np.exp(-log_vars[y])).sum(axis=1)


def chi2_ks(r2, d: int) -> float:
    """Kolmogorov–Smirnov statistic sup_t |F_n(t) − F_χ²_d(t)| of r² (N,) against χ²_d.

    0 for a perfect match, near 1 for none; ~1.36 / √N is the 5 % critical value.
    """
    return reference_ks(r2, stats.chi2(d))


def reference_ks(r2, law) -> float:
    """KS statistic of r² (N,) against ``law``, the frozen ``scipy.stats`` law r² follows when the
    latents follow their prior (``head.r2_law()``: χ²_d for Gaussians, d·F(d, ν) for a Student-t)."""
    r2 = as_array(r2, "r2", (None,), nonempty=False)
    if not len(r2):
        raise ArgumentError("r2 is empty")
    return float(stats.kstest(r2, law.cdf).statistic)


@dataclass(frozen=True, eq=False)
class LatentFit:
    """How well each class's latents follow the head's class distribution.

    Attributes:
        r2: (N,) squared Mahalanobis distance of each latent to its class centre, in units of the
            class's scale; class k's values are ``r2[labels == k]``.
        norms: (N,) Euclidean norm |z_i| of each latent (CE latents grow along "spokes", METHOD.md §2).
        labels: (N,) class of each latent.
        ks: (K,) KS statistic of class k's r² against ``law``; NaN for a class with no latents.
        d: latent dimension.
        law: the frozen ``scipy.stats`` law of r² under the prior (``head.r2_law()``): χ²_d for a
            Gaussian head, d·F(d, ν) for a Student-t one.
    """

    r2: np.ndarray
    norms: np.ndarray
    labels: np.ndarray
    ks: np.ndarray
    d: int
    law: object

    @property
    def gaussian(self) -> bool:
        """The reference law is χ²_d: the classes are Gaussians (learned, or implied by softmax)."""
        return self.law.dist.name == "chi2"

    @property
    def law_name(self) -> str:
        """The reference law in words: ``"χ²(16)"``, or ``"16·F(16, 5)"`` for a Student-t prior."""
        if self.gaussian:
            return f"χ²({self.d})"
        return f"{self.d}·F({self.d}, {self.law.args[1]:g})"

    @property
    def median_ratio(self) -> float:
        """median(r²) ÷ the law's median: 1 when the latents spread as their prior does, below 1 when
        they gather inside it."""
        return float(np.median(self.r2) / self.law.median())

    @property
    def mean_ks(self) -> float:
        """Mean of the per-class KS statistics over the classes that have latents."""
        return float(np.nanmean(self.ks))


def latent_fit(model: nn.Module, x: torch.Tensor, y) -> LatentFit:
    """Compare the latents of images x (N, C, H, W) in [0, 1] with the head's class distributions
    (METHOD.md §4).

    y (N,) holds the true labels: q(z|y) is conditioned on the label, not on the prediction. The
    distributions are the learned ones or, for softmax, the implied N(w_y − mean_k w_k, I)
    (METHOD.md §1); r² is compared with the law it follows under them (``head.r2_law()``).
    """
    _, z = predict(model, x)
    return fit_latents(model.head, z, y)


def fit_latents(head: nn.Module, z, y) -> LatentFit:
    """:func:`latent_fit` for latents already computed: z (N, d) against ``head``'s class distributions.

    For users who hold a model's outputs only (a predictions bundle, :meth:`Bundle.linear_head
    <explorer.core.bundles.Bundle.linear_head>` gives its head).
    """
    z = as_array(z, "z", (None, None), nonempty=False)
    with torch.no_grad():
        means, log_vars = head.class_means().cpu(), head.class_log_vars().cpu()
    labels = check_labels(y, k=len(means))
    r2 = squared_mahalanobis(z, means, log_vars, labels)
    law = head.r2_law()
    ks = np.array([reference_ks(r2[labels == k], law) if (labels == k).any() else np.nan
                   for k in range(len(means))])
    return LatentFit(r2=r2, norms=np.linalg.norm(z, axis=1), labels=labels, ks=ks, d=z.shape[1], law=law)


def discriminator_kl(model: nn.Module, x: torch.Tensor, y, steps: int = 300, hidden: int = 0,
                     seed: int = 0) -> float:
    """A freshly fitted class-conditional discriminator's estimate of E_y KL(q(z|y) ‖ p(z|y)) (METHOD.md §4).

    The latents of images x (N, C, H, W) with labels y (N,) are split in two halves (with ``seed``).
    T (linear per class by default, as in training; ``hidden`` > 0: an MLP) learns by logistic
    regression, ``steps`` full-batch AdamW steps with training's weight decay, to tell the first
    half from as many samples of p(z|y) for the same labels; the estimate is the mean of T over the
    second half, so it is not read off the points T was fitted on. It works for any head: for softmax,
    p(z|y) are the Gaussians the linear layer implies. Latents that the prior never reaches (softmax's
    spokes) are separable, so T, and the estimate, grow with ``steps``: compare methods at equal steps.
    """
    _, z = predict(model, x)
    labels = torch.as_tensor(np.asarray(y), dtype=torch.long)
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(z), generator=generator)
    fit, held_out = order[: len(z) // 2], order[len(z) // 2:]
    with torch.no_grad():
        device = next(model.parameters()).device
        fake = model.head.sample(labels[fit].to(device),
                                 torch.Generator(device=device).manual_seed(seed)).float().cpu()
    with seeded(seed):
        discriminator = ClassConditionalDiscriminator(z.shape[1], model.head.class_means().shape[0], hidden)
    optimiser = torch.optim.AdamW(discriminator.parameters(), lr=1e-2, weight_decay=0.01)
    for _ in range(steps):
        loss, _ = discriminator_loss(discriminator, z[fit], fake, labels[fit])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    with torch.no_grad():
        return float(kl_estimate(discriminator, z[held_out], labels[held_out]))


def gaussian_ellipse(mean, var, n_std: float = 1.0, n_points: int = 100) -> np.ndarray:
    """Closed contour {p : Σ_j (p_j − μ_j)² / σ²_j = n_std²} of a 2-D diagonal Gaussian, (n_points, 2).

    mean (2,), var (2,) holding σ². The first and last points coincide, so the curve draws closed.
    """
    mean, var = as_array(mean, "mean", (None,)), as_array(var, "var", (None,))
    if mean.shape != (2,) or var.shape != (2,):
        raise ArgumentError(f"mean and var must have shape (2,), got {mean.shape} and {var.shape}")
    if not (var > 0).all() or not n_std > 0 or n_points < 3:
        raise ArgumentError(f"need var > 0, n_std > 0 and n_points >= 3, got {var}, {n_std}, {n_points}")
    angle = np.linspace(0, 2 * np.pi, n_points)
    return mean + n_std * np.sqrt(var) * np.column_stack([np.cos(angle), np.sin(angle)])


def prior_samples(model: nn.Module, n_per_class: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n_per_class draws z ~ p(z | y) from each of the head's K class Gaussians.

    ``model`` is a model or its head alone (a bundle's :meth:`~explorer.core.bundles.Bundle.linear_head`).
    Returns z (K · n_per_class, d) and y (K · n_per_class,), class by class. ``seed`` seeds a
    ``torch.Generator`` on the model's device (draws differ between devices).
    """
    if n_per_class < 1:
        raise ArgumentError(f"n_per_class must be >= 1, got {n_per_class}")
    head = getattr(model, "head", model)
    with torch.no_grad():
        means = head.class_means()
        y = torch.arange(len(means), device=means.device).repeat_interleave(n_per_class)
        generator = torch.Generator(device=means.device).manual_seed(seed)
        z = head.sample(y, generator)
    return z.cpu().double().numpy(), y.cpu().numpy()


__all__ = [
    "LatentFit", "chi2_ks", "discriminator_kl", "fit_latents", "gaussian_ellipse", "latent_fit", "prior_samples",
    "reference_ks", "squared_mahalanobis",
]
