import math

import pytest
import torch

from explorer.core.config import ModelConfig
from explorer.core.models import GaussianHead, LinearHead, build_model, diagonal_gaussian_log_prob
from explorer.core.objectives import cross_entropy, prior_nll

SHAPES = {
    "mlp": ((1, 8, 8), (0.3,), (0.4,)),
    "cnn": ((1, 28, 28), (0.13,), (0.31,)),
    "resnet18": ((3, 32, 32), (0.49, 0.48, 0.45), (0.25, 0.24, 0.26)),
}


def make(method: str, encoder: str = "mlp", latent_dim: int = 3, **kw):
    shape, mean, std = SHAPES[encoder]
    config = ModelConfig(method=method, encoder=encoder, latent_dim=latent_dim, num_classes=4,
                         input_shape=shape, mean=mean, std=std, hidden=16, **kw)
    return build_model(config, seed=0), shape


@pytest.mark.parametrize("encoder", ["mlp", "cnn", "resnet18"])
def test_interface_shapes_and_gradients(method, encoder):
    model, shape = make(method, encoder)
    x = torch.rand(5, *shape)
    y = torch.tensor([0, 1, 2, 3, 0])
    z = model.embed(x)
    logits = model(x)
    assert z.shape == (5, 3) and logits.shape == (5, 4)
    assert torch.allclose(model.head(z), logits)
    assert torch.isfinite(logits).all()
    assert model.head.log_prob(z).shape == (5, 4)
    assert model.head.log_marginal(z).shape == (5,)
    assert model.head.sample(y).shape == (5, 3)

    # Every parameter must learn from the training loss (CE plus, for Gaussian heads, prior NLL).
    loss = cross_entropy(logits, y) + prior_nll(model.head, z, y)
    loss.backward()
    for name, param in model.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


def test_diagonal_gaussian_log_prob_matches_torch_distributions():
    torch.manual_seed(0)
    z, means, log_vars = torch.randn(6, 3), torch.randn(4, 3), torch.randn(4, 3)
    expected = torch.distributions.Normal(means, torch.exp(0.5 * log_vars)).log_prob(z[:, None]).sum(-1)
    assert torch.allclose(diagonal_gaussian_log_prob(z, means, log_vars), expected, atol=1e-5)


def test_linear_head_implied_gaussians_reproduce_softmax():
    """softmax(log N(z; μ_y, I) + log π_y) with the implied μ, π equals softmax(Wz + b) (METHOD.md §1)."""
    torch.manual_seed(0)
    head = LinearHead(3, 4)
    z = torch.randn(10, 3) * 4
    implied = torch.softmax(head.log_prob(z) + head.log_class_prior(), dim=1)
    assert torch.allclose(implied, torch.softmax(head(z), dim=1), atol=1e-6)
    assert torch.allclose(head.class_means().sum(0), torch.zeros(3), atol=1e-6)  # centred rows


def test_shared_variance_gives_linear_logits():
    torch.manual_seed(0)
    head = GaussianHead(3, 4, "shared")
    with torch.no_grad():
        head.log_vars.normal_()
    precision = torch.exp(-head.class_log_vars())
    weight = head.class_means() * precision
    bias = -0.5 * (head.class_means().square() * precision).sum(1) + head.log_prior
    z = torch.randn(8, 3)
    assert torch.allclose(torch.softmax(head(z), 1), torch.softmax(z @ weight.T + bias, 1), atol=1e-6)


def test_variance_options():
    assert GaussianHead(2, 3, "diagonal").log_vars.shape == (3, 2)
    assert GaussianHead(2, 3, "shared").log_vars.shape == (1, 2)
    fixed = GaussianHead(2, 3, "fixed")
    assert "log_vars" not in dict(fixed.named_parameters())
    assert torch.equal(fixed.class_log_vars(), torch.zeros(3, 2))


def test_gaussian_head_class_prior_and_marginal():
    head = GaussianHead(2, 2, "fixed")
    head.set_class_prior(torch.tensor([30, 10]))
    assert torch.allclose(head.log_class_prior().exp(), torch.tensor([0.75, 0.25]))
    z = head.class_means()[:1].detach()
    log_p = head.log_prob(z).detach()[0]
    by_hand = math.log(0.75 * math.exp(log_p[0]) + 0.25 * math.exp(log_p[1]))
    assert head.log_marginal(z).item() == pytest.approx(by_hand, rel=1e-5)


def test_samples_follow_the_class_gaussian():
    head = GaussianHead(2, 2)
    with torch.no_grad():
        head.means.copy_(torch.tensor([[3.0, -1.0], [0.0, 0.0]]))
        head.log_vars.copy_(torch.log(torch.tensor([[4.0, 0.25], [1.0, 1.0]])))
    samples = head.sample(torch.zeros(20000, dtype=torch.long), torch.Generator().manual_seed(0))
    assert torch.allclose(samples.mean(0), torch.tensor([3.0, -1.0]), atol=0.05)
    assert torch.allclose(samples.var(0), torch.tensor([4.0, 0.25]), rtol=0.05)


