import math

import pytest
import torch

from explorer.core.models import GaussianHead
from explorer.core.errors import ArgumentError
from explorer.core.objectives import (
    METHOD_TERMS, ClassConditionalDiscriminator, discriminator_loss, kl_estimate, moment_kl, prior_nll,
)


def test_method_terms_follow_the_method_table():
    assert METHOD_TERMS == {"softmax": (), "gaussian": (), "lgm": ("prior_nll",), "vc": ("prior_nll", "kl")}


def test_prior_nll_at_the_class_mean():
    """At z = μ_y, −log N(μ_y; μ_y, diag σ²) = ½ Σ_j log σ²_j + (d/2) log 2π."""
    head = GaussianHead(2, 3)
    with torch.no_grad():
        head.log_vars.copy_(torch.log(torch.tensor([[1.0, 4.0], [2.0, 2.0], [0.5, 1.0]])))
    y = torch.tensor([0, 1, 2])
    z = head.class_means()[y].detach()
    expected = [0.5 * math.log(4.0), 0.5 * math.log(4.0), 0.5 * math.log(0.5)]
    assert prior_nll(head, z, y).item() == pytest.approx(sum(expected) / 3 + math.log(2 * math.pi), rel=1e-6)


def test_linear_discriminator_reads_the_label_row():
    disc = ClassConditionalDiscriminator(2, 3)
    with torch.no_grad():
        disc.net.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]]))
        disc.net.bias.copy_(torch.tensor([0.0, -1.0, 0.5]))
    z = torch.tensor([[1.0, 2.0], [1.0, 2.0], [1.0, 2.0]])
    assert torch.allclose(disc(z, torch.tensor([0, 1, 2])), torch.tensor([1.0, 3.0, 3.5]))


def test_mlp_discriminator_shape():
    disc = ClassConditionalDiscriminator(4, 3, hidden=8)
    assert disc(torch.randn(5, 4), torch.tensor([0, 1, 2, 0, 1])).shape == (5,)


def test_density_ratio_estimate_recovers_a_known_kl():
    """q = N(1, 1), p = N(0, 1): log q/p = z − ½ is linear, so the linear T can reach it; KL = ½."""
    torch.manual_seed(0)
    disc = ClassConditionalDiscriminator(1, 1)
    optimiser = torch.optim.Adam(disc.parameters(), lr=0.05)
    y = torch.zeros(512, dtype=torch.long)
    for _ in range(400):
        loss, _ = discriminator_loss(disc, torch.randn(512, 1) + 1, torch.randn(512, 1), y)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    real = torch.randn(20000, 1) + 1
    assert kl_estimate(disc, real, torch.zeros(20000, dtype=torch.long)).item() == pytest.approx(0.5, abs=0.05)
    assert disc.net.weight.item() == pytest.approx(1.0, abs=0.1)


def test_discriminator_accuracy_counts_both_sides():
    disc = ClassConditionalDiscriminator(1, 1)
    with torch.no_grad():
        disc.net.weight.fill_(1.0)
        disc.net.bias.fill_(0.0)
    y = torch.zeros(2, dtype=torch.long)
    _, acc = discriminator_loss(disc, torch.tensor([[1.0], [-1.0]]), torch.tensor([[-1.0], [-2.0]]), y)
    assert acc.item() == pytest.approx(0.75)


def fitted(disc, real_sampler, fake_sampler, steps=600, n=512):
    optimiser = torch.optim.Adam(disc.parameters(), lr=0.05)
    y = torch.zeros(n, dtype=torch.long)
    for _ in range(steps):
        loss, _ = discriminator_loss(disc, real_sampler(n), fake_sampler(n), y)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return disc


def test_only_the_quadratic_discriminator_sees_a_narrower_spread():
    """q = N(0, ¼ I₂), p = N(0, I₂): same centre, a quarter of the variance. log q/p is quadratic in z and
    KL = ½ Σ_j (¼ − 1 − log ¼) = 0.636 nats; a linear T, blind to spread, estimates about 0."""
    torch.manual_seed(0)
    narrow, wide = (lambda n: 0.5 * torch.randn(n, 2)), (lambda n: torch.randn(n, 2))
    kl = 2 * 0.5 * (0.25 - 1 - math.log(0.25))
    real, y = narrow(20000), torch.zeros(20000, dtype=torch.long)
    quadratic = fitted(ClassConditionalDiscriminator(2, 1, quadratic=True), narrow, wide)
    linear = fitted(ClassConditionalDiscriminator(2, 1), narrow, wide)
    assert kl_estimate(quadratic, real, y).item() == pytest.approx(kl, abs=0.08)
    assert abs(kl_estimate(linear, real, y).item()) < 0.1
    with pytest.raises(ArgumentError, match="either an MLP"):
        ClassConditionalDiscriminator(2, 1, hidden=8, quadratic=True)


