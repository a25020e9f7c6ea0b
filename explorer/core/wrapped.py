"""Any PyTorch classifier with a linear last layer, behind the project's model interface (METHOD.md §1).

The softmax reading applies to every such network: the input of its last ``nn.Linear`` is the latent
z, and that layer's weight and bias imply a family of class Gaussians N(μ_y, Σ), one for every shared Σ
(METHOD.md §1). So a torchvision or timm model, or a user's own module, is wrapped rather than converted::

    from torchvision.models import resnet18
    from explorer import wrap_classifier

    model = wrap_classifier(resnet18(num_classes=10), "fc", mean=(0.49, 0.48, 0.45), std=(0.25, 0.24, 0.26))
    logits, z = model(x), model.embed(x)       # x (N, 3, H, W) in [0, 1]
    model.head.class_means()                   # the Σ = I convention's means (K, d)
    fitted_reference(model, x_val, y_val)      # the member fitted to held-out latents (measure/latents.py)

and every measurement (calibration, attacks, corruptions, latent fit, projections, OOD scores) takes
it as it takes the project's own models.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from explorer.core.errors import ArgumentError
from explorer.core.models import LinearHead


class _Reached(Exception):
    """Raised by the hook once the last layer's input is known: nothing after it needs computing."""


def _linear_layers(module: nn.Module) -> list[str]:
    return [name for name, m in module.named_modules() if isinstance(m, nn.Linear)]


def _find_layer(module: nn.Module, path: str) -> nn.Linear:
    """The submodule at dotted ``path`` ("fc", "classifier.1", "head.fc"), which must be an nn.Linear."""
    found = dict(module.named_modules()).get(path) if path else None
    linear = _linear_layers(module)
    if found is None:
        hint = f"its linear layers: {', '.join(linear)}" if linear else "it has no nn.Linear layer"
        raise ArgumentError(f"{type(module).__name__} has no layer {path!r}; {hint}")
    if not isinstance(found, nn.Linear):
        hint = f" (its linear layers: {', '.join(linear)})" if linear else ""
        raise ArgumentError(f"layer {path!r} of {type(module).__name__} is a {type(found).__name__}, "
                            f"not an nn.Linear{hint}")
    return found


def _channel_buffer(values: Sequence[float] | None, name: str) -> Tensor | None:
    if values is None:
        return None
    t = torch.as_tensor(values, dtype=torch.float32).flatten()
    if t.numel() == 0 or not torch.isfinite(t).all() or (name == "std" and not (t > 0).all()):
        raise ArgumentError(f"{name} must be finite per-channel values{' > 0' if name == 'std' else ''}, "
                            f"got {values!r}")
    return t.view(1, -1, 1, 1)


class WrappedClassifier(nn.Module):
    """A module read as encoder + linear head: ``embed(x)`` is the input of its last linear layer,
    ``head`` that layer (shared, not copied) with its implied family of Gaussians, and ``forward(x)`` is
    ``head(embed(x))``.

    x is (N, C, H, W) in [0, 1]; ``mean`` and ``std`` (per channel), when given, normalise it inside,
    so attacks and corruptions stay in pixel units. Whatever the module's own forward does after the
    layer (a softmax, say) is left out: the layer's output is the logits. The module's mode follows
    the wrapper's (``eval()``, ``train()``).
    """

    def __init__(self, module: nn.Module, last_layer: str = "fc", mean: Sequence[float] | None = None,
                 std: Sequence[float] | None = None) -> None:
        super().__init__()
        layer = _find_layer(module, last_layer)
        if (mean is None) != (std is None):
            raise ArgumentError("give both mean and std (per channel) or neither")
        self.module, self.last_layer = module, last_layer
        self.head = LinearHead(layer.in_features, layer.out_features)
        self.head.linear = layer  # the module's own parameters: the head reads what the module learned
        for name, values in (("input_mean", mean), ("input_std", std)):
            buffer = _channel_buffer(values, name.removeprefix("input_"))
            if buffer is not None:
                self.register_buffer(name, buffer)
            else:
                setattr(self, name, None)

    def embed(self, x: Tensor) -> Tensor:
        """The latent z (N, d): the input the last linear layer receives for images x in [0, 1]."""
        if self.input_mean is not None:
            if x.shape[1] != self.input_mean.shape[1]:
                raise ArgumentError(f"images have {x.shape[1]} channels; mean and std give "
                                    f"{self.input_mean.shape[1]}")
            x = (x - self.input_mean) / self.input_std
        seen: list[Tensor] = []

        def catch(_layer, inputs):
            seen.append(inputs[0])
            raise _Reached

        handle = self.head.linear.register_forward_pre_hook(catch)
        try:
            self.module(x)
        except _Reached:
            pass
        finally:
            handle.remove()
        if not seen:
            raise ArgumentError(f"the forward pass of {type(self.module).__name__} never reached layer "
                                f"{self.last_layer!r}")
        z = seen[0]
        if z.dim() != 2:
            raise ArgumentError(f"layer {self.last_layer!r} receives shape {tuple(z.shape)}, not (N, d): "
                                "name a layer that maps one vector per image to the logits")
        return z

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.embed(x))


class GreyToRGB(nn.Module):
    """Grey images (N, 1, H, W) as (N, 3, H, W), the one channel repeated: a network built for RGB
    (its first convolution takes 3 channels) reads grey data.

    ``mean`` and ``std`` (3 values, the network's RGB statistics), when given, normalise the repeated
    channels; statistics of the grey channel belong to :func:`wrap_classifier` instead, which applies
    them before this module.
    """

    def __init__(self, mean: Sequence[float] | None = None, std: Sequence[float] | None = None) -> None:
        super().__init__()
        if (mean is None) != (std is None):
            raise ArgumentError("give both mean and std (per channel) or neither")
        for name, values in (("mean", mean), ("std", std)):
            buffer = _channel_buffer(values, name)
            if buffer is not None and buffer.shape[1] != 3:
                raise ArgumentError(f"{name} of the repeated channels takes 3 values, got {values!r}")
            self.register_buffer(name, buffer)

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[1] != 1:
            raise ArgumentError(f"GreyToRGB takes grey images (N, 1, H, W), got shape {tuple(x.shape)}")
        x = x.expand(-1, 3, -1, -1)
        return x if self.mean is None else (x - self.mean) / self.std


def first_conv_channels(module: nn.Module) -> int | None:
    """The input channels of the first ``nn.Conv2d`` in ``module`` (in registration order, which is
    the forward order of the usual networks), or None when it has none."""
    conv = next((m for m in module.modules() if isinstance(m, nn.Conv2d)), None)
    return None if conv is None else conv.in_channels


def wrap_classifier(module: nn.Module, last_layer: str = "fc", mean: Sequence[float] | None = None,
                    std: Sequence[float] | None = None) -> WrappedClassifier:
    """``module`` behind the project's model interface; see :class:`WrappedClassifier`.

    ``last_layer`` is the dotted name of its last ``nn.Linear`` (torchvision: ``"fc"`` for ResNets,
    ``"classifier.1"`` for EfficientNet, ``"heads.head"`` for ViT; timm: ``"fc"`` or ``"head.fc"``).
    A name that is missing or not linear raises :class:`~explorer.core.errors.ArgumentError` listing
    the module's linear layers.
    """
    if not isinstance(module, nn.Module):
        raise ArgumentError(f"wrap_classifier takes an nn.Module, got {type(module).__name__}")
    return WrappedClassifier(module, last_layer, mean, std)