def test_build_model_is_reproducible_and_leaves_global_rng_alone():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a, _ = make("vc")
    after = torch.rand(1)
    b, _ = make("vc")
    assert before == after
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(p, q), name


def test_invalid_config_names_the_value():
    with pytest.raises(ValueError, match="'bogus'.*softmax, gaussian, lgm, vc"):
        ModelConfig(method="bogus")
    with pytest.raises(ValueError, match="latent_dim"):
        ModelConfig(latent_dim=0)


@pytest.mark.parametrize("latent_dim", [2, 16, 64])
def test_initial_means_are_the_configured_distance_apart_in_any_dimension(latent_dim):
    torch.manual_seed(0)
    means = GaussianHead(latent_dim, 1000, init_distance=4.0).class_means().detach()
    distances = torch.pdist(means)
    # E‖μ_i − μ_j‖ for N(0, D²/(2d) I) means is D·E[χ_d]/√d, which tends to D; at d = 2 it is D·√π/2.
    expected = 4.0 * math.sqrt(2 / latent_dim) * math.exp(math.lgamma((latent_dim + 1) / 2) - math.lgamma(latent_dim / 2))
    assert distances.mean().item() == pytest.approx(expected, rel=0.05)


def test_student_t_head_log_prob_matches_scipy():
    """Diagonal scale: log t_ν(z; μ, diag σ²) equals scipy's multivariate t with shape diag σ²."""
    from scipy import stats

    from explorer.core.models import StudentTHead

    head = StudentTHead(3, 2, nu=4)
    with torch.no_grad():
        head.means.copy_(torch.tensor([[0.0, 1.0, -1.0], [2.0, 0.0, 0.5]]))
        head.log_vars.copy_(torch.log(torch.tensor([[1.0, 4.0, 0.25], [2.0, 1.0, 1.0]])))
    z = torch.tensor([[0.5, -1.0, 2.0], [3.0, 3.0, 3.0]], dtype=torch.float64)
    got = head.double().log_prob(z)
    for k in range(2):
        want = stats.multivariate_t(loc=head.means[k].detach().numpy(),
                                    shape=torch.diag(head.log_vars[k].exp()).detach().numpy(), df=4).logpdf(z.numpy())
        assert got[:, k].detach().numpy() == pytest.approx(want, rel=1e-9)


def test_student_t_samples_follow_their_reference_law_and_the_seed():
    """r² of draws from the head, against its own r2_law (d·F(d, ν)), and not against χ²_d."""
    from scipy import stats

    from explorer.core.models import StudentTHead

    head = StudentTHead(4, 2, nu=3)
    y = torch.zeros(20000, dtype=torch.long)
    z = head.sample(y, torch.Generator().manual_seed(0)).detach()
    assert torch.equal(z, head.sample(y, torch.Generator().manual_seed(0)).detach())
    r2 = ((z - head.means[0].detach()).square() / head.log_vars[0].exp().detach()).sum(1).numpy()
    assert stats.kstest(r2, head.r2_law().cdf).statistic < 0.02
    assert stats.kstest(r2, stats.chi2(4).cdf).statistic > 0.05  # heavier tails than a Gaussian's


def test_the_prior_family_comes_from_the_config():
    from explorer.core.models import StudentTHead

    model = build_model(ModelConfig(method="vc", prior="student_t", nu=7), seed=0)
    assert isinstance(model.head, StudentTHead) and model.head.nu == 7
    assert type(build_model(ModelConfig(method="vc"), seed=0).head) is GaussianHead
    assert type(build_model(ModelConfig(method="softmax"), seed=0).head) is LinearHead
    with pytest.raises(ValueError, match="softmax's linear layer implies Gaussian classes"):
        ModelConfig(method="softmax", prior="student_t")
    for nu in (0, 2, 3.5, True):
        with pytest.raises(ValueError, match="nu must be an integer >= 3"):
            ModelConfig(prior="student_t", nu=nu)


def test_the_bag_encoder_reads_token_ids_and_ignores_padding():
    from conftest import text_configs, tiny_text

    data = tiny_text()
    model = build_model(text_configs("vc", data, vocab_size=data.vocabulary.size)[0], seed=0).eval()
    x = data.x[:5]
    padded = torch.cat([x, torch.zeros_like(x)], dim=1)  # the same documents with more padding
    with torch.no_grad():
        assert model(x).shape == (5, 3) and model.embed(x).shape == (5, 2)
        torch.testing.assert_close(model.embed(padded), model.embed(x))
    tokens = model.encoder.tokens(torch.tensor([[2, 3, 0, 0]]))
    assert tokens.shape == (1, 7) and tokens[0, 4:].tolist() == [tokens[0, 4].item(), 0, 0]  # no bigram with padding
    assert tokens[0, 4] >= data.vocabulary.size  # bigram buckets sit past the words
    model.encoder.fit_weights(data.x)
    w = model.encoder.token_weights
    assert w[0] == 0 and w[data.vocabulary.words.index("the") + 2] < w[data.vocabulary.words.index("w0a") + 2]
    with pytest.raises(ValueError, match="token ids"):
        model(torch.rand(2, 12))
