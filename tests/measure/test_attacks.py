"""Properties of explorer.measure.attacks on a tiny model trained on a separable synthetic problem."""

import copy
import math

import pytest
import torch
from torch import nn

from explorer.core.config import ModelConfig
from explorer.core.models import Classifier
from explorer.measure.attacks import (
    ATTACKS,
    AttackConfig,
    accuracy_vs_eps,
    attack_loss,
    default_alpha,
    fgsm,
    latent_path,
    pgd,
    robust_accuracy,
    run_attack,
)

K, D, SIDE = 3, 4, 8


class TinyNet(nn.Module):
    """normalise → flatten → Linear → tanh → dropout → Linear to d (embed); head Linear d → K."""

    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Flatten(), nn.Linear(SIDE * SIDE, 32), nn.Tanh(), nn.Dropout(0.2), nn.Linear(32, D)
        )
        self.head = nn.Linear(D, K)

    def embed(self, x):
        return self.encoder((x - 0.5) / 0.25)

    def forward(self, x):
        return self.head(self.embed(x))


def make_data(n, seed):
    """Class templates (fixed) plus uniform noise: 1×8×8 images in [0, 1], labels in [0, K)."""
    templates = torch.rand(K, 1, SIDE, SIDE, generator=torch.Generator().manual_seed(0))
    generator = torch.Generator().manual_seed(seed)
    y = torch.randint(K, (n,), generator=generator)
    return 0.6 * templates[y] + 0.4 * torch.rand(n, 1, SIDE, SIDE, generator=generator), y


@pytest.fixture(scope="module")
def trained():
    torch.manual_seed(0)
    model = TinyNet()
    x, y = make_data(512, seed=1)
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-2)
    for _ in range(40):
        optimiser.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimiser.step()
    return model.eval()


@pytest.fixture
def model(trained):
    return copy.deepcopy(trained)


@pytest.fixture(scope="module")
def data():
    return make_data(128, seed=2)


ALL_ATTACKS = {
    "fgsm": lambda m, x, y, eps: fgsm(m, x, y, eps),
    "pgd": lambda m, x, y, eps: pgd(m, x, y, eps, seed=0),
    "pgd_big_steps": lambda m, x, y, eps: pgd(m, x, y, eps, alpha=0.3, steps=3, seed=0),
}


@pytest.mark.parametrize("attack", ALL_ATTACKS)
@pytest.mark.parametrize("eps", [0.01, 0.05, 0.2, 0.5])
def test_perturbation_within_eps_and_pixel_range(model, data, attack, eps):
    x, y = data
    x_adv = ALL_ATTACKS[attack](model, x, y, eps)
    assert x_adv.shape == x.shape and not x_adv.requires_grad
    distance = (x_adv - x).abs().max().item()
    assert eps / 2 < distance <= eps + 1e-6
    assert x_adv.min() >= 0 and x_adv.max() <= 1


def test_eps_zero_changes_nothing(model, data):
    x, y = data
    assert torch.equal(fgsm(model, x, y, 0.0), x)
    assert torch.equal(pgd(model, x, y, 0.0, seed=0), x)


def test_the_default_step_size_is_the_rule_its_help_states():
    from explorer.core.config import PGD_STEP_SCALE, help_of

    assert default_alpha(0.1, 10) == pytest.approx(0.025)  # 2.5 * 0.1 / 10
    assert default_alpha(0.3, 3) == pytest.approx(PGD_STEP_SCALE * 0.3 / 3)
    assert f"{PGD_STEP_SCALE:g} * eps / steps" in help_of(AttackConfig, "alpha")


def test_every_attack_name_has_its_function():
    from explorer.measure.attacks import ATTACK_FUNCTIONS

    assert tuple(ATTACK_FUNCTIONS) == ATTACKS


def test_robust_accuracy_below_clean(model, data):
    x, y = data
    clean = (model(x).argmax(dim=1) == y).sum().item() / len(y)
    assert clean > 0.95
    assert robust_accuracy(model, x, y, AttackConfig(eps=0.0)) == clean
    for name in ATTACKS:
        assert robust_accuracy(model, x, y, AttackConfig(attack=name, eps=0.15)) < clean


def test_pgd_at_least_as_strong_as_fgsm(model, data):
    x, y = data
    for eps in (0.1, 0.15, 0.2):
        fgsm_accuracy, pgd_accuracy = (
            robust_accuracy(model, x, y, AttackConfig(attack=name, eps=eps)) for name in ("fgsm", "pgd")
        )
        assert pgd_accuracy <= fgsm_accuracy


