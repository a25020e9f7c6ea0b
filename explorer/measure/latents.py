"""Does q(z|y) match the head's p(z|y)? The χ² check, the discriminator's KL, prior samples (METHOD.md §4).

Every function works for every method: the Gaussian head exposes the class Gaussians it learns; for a
linear softmax layer the latents are checked against the member of its implied family fitted to them
(:mod:`explorer.core.implied`, METHOD.md §1), given as ``reference`` or fitted on the latents at hand.
Results are float64 numpy arrays; inputs may be numpy arrays or torch tensors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy import linalg, stats
from torch import nn

from explorer.core._io import seeded
from explorer.core._validation import as_array, check_labels
from explorer.core.checkpoints import checkpoint_validation_split
from explorer.core.config import DEFAULT_COVARIANCE
from explorer.core.data import Dataset
from explorer.core.errors import ArgumentError
from explorer.core.implied import reference_head
from explorer.core.models import LinearHead
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


def ks_critical_value(n: int, level: float = 0.05) -> float:
    """The KS statistic that n draws from the reference law itself exceed with probability ``level``
    (the exact one-sample law, ``scipy.stats.kstwo``): a larger KS is a mismatch at that level, a smaller
    one is within chance at this n. About 1.36/√n at 5 %."""
    if n < 1 or not 0 < level < 1:
        raise ArgumentError(f"need n >= 1 and 0 < level < 1, got {n} and {level}")
    return float(stats.kstwo(n).isf(level))


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

    def mean_ks_critical(self, level: float = 0.05) -> float:
        """Mean over the classes with latents of :func:`ks_critical_value` at each class's count: what
        :attr:`mean_ks` would stay under, at ``level``, were every class's latents drawn from the law."""
        return float(np.mean(self._critical(level)[~np.isnan(self.ks)]))

    def classes_beyond(self, level: float = 0.05) -> int:
        """How many classes' KS exceeds :func:`ks_critical_value` at their count: a mismatch at ``level``."""
        return int(np.sum(self.ks > self._critical(level)))

    def _critical(self, level: float) -> np.ndarray:
        counts = np.bincount(self.labels, minlength=len(self.ks))
        return np.array([ks_critical_value(int(n), level) if n else np.nan for n in counts])


def latent_fit(model: nn.Module, x: torch.Tensor, y, reference: nn.Module | None = None) -> LatentFit:
    """Compare the latents of images x (N, C, H, W) in [0, 1] with the head's class distributions
    (METHOD.md §4).

    y (N,) holds the true labels: q(z|y) is conditioned on the label, not on the prediction. The
    distributions are ``reference`` (:func:`fitted_reference`): by default the learned ones or, for
    a linear softmax layer, the member of its family fitted to these very latents (a little
    optimistic: pass one fitted on validation latents). r² is compared with the law it follows under
    them (``head.r2_law()``).
    """
    _, z = predict(model, x)
    return fit_latents(reference_head(model.head, z, y) if reference is None else reference, z, y)


def fitted_reference(model: nn.Module, x: torch.Tensor, y, covariance: str = DEFAULT_COVARIANCE,
                     fitted_on: str | None = None) -> nn.Module:
    """The class distributions to check ``model``'s latents against (:func:`explorer.core.implied.reference_head`):
    its head's own, or for a linear softmax layer the member of its family fitted to the latents of
    images x (N, C, H, W) with labels y (N,), best a validation split's. ``fitted_on`` words them."""
    if not isinstance(model.head, LinearHead):
        return model.head
    _, z = predict(model, x)
    return reference_head(model.head, z, y, covariance, fitted_on)


def checkpoint_reference(model: nn.Module, meta: dict, covariance: str = DEFAULT_COVARIANCE,
                         train: Dataset | None = None, test: Dataset | None = None) -> nn.Module:
    """:func:`fitted_reference` of a loaded checkpoint (``meta``: its metadata): for a linear layer, the
    member fitted to its validation split (rebuilt from ``train``, its training split, loaded when not
    given) or, for a checkpoint that does not record its split, to ``test``'s latents, as its
    ``fitted_on`` says. What the app, ``evaluate --latent-fit`` and ``project`` check and draw."""
    if not isinstance(model.head, LinearHead) or covariance == "identity":
        return reference_head(model.head, None, None, covariance)
    if "train_config" in meta:
        val = checkpoint_validation_split(model, meta, train)
        return fitted_reference(model, val.x, val.y, covariance, f"{len(val.y):,} validation latents")
    if test is None:
        raise ArgumentError("this checkpoint does not record its validation split: give test data to fit its "
                            "implied Gaussians on")
    return fitted_reference(model, test.x, test.y, covariance, f"the {len(test.y):,} test latents it is checked "
                            "on: the checkpoint does not record its validation split")


