import math

import pytest
import torch

from explorer.core.models import GaussianHead
from explorer.core.objectives import (
    METHOD_TERMS, ClassConditionalDiscriminator, discriminator_loss, kl_estimate, prior_nll,
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