@pytest.fixture(scope="module")
def sharp_gaussian():
    """A Gaussian-head :class:`Classifier` with σ² = 1e-6, whose class means are the latents of ten of
    its images, and the images it classifies by more than 200 nats (their labels: its predictions).

    Its logit gaps are far past float32's exp underflow (about 103 nats), as on a Gaussian head whose
    variances shrank in training: cross-entropy's gradient there is exactly 0."""
    torch.manual_seed(0)
    net = Classifier(ModelConfig(method="gaussian", latent_dim=2, num_classes=K, hidden=32,
                                 input_shape=(1, SIDE, SIDE), mean=(0.5,), std=(0.25,))).eval()
    x = torch.rand(64, 1, SIDE, SIDE, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        net.head.means.copy_(net.embed(x[:K]))
        net.head.log_vars.fill_(math.log(1e-6))
        top = net(x).topk(2, dim=1)
    sure = top.values[:, 0] - top.values[:, 1] > 200
    return net, x[sure], top.indices[sure, 0]


def test_attacks_move_a_gaussian_head_whose_logit_gaps_underflow_cross_entropy(sharp_gaussian):
    net, x, y = sharp_gaussian
    assert len(x) > 30
    with torch.no_grad():
        gradient = torch.func.grad(lambda x_: nn.functional.cross_entropy(net(x_), y, reduction="sum"))(x)
    assert not gradient.any()  # what an attack on float32 cross-entropy would climb: nothing
    x_adv = fgsm(net, x, y, 0.05)
    assert ((x_adv - x).flatten(1).abs().amax(1) > 0.025).all()  # every image moved
    for name in ATTACKS:
        assert robust_accuracy(net, x, y, AttackConfig(attack=name, eps=0.05)) < 0.5


def test_the_attack_loss_has_the_sign_of_cross_entropy_wherever_that_survives(model, data):
    x, y = data
    model = model.double()
    x = x.double().requires_grad_()
    logits = model(x)
    margin = attack_loss(logits, y)
    (ours,) = torch.autograd.grad(margin, x, retain_graph=True)
    (theirs,) = torch.autograd.grad(nn.functional.cross_entropy(logits, y, reduction="sum"), x)
    assert theirs.abs().min() > 0 and torch.equal(ours.sign(), theirs.sign())
    # CE_i = softplus(m_i), m_i = log Σ_{k≠y} e^{logit_k} − logit_y: hand-worked on one row.
    row, label = torch.tensor([[2.0, 0.0, -1.0]]), torch.tensor([0])
    assert attack_loss(row, label).item() == pytest.approx(math.log(1 + math.exp(-1)) - 2, abs=1e-6)
    assert nn.functional.softplus(attack_loss(row, label)).item() == pytest.approx(
        nn.functional.cross_entropy(row, label).item(), abs=1e-6)


def test_accuracy_vs_eps_decreases_and_reports_progress(model, data):
    x, y = data
    eps_values = [0.0, 0.05, 0.1, 0.15, 0.2, 0.3]
    calls = []
    accuracies = accuracy_vs_eps(model, x, y, AttackConfig(), eps_values, batch_size=50,
                                 progress=lambda done, total: calls.append((done, total)))
    assert len(accuracies) == len(eps_values)
    assert all(later <= earlier + 0.02 for earlier, later in zip(accuracies, accuracies[1:]))
    assert accuracies[-1] < 0.1 < 0.9 < accuracies[0]
    assert calls == [(i, len(eps_values)) for i in range(1, len(eps_values) + 1)]


def test_robust_accuracy_does_not_depend_on_batch_size(model, data):
    x, y = data
    config = AttackConfig(attack="fgsm", eps=0.12)
    assert robust_accuracy(model, x, y, config, batch_size=7) == robust_accuracy(model, x, y, config)


@pytest.mark.parametrize("training", [True, False])
def test_eval_mode_during_attack_and_mode_restored(model, data, training):
    x, y = data
    model.train(training)
    model.encoder[3].train(not training)  # mixed modes must come back exactly as they were
    before = [m.training for m in model.modules()]
    seen = []
    model.head.register_forward_pre_hook(lambda *_: seen.append(any(m.training for m in model.modules())))
    pgd(model, x, y, 0.1, steps=2)
    latent_path(model, x, y, AttackConfig(eps=0.1, steps=2))
    robust_accuracy(model, x, y, AttackConfig(eps=0.1, steps=2))
    assert seen and not any(seen)
    assert [m.training for m in model.modules()] == before


def test_mode_restored_when_attack_raises(model, data):
    x, y = data
    model.train()

    def fail(*_):
        raise RuntimeError("boom")

    model.head.register_forward_hook(fail)
    with pytest.raises(RuntimeError, match="boom"):
        pgd(model, x, y, 0.1)
    assert all(m.training for m in model.modules())


def test_parameter_grads_untouched(model, data):
    x, y = data
    params = list(model.parameters())
    for p in params[::2]:
        p.grad = torch.randn_like(p)
    before = [None if p.grad is None else p.grad.clone() for p in params]
    fgsm(model, x, y, 0.1)
    pgd(model, x, y, 0.1)
    latent_path(model, x, y, AttackConfig(eps=0.1))
    for p, grad in zip(params, before):
        assert (p.grad is None) if grad is None else torch.equal(p.grad, grad)


def test_seed_determines_random_start(model, data):
    x, y = data
    model.train()  # dropout would make repeated attacks differ if the attack left train mode on
    first = pgd(model, x, y, 0.1, seed=1)
    assert torch.equal(first, pgd(model, x, y, 0.1, seed=1))
    assert not torch.equal(first, pgd(model, x, y, 0.1, seed=2))


def test_attack_works_under_no_grad(model, data):
    x, y = data
    with torch.no_grad():
        x_adv = pgd(model, x, y, 0.1, seed=0)
    assert torch.equal(x_adv, pgd(model, x, y, 0.1, seed=0))


def test_run_attack_dispatches(model, data):
    x, y = data
    assert torch.equal(run_attack(model, x, y, AttackConfig(attack="fgsm", eps=0.1)), fgsm(model, x, y, 0.1))
    config = AttackConfig(attack="pgd", eps=0.1, alpha=0.02, steps=5, seed=3)
    assert torch.equal(run_attack(model, x, y, config), pgd(model, x, y, 0.1, 0.02, 5, True, 3))


def test_latent_path_follows_pgd(model, data):
    x, y = data
    steps = 6
    x_adv, latents = latent_path(model, x, y, AttackConfig(eps=0.1, steps=steps, seed=4))
    assert latents.shape == (steps + 1, len(x), D)
    assert torch.equal(x_adv, pgd(model, x, y, 0.1, steps=steps, seed=4))
    with torch.no_grad():
        torch.testing.assert_close(latents[0], model.embed(x))
        torch.testing.assert_close(latents[-1], model.embed(x_adv))


def test_latent_path_of_fgsm_is_its_one_step(model, data):
    x, y = data
    x_adv, latents = latent_path(model, x, y, AttackConfig(attack="fgsm", eps=0.1))
    assert latents.shape == (2, len(x), D) and not latents.requires_grad
    assert torch.equal(x_adv, fgsm(model, x, y, 0.1))
    with torch.no_grad():
        torch.testing.assert_close(latents[0], model.embed(x))
        torch.testing.assert_close(latents[1], model.embed(x_adv))


@pytest.mark.parametrize("config, visits", [
    (AttackConfig(attack="pgd", eps=0.1, steps=4, seed=0), 4 + 1),
    (AttackConfig(attack="fgsm", eps=0.1), 2),
])
def test_visit_sees_the_clean_input_then_every_step(model, data, config, visits):
    """The hook records steps + 1 iterates for PGD and 2 for FGSM, and changes nothing of the attack."""
    x, y = data
    seen = []
    x_adv = run_attack(model, x, y, config, visit=lambda step, x_t: seen.append((step, x_t.clone())))
    assert [step for step, _ in seen] == list(range(visits))
    assert torch.equal(seen[0][1], x) and torch.equal(seen[-1][1], x_adv)
    assert all(not x_t.requires_grad and (x_t - x).abs().max() <= config.eps + 1e-6 for _, x_t in seen)
    assert torch.equal(x_adv, run_attack(model, x, y, config))


def test_fgsm_and_pgd_take_the_visit_hook_too(model, data):
    x, y = data
    steps = []
    fgsm(model, x, y, 0.1, visit=lambda step, _: steps.append(step))
    pgd(model, x, y, 0.1, steps=3, seed=0, visit=lambda step, _: steps.append(step))
    assert steps == [0, 1, 0, 1, 2, 3]


INVALID_CALLS = {
    "negative eps": (lambda m, x, y: pgd(m, x, y, -0.1), "eps must be in .* got -0.1"),
    "eps above 1": (lambda m, x, y: fgsm(m, x, y, 1.5), "eps must be in .* got 1.5"),
    "nan eps": (lambda m, x, y: pgd(m, x, y, float("nan")), "eps must be in .* got nan"),
    "zero steps": (lambda m, x, y: pgd(m, x, y, 0.1, steps=0), "steps must be .* got 0"),
    "negative alpha": (lambda m, x, y: pgd(m, x, y, 0.1, alpha=-0.01), "alpha must be .* got -0.01"),
    "x above 1": (lambda m, x, y: pgd(m, x + 1, y, 0.1), r"x must lie in \[0, 1\] .* \[1\.\d+, 1\.\d+\]"),
    "x not a batch": (lambda m, x, y: fgsm(m, x[0], y, 0.1), r"x must .* got \(1, 8, 8\)"),
    "y too short": (lambda m, x, y: pgd(m, x, y[1:], 0.1), r"y must .* shape \(128,\) .* got .* \(127,\)"),
    "float labels": (lambda m, x, y: fgsm(m, x, y.float(), 0.1), "y must hold integer .*float32"),
    "unknown attack": (lambda m, x, y: AttackConfig(attack="cw"), "'cw'.*allowed: fgsm, pgd"),
    "bad eps in list": (lambda m, x, y: accuracy_vs_eps(m, x, y, AttackConfig(), [0.1, 2]), "eps .* got 2"),
    "zero batch size": (lambda m, x, y: robust_accuracy(m, x, y, AttackConfig(), 0), "batch_size .* got 0"),
}


@pytest.mark.parametrize("case", INVALID_CALLS)
def test_invalid_arguments_raise(model, data, case):
    call, message = INVALID_CALLS[case]
    with pytest.raises(ValueError, match=message):
        call(model, *data)
