"""L∞ adversarial attacks (FGSM, PGD) in pixel space, and robust accuracy.

Every attack works on images x of shape (N, C, H, W) with values in [0, 1], *before* normalisation
(normalisation lives inside the model), so ε, the step size α and every perturbation are in pixel
units of [0, 1]: ε = 8/255 is one 8-bit grey level times 8. Attacks only call ``model(x)`` (logits,
shape (N, K)) and, for :func:`latent_path`, ``model.embed(x)`` (latents, shape (N, d)); they never
look at what kind of model they attack.

Every attack has one call shape, ``run_attack(model, x, y, config, visit=None)`` with an
:class:`~explorer.core.config.AttackConfig`; :func:`fgsm` and :func:`pgd` are the same attacks with
their settings as arguments. ``visit(step, x_t)`` (:data:`Visit`), if given, sees every iterate, so
a caller can record the attack's path without knowing how each attack walks.

During an attack the model is in eval mode (dropout off, batch-norm statistics frozen); every
module's previous train/eval flag is restored afterwards, also when the attack raises. Gradients
are taken with ``torch.autograd.grad`` with respect to the input only, so the parameters' ``.grad``
fields are never touched. x and y must be on the model's device.

References:
    Goodfellow, Shlens, Szegedy, *Explaining and Harnessing Adversarial Examples*, ICLR 2015 (FGSM).
    Madry, Makelov, Schmidt, Tsipras, Vladu, *Towards Deep Learning Models Resistant to Adversarial
    Attacks*, ICLR 2018 (PGD with random start).
"""

from __future__ import annotations

import contextlib
import dataclasses
import numbers
from collections.abc import Callable, Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from explorer.core._validation import check_labels
from explorer.core.config import ATTACKS, PGD_STEP_SCALE, AttackConfig, check_attack_params
from explorer.core.errors import ArgumentError


@contextlib.contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    """Put ``model`` in eval mode; restore each submodule's own flag on exit (mixed modes survive)."""
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for module, training in modes:
            module.training = training


def _check_batch(x: Tensor, y: Tensor) -> None:
    if not x.is_floating_point():
        raise ArgumentError(f"attacks perturb pixels of images in [0, 1]; got {x.dtype} {tuple(x.shape)} (token "
                            "ids of text have no pixels to perturb)")
    if x.ndim != 4 or len(x) == 0:
        raise ArgumentError(f"x must be a non-empty batch of shape (N, C, H, W), got {tuple(x.shape)}")
    try:
        check_labels(y, len(x), name="y")
    except ArgumentError:  # said against the batch: one label per image of x
        raise ArgumentError(
            f"y must hold integer labels of shape ({len(x)},) to match x {tuple(x.shape)}, "
            f"got {y.dtype} of shape {tuple(y.shape)}"
        ) from None
    lo, hi = x.min().item(), x.max().item()
    if not (0 <= lo and hi <= 1):  # written so that NaN fails too
        raise ArgumentError(f"x must lie in [0, 1] (pixels before normalisation), got [{lo}, {hi}]")


def default_alpha(eps: float, steps: int) -> float:
    """PGD step size when none is given: α = s·ε/steps with s = :data:`~explorer.core.config.PGD_STEP_SCALE`
    (Madry et al. 2018).

    With this rule a walk of ``steps`` steps can cross the ε-ball from one face to the other and
    back a little, so the iterate can reach any corner of the ball even from a random start.
    """
    return PGD_STEP_SCALE * eps / steps


def attack_loss(logits: Tensor, y: Tensor) -> Tensor:
    """What FGSM and PGD climb: Σ_i [log Σ_{k≠y_i} exp(logit_ik) − logit_iy_i], the log-odds of a wrong class.

    The cross-entropy is CE_i = softplus(m_i) of this per-example m_i, so ∇_x CE_i = σ(m_i)·∇_x m_i
    with σ(m_i) > 0: the two have the same sign in every pixel, and the attacks are exactly the
    cross-entropy attacks of Goodfellow et al. and Madry et al. (each example's loss depends only on
    its own image: the model is in eval mode). What differs is what survives in floating point. CE's
    gradient in the logits is p − onehot(y); when the true class leads by g nats the wrong classes'
    p_k ≈ e^(−g) underflow to exactly 0 in float32 once g exceeds about 103 (in float64, 744), and
    Gaussian heads with small σ² reach gaps of hundreds of nats. The gradient is then 0, sign(0) = 0
    and the attack leaves the image where it is, overstating robust accuracy without a word. The
    gradient of m in the logits is softmax over the wrong classes (which sum to 1) minus onehot(y):
    nothing in it underflows, whatever the gap. Float64 logits would only move the cliff to 745 nats,
    and a Carlini–Wagner margin (max_{k≠y} logit_k − logit_y) would change the attack's direction.

    Summed over the batch, not averaged: each example's gradient is then independent of the batch
    size (a 1/N factor can underflow to exactly zero too).

    Args:
        logits: (N, K), K >= 2.
        y: (N,) integer labels in [0, K).

    Returns:
        A scalar tensor (nats).
    """
    true = logits.gather(1, y[:, None])
    wrong = logits.masked_fill(F.one_hot(y, logits.shape[1]).bool(), float("-inf"))
    return (torch.logsumexp(wrong, dim=1, keepdim=True) - true).sum()