def test_moment_kl_hand_case_and_its_gradient_reaches_z_only():
    """One class, d = 1: n = 3 latents, batch mean m and variance s² against N(μ, σ²) = N(1, 4):
    ½ (log σ² − log s² + (s² + (m − μ)² − s²/n) / σ² − 1)."""
    head = GaussianHead(1, 2)
    with torch.no_grad():
        head.means.copy_(torch.tensor([[1.0], [0.0]]))
        head.log_vars.copy_(torch.log(torch.tensor([[4.0], [1.0]])))
    z = torch.tensor([[0.0], [2.0], [4.0]], requires_grad=True)  # m = 2, s² = 4 (unbiased)
    y = torch.zeros(3, dtype=torch.long)
    kl = moment_kl(head, z, y)
    assert kl.item() == pytest.approx(0.5 * (math.log(4) - math.log(4) + (4 + 1 - 4 / 3) / 4 - 1))
    kl.backward()
    assert z.grad is not None and z.grad.abs().sum() > 0
    assert head.means.grad is None and head.log_vars.grad is None  # the prior is held fixed


def test_moment_kl_is_least_at_the_prior_and_skips_classes_with_one_latent():
    """Latents drawn from the prior, scaled by a, in batches of 4 a class: the expected loss is least
    at a = 1 (the uncorrected batch KL's would be least at a² = n/(n + 1) = 0.8)."""
    head = GaussianHead(2, 2)
    with torch.no_grad():
        head.means.copy_(torch.tensor([[0.0, 0.0], [5.0, 5.0]]))
        head.log_vars.copy_(torch.log(torch.tensor([[2.0, 2.0], [1.0, 1.0]])))
    generator = torch.Generator().manual_seed(0)
    y = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1]).repeat(20000, 1)  # 20 000 batches
    noise = torch.randn(*y.shape, 2, generator=generator)
    means, sds = head.means[y], (head.log_vars[y] / 2).exp()

    def expected_loss(a: float) -> float:
        z = means + a * sds * noise
        return sum(moment_kl(head, z[b], y[b]).item() for b in range(0, len(y), 50)) / len(range(0, len(y), 50))

    losses = {a: expected_loss(a) for a in (0.85, 0.9, 1.0, 1.1, 1.15)}
    assert min(losses, key=losses.get) == 1.0, losses
    one = torch.tensor([[7.0, 0.0]])
    assert moment_kl(head, torch.cat([means[0, :2], one]), torch.tensor([0, 0, 1])).item() == \
        pytest.approx(moment_kl(head, means[0, :2], torch.tensor([0, 0])).item())  # class 1 left out
    assert moment_kl(head, one, torch.tensor([1])).item() == 0.0
    with pytest.raises(ArgumentError, match="min_per_class"):
        moment_kl(head, means[0], y[0], min_per_class=1)

def test_moment_kl_with_correlation_is_least_for_independent_dimensions():
    """Latents of two classes at their prior's mean and variance, with dimensions correlated by ρ:
    the diagonal KL cannot tell ρ apart, the correlation term is least at ρ = 0 and grows with |ρ|."""
    head = GaussianHead(2, 2)
    with torch.no_grad():
        head.means.copy_(torch.tensor([[0.0, 0.0], [5.0, 5.0]]))
        head.log_vars.zero_()
    generator = torch.Generator().manual_seed(0)
    y = torch.tensor([0] * 16 + [1] * 16)
    noise = torch.randn(500, 32, 2, generator=generator)  # 500 batches

    def expected(rho: float, correlation: bool) -> float:
        e1, e2 = noise[..., 0], noise[..., 1]
        z = torch.stack([e1, rho * e1 + (1 - rho**2) ** 0.5 * e2], -1) + head.means[y].detach()
        return sum(moment_kl(head, b, y, correlation=correlation).item() for b in z) / len(z)

    with_term = {rho: expected(rho, True) for rho in (-0.6, -0.2, 0.0, 0.2, 0.6)}
    assert min(with_term, key=with_term.get) == 0.0, with_term
    assert with_term[0.6] - with_term[0.0] > 0.15  # −½ log(1 − 0.36) = 0.22
    assert abs(expected(0.6, False) - expected(0.0, False)) < 0.02  # the diagonal KL is blind to it
    z = torch.randn(32, 2, generator=generator, requires_grad=True)
    moment_kl(head, z, y, correlation=True).backward()
    assert z.grad.abs().sum() > 0