def fit_latents(head: nn.Module, z, y) -> LatentFit:
    """:func:`latent_fit` for latents already computed: z (N, d) against ``head``'s class distributions
    (for a linear layer, pass :func:`explorer.core.implied.reference_head`'s fitted member).

    For users who hold a model's outputs only (a predictions bundle, :meth:`Bundle.linear_head
    <explorer.core.bundles.Bundle.linear_head>` gives its head).
    """
    z = as_array(z, "z", (None, None), nonempty=False)
    with torch.no_grad():
        means = head.class_means().detach().cpu().double().numpy()
        trils = np.linalg.cholesky(head.covariances().detach().cpu().double().numpy())
    labels = check_labels(y, k=len(means))
    if z.shape[1] != means.shape[1] or len(labels) != len(z):
        raise ArgumentError(f"need z (N, {means.shape[1]}) and y (N,); got {z.shape} and {labels.shape}")
    r2 = np.zeros(len(z))
    for k in np.unique(labels):
        rows = labels == k
        white = linalg.solve_triangular(trils[k], (z[rows] - means[k]).T, lower=True)
        r2[rows] = np.square(white).sum(0)
    law = head.r2_law()
    ks = np.array([reference_ks(r2[labels == k], law) if (labels == k).any() else np.nan
                   for k in range(len(means))])
    return LatentFit(r2=r2, norms=np.linalg.norm(z, axis=1), labels=labels, ks=ks, d=z.shape[1], law=law)


def discriminator_kl(model: nn.Module, x: torch.Tensor, y, steps: int = 300, hidden: int = 0,
                     seed: int = 0, reference: nn.Module | None = None) -> float:
    """A freshly fitted class-conditional discriminator's estimate of E_y KL(q(z|y) ‖ p(z|y)) (METHOD.md §4).

    The latents of images x (N, C, H, W) with labels y (N,) are split in two halves (with ``seed``).
    T (linear per class by default, as in training; ``hidden`` > 0: an MLP) learns by logistic
    regression, ``steps`` full-batch AdamW steps with training's weight decay, to tell the first
    half from as many samples of p(z|y) for the same labels; the estimate is the mean of T over the
    second half, so it is not read off the points T was fitted on. It works for any head: p(z|y) is
    ``reference`` (:func:`fitted_reference`; by default the head's own or, for softmax, the member of
    the linear layer's family fitted to these latents). Latents that the prior never reaches (softmax's
    spokes) are separable, so T, and the estimate, grow with ``steps``: compare methods at equal steps.
    """
    _, z = predict(model, x)
    labels = torch.as_tensor(np.asarray(y), dtype=torch.long)
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(z), generator=generator)
    fit, held_out = order[: len(z) // 2], order[len(z) // 2:]
    head = reference_head(model.head, z, labels) if reference is None else reference
    with torch.no_grad():
        device = head.class_means().device
        fake = head.sample(labels[fit].to(device), torch.Generator(device=device).manual_seed(seed)).float().cpu()
    with seeded(seed):
        discriminator = ClassConditionalDiscriminator(z.shape[1], head.class_means().shape[0], hidden)
    optimiser = torch.optim.AdamW(discriminator.parameters(), lr=1e-2, weight_decay=0.01)
    for _ in range(steps):
        loss, _ = discriminator_loss(discriminator, z[fit], fake, labels[fit])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    with torch.no_grad():
        return float(kl_estimate(discriminator, z[held_out], labels[held_out]))


def gaussian_ellipse(mean, var, n_std: float = 1.0, n_points: int = 100) -> np.ndarray:
    """Closed contour {p : (p − μ)ᵀ Σ⁻¹ (p − μ) = n_std²} of a 2-D Gaussian, (n_points, 2).

    mean (2,); var (2,) holding the variances σ² of a diagonal Σ, or Σ itself (2, 2). The first and
    last points coincide, so the curve draws closed.
    """
    mean, var = as_array(mean, "mean", (None,)), as_array(var, "var")
    if mean.shape != (2,) or var.shape not in ((2,), (2, 2)):
        raise ArgumentError(f"mean must have shape (2,) and var (2,) or (2, 2), got {mean.shape} and {var.shape}")
    cov = np.diag(var) if var.ndim == 1 else var
    if not (np.linalg.eigvalsh(cov) > 0).all() or not np.allclose(cov, cov.T) or not n_std > 0 or n_points < 3:
        raise ArgumentError(f"need var > 0 (Σ ≻ 0), n_std > 0 and n_points >= 3, got {var.tolist()}, {n_std}, "
                            f"{n_points}")
    angle = np.linspace(0, 2 * np.pi, n_points)
    return mean + n_std * np.column_stack([np.cos(angle), np.sin(angle)]) @ np.linalg.cholesky(cov).T


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
    "LatentFit", "checkpoint_reference", "chi2_ks", "discriminator_kl", "fit_latents", "fitted_reference",
    "gaussian_ellipse", "ks_critical_value", "latent_fit", "prior_samples", "reference_ks", "squared_mahalanobis",
]
