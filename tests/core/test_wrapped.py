"""wrap_classifier: any module with a linear last layer behind the project's model interface."""

from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch import nn

from explorer import wrap_classifier
from explorer.core.checkpoints import SHIPPED_DIR, load_checkpoint
from explorer.core.config import AttackConfig
from explorer.core.data import load_dataset
from explorer.core.errors import ArgumentError


@pytest.fixture(scope="module")
def shipped_and_wrapped():
    """The shipped digits softmax model, and the same weights as a plain nn.Sequential, wrapped."""
    model, _ = load_checkpoint(SHIPPED_DIR / "digits-mlp-d16-softmax.pt")
    plain = nn.Sequential(OrderedDict(features=model.encoder, fc=model.head.linear))
    wrapped = wrap_classifier(plain, "fc", mean=model.config.mean, std=model.config.std)
    return model.eval(), wrapped.eval()


def test_a_wrapped_module_is_measured_exactly_as_the_project_model_with_its_weights(shipped_and_wrapped):
    from explorer.measure.attacks import robust_accuracy
    from explorer.measure.corruptions import corrupt
    from explorer.measure.evaluation import evaluate
    from explorer.measure.latents import latent_fit
    from explorer.measure.ood import ood_scores

    model, wrapped = shipped_and_wrapped
    test = load_dataset("digits", "test")
    x, y = test.x[:200], test.y[:200]
    with torch.no_grad():
        torch.testing.assert_close(wrapped.embed(x), model.embed(x))
        torch.testing.assert_close(wrapped(x), model(x))
    torch.testing.assert_close(wrapped.head.class_means(), model.head.class_means())
    assert evaluate(wrapped, x, y) == pytest.approx(evaluate(model, x, y))
    noisy = corrupt(x, "gaussian_noise", 3, seed=0)
    assert evaluate(wrapped, noisy, y)["accuracy"] == evaluate(model, noisy, y)["accuracy"]
    fit_w, fit_m = latent_fit(wrapped, x, y), latent_fit(model, x, y)
    assert fit_w.median_ratio == pytest.approx(fit_m.median_ratio) and fit_w.mean_ks == pytest.approx(fit_m.mean_ks)
    attack = AttackConfig("pgd", eps=0.1, steps=5, seed=0)
    robust = robust_accuracy(wrapped, x, y, attack)
    assert robust == pytest.approx(robust_accuracy(model, x, y, attack), abs=0.01)
    assert robust < evaluate(wrapped, x, y)["accuracy"]  # the gradient reaches the pixels through the hook
    for name, scores in ood_scores(wrapped, x).items():
        np.testing.assert_allclose(scores, ood_scores(model, x)[name], rtol=1e-5, atol=1e-5)


def test_a_torchvision_resnet_by_its_dotted_layer_with_normalisation_inside():
    from torchvision.models import resnet18

    torch.manual_seed(0)
    net = resnet18(num_classes=10).eval()
    mean, std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)
    model = wrap_classifier(nn.Sequential(OrderedDict(backbone=net)), "backbone.fc", mean=mean, std=std).eval()
    x = torch.rand(4, 3, 32, 32)
    normalised = (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    with torch.no_grad():
        assert model.embed(x).shape == (4, 512)
        torch.testing.assert_close(model(x), net(normalised))
    assert model.head.linear is net.fc  # shared, not copied
    assert not model.training and not net.training and model.train().module.training  # its mode follows


def test_what_follows_the_layer_is_left_out_and_the_mode_restored():
    class WithSoftmax(nn.Module):
        def __init__(self):
            super().__init__()
            self.body, self.out = nn.Linear(4, 3), nn.Linear(3, 2)

        def forward(self, x):
            return torch.softmax(self.out(torch.relu(self.body(x.flatten(1)))), dim=1)

    module = WithSoftmax()
    model = wrap_classifier(module, "out")
    x = torch.rand(5, 1, 2, 2)
    torch.testing.assert_close(model(x), module.out(torch.relu(module.body(x.flatten(1)))))  # logits, not probs
    assert model.embed(x).requires_grad


@pytest.mark.parametrize("layer, message", [
    ("head", r"has no layer 'head'; its linear layers: body, out"),
    ("act", r"layer 'act' of Sequential is a ReLU, not an nn.Linear \(its linear layers: body, out\)"),
    ("", r"has no layer ''"),
])
def test_a_missing_or_non_linear_layer_names_what_was_found(layer, message):
    module = nn.Sequential(OrderedDict(flat=nn.Flatten(), body=nn.Linear(4, 3), act=nn.ReLU(), out=nn.Linear(3, 2)))
    with pytest.raises(ArgumentError, match=message):
        wrap_classifier(module, layer)


def test_bad_arguments_and_layers_that_see_no_vector_per_image():
    module = nn.Sequential(OrderedDict(flat=nn.Flatten(), fc=nn.Linear(4, 2)))
    with pytest.raises(ArgumentError, match="takes an nn.Module"):
        wrap_classifier(lambda x: x)
    with pytest.raises(ArgumentError, match="both mean and std"):
        wrap_classifier(module, mean=(0.5,))
    with pytest.raises(ArgumentError, match="std must be finite per-channel values > 0"):
        wrap_classifier(module, mean=(0.5,), std=(0.0,))
    with pytest.raises(ArgumentError, match="3 channels; mean and std give 1"):
        wrap_classifier(module, mean=(0.5,), std=(0.2,)).embed(torch.rand(2, 3, 2, 2))
    tokens = wrap_classifier(nn.Sequential(OrderedDict(fc=nn.Linear(4, 2))))  # sees (N, C, H, W) as it comes
    with pytest.raises(ArgumentError, match=r"receives shape \(2, 1, 2, 4\), not \(N, d\)"):
        tokens.embed(torch.rand(2, 1, 2, 4))
    unused = nn.Sequential(OrderedDict(flat=nn.Flatten(), fc=nn.Linear(4, 2), spare=nn.Linear(2, 2)))
    unused.forward = lambda x: unused.fc(unused.flat(x))
    with pytest.raises(ArgumentError, match="never reached layer 'spare'"):
        wrap_classifier(unused, "spare").embed(torch.rand(2, 1, 2, 2))


def test_grey_to_rgb_repeats_the_channel_and_finds_the_first_convolution():
    from explorer.core.wrapped import GreyToRGB, first_conv_channels

    grey = torch.rand(2, 1, 4, 4)
    rgb = GreyToRGB()(grey)
    assert rgb.shape == (2, 3, 4, 4) and torch.equal(rgb[:, 2], grey[:, 0])
    normalised = GreyToRGB(mean=(0.1, 0.2, 0.3), std=(1.0, 2.0, 4.0))(grey)
    torch.testing.assert_close(normalised[:, 2], (grey[:, 0] - 0.3) / 4.0)
    with pytest.raises(ArgumentError, match="takes 3 values"):
        GreyToRGB(mean=(0.5,), std=(0.2,))
    with pytest.raises(ArgumentError, match="takes grey images"):
        GreyToRGB()(torch.rand(2, 3, 4, 4))
    net = nn.Sequential(nn.Flatten(), nn.Sequential(nn.Conv2d(3, 4, 1), nn.Conv2d(4, 1, 1)))
    assert first_conv_channels(net) == 3 and first_conv_channels(nn.Linear(2, 2)) is None