Visit = Callable[[int, Tensor], None]
"""``visit(step, x_t)``: called in eval mode, under ``torch.enable_grad``, with step 0 and the clean x,
then with step t and the iterate after step t (t = 1, …, steps; FGSM has one step); x_t is detached,
(N, C, H, W) in [0, 1]. PGD's random start is not an iterate and is not visited."""


def _pgd_loop(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    eps: float,
    alpha: float | None,
    steps: int,
    random_start: bool,
    seed: int | None,
    visit: Visit | None,
) -> Tensor:
    """The PGD iteration shared by :func:`fgsm` and :func:`pgd` (arguments as :func:`pgd` takes them)."""
    check_attack_params(eps, alpha, steps)
    _check_batch(x, y)
    alpha = default_alpha(eps, steps) if alpha is None else alpha
    x, y = x.detach(), y.long()
    # enable_grad: callers (the app, robust_accuracy) may run inside torch.no_grad().
    with _eval_mode(model), torch.enable_grad():
        if visit:
            visit(0, x)
        x_adv = x
        if random_start:
            generator = None if seed is None else torch.Generator(x.device).manual_seed(seed)
            noise = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
            x_adv = (x + eps * (2 * noise - 1)).clamp(0, 1)
        for step in range(1, steps + 1):
            x_adv = x_adv.detach().requires_grad_()
            loss = attack_loss(model(x_adv), y)
            (grad,) = torch.autograd.grad(loss, x_adv)
            x_adv = x_adv.detach() + alpha * grad.sign()
            x_adv = torch.minimum(torch.maximum(x_adv, x - eps), x + eps).clamp(0, 1)
            if visit:
                visit(step, x_adv)
    return x_adv


def fgsm(model: nn.Module, x: Tensor, y: Tensor, eps: float, visit: Visit | None = None) -> Tensor:
    """Fast gradient sign method (Goodfellow et al. 2015), untargeted, L∞.

    x_adv = clip_[0,1](x + ε·sign(∇_x CE(model(x), y))): one PGD step of size ε from x itself. The sign
    is taken of :func:`attack_loss`'s gradient, the same as CE's without its underflow.

    Args:
        model: returns logits (N, K) for images in [0, 1].
        x: clean images, (N, C, H, W), float in [0, 1].
        y: true labels, (N,), integers in [0, K).
        eps: L∞ budget in pixel units of [0, 1], in [0, 1]; 0 returns x unchanged.
        visit: called with (0, x), then (1, x_adv) (:data:`Visit`).

    Returns:
        Detached adversarial images, (N, C, H, W), in [0, 1], with ‖x_adv − x‖∞ ≤ ε.
    """
    return _pgd_loop(model, x, y, eps, alpha=eps, steps=1, random_start=False, seed=None, visit=visit)


def pgd(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    eps: float,
    alpha: float | None = None,
    steps: int = 10,
    random_start: bool = True,
    seed: int | None = None,
    visit: Visit | None = None,
) -> Tensor:
    """Projected gradient descent on the cross-entropy (Madry et al. 2018), untargeted, L∞.

    Start at x, or uniformly at random in the ε-ball around x (clipped to [0, 1]); then ``steps``
    times: x ← Π(x + α·sign(∇_x CE(model(x), y))), where Π projects onto the ε-ball around the clean
    x and then clips to [0, 1] (the two boxes intersect in a box, so the result is in both). The sign
    is taken of :func:`attack_loss`'s gradient, the same as CE's without its underflow.

    Args:
        model: returns logits (N, K) for images in [0, 1].
        x: clean images, (N, C, H, W), float in [0, 1].
        y: true labels, (N,), integers in [0, K).
        eps: L∞ budget in pixel units of [0, 1], in [0, 1]; 0 returns x unchanged.
        alpha: step size in pixel units; None uses :func:`default_alpha`.
        steps: number of gradient steps, >= 1.
        random_start: start from a uniform draw in the ε-ball instead of x.
        seed: seeds the random start's ``torch.Generator`` (same seed, same device → same result);
            None draws from torch's global generator.
        visit: called with (0, x), then (t, x_t) after each step t (:data:`Visit`).

    Returns:
        Detached adversarial images, (N, C, H, W), in [0, 1], with ‖x_adv − x‖∞ ≤ ε.
    """
    return _pgd_loop(model, x, y, eps, alpha, steps, random_start, seed, visit)


# One call shape for every attack: (model, x, y, config, visit) -> x_adv.
ATTACK_FUNCTIONS: dict[str, Callable[[nn.Module, Tensor, Tensor, AttackConfig, Visit | None], Tensor]] = {
    "fgsm": lambda model, x, y, c, visit: fgsm(model, x, y, c.eps, visit),
    "pgd": lambda model, x, y, c, visit: pgd(model, x, y, c.eps, c.alpha, c.steps, c.random_start, c.seed, visit),
}


def run_attack(model: nn.Module, x: Tensor, y: Tensor, config: AttackConfig, visit: Visit | None = None) -> Tensor:
    """Attack x (N, C, H, W) in [0, 1] with labels y (N,) as ``config`` says; returns x_adv.

    ``visit(step, x_t)`` sees the clean x, then every iterate (:data:`Visit`).
    """
    if config.attack not in ATTACK_FUNCTIONS:
        raise ArgumentError(f"unknown attack {config.attack!r}; allowed: {', '.join(ATTACK_FUNCTIONS)}")
    return ATTACK_FUNCTIONS[config.attack](model, x, y, config, visit)


def latent_path(model: nn.Module, x: Tensor, y: Tensor, config: AttackConfig) -> tuple[Tensor, Tensor]:
    """:func:`run_attack`, also recording the latent ``model.embed`` of every iterate (to draw its path).

    With the same arguments, x_adv is identical to :func:`run_attack`'s.

    Returns:
        x_adv: (N, C, H, W), as :func:`run_attack` returns it.
        latents: (T + 1, N, d) for an attack of T steps (PGD: ``config.steps``; FGSM: 1); latents[0]
            is the clean latent embed(x), latents[t] the latent after step t, so latents[-1] =
            embed(x_adv). PGD's random start itself is not recorded.
    """
    latents = []

    def record(step: int, x_t: Tensor) -> None:
        with torch.no_grad():  # a latent to draw, not a graph to differentiate
            latents.append(model.embed(x_t))

    x_adv = run_attack(model, x, y, config, visit=record)
    return x_adv, torch.stack(latents)


def robust_accuracy(
    model: nn.Module, x: Tensor, y: Tensor, config: AttackConfig, batch_size: int = 256
) -> float:
    """Fraction of examples the model (in eval mode) still classifies correctly after the attack.

    x: (N, C, H, W) in [0, 1]; y: (N,). Attacked in batches of ``batch_size``, each with the same
    ``config`` (so a seeded random start repeats its noise pattern from batch to batch).
    With eps = 0 this is the clean accuracy.
    """
    if not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ArgumentError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    _check_batch(x, y)
    correct = 0
    with _eval_mode(model):
        for x_batch, y_batch in zip(x.split(batch_size), y.split(batch_size)):
            x_adv = run_attack(model, x_batch, y_batch, config)
            with torch.no_grad():
                correct += (model(x_adv).argmax(dim=1) == y_batch).sum().item()
    return correct / len(x)


def accuracy_vs_eps(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    config: AttackConfig,
    eps_values: Sequence[float],
    batch_size: int = 256,
    progress: Callable[[int, int], None] | None = None,
) -> list[float]:
    """Robust accuracy for each ε in ``eps_values`` (pixel units), other settings from ``config``.

    A fixed ``config.alpha`` stays fixed for every ε; alpha = None rescales with ε.
    ``progress(done, total)`` is called after each ε, with total = len(eps_values).
    """
    configs = [dataclasses.replace(config, eps=eps) for eps in eps_values]  # validates them all first
    accuracies = []
    for done, eps_config in enumerate(configs, start=1):
        accuracies.append(robust_accuracy(model, x, y, eps_config, batch_size))
        if progress:
            progress(done, len(configs))
    return accuracies


__all__ = ["ATTACKS", "ATTACK_FUNCTIONS", "Visit", "accuracy_vs_eps", "attack_loss", "default_alpha", "fgsm",
           "latent_path", "pgd", "robust_accuracy", "run_attack"]
