"""Batched inference: a model's logits and latents for a set of images, on the CPU."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from explorer.core.bundles import save_bundle
from explorer.core.models import LinearHead


@torch.no_grad()
def predict(model: nn.Module, x: Tensor, batch_size: int = 256) -> tuple[Tensor, Tensor]:
    """Logits (N, K) and latents (N, d) of images x (N, C, H, W) in [0, 1], on the CPU.

    Batches of 256 keep a CNN's activations in cache: on two CPU cores, 1000 took 1.8× as long.

    Runs in eval mode on the model's device and restores the model's previous mode.
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    logits, latents = [], []
    try:
        for start in range(0, len(x), batch_size):
            z = model.embed(x[start: start + batch_size].to(device))
            latents.append(z.cpu())
            logits.append(model.head(z).cpu())
    finally:
        model.train(was_training)
    return torch.cat(logits), torch.cat(latents)


def export_bundle(model: nn.Module, images: Tensor, labels, path, *, class_names=None,
                  validation: tuple[Tensor, object] | None = None, ood: Tensor | None = None,
                  keep_images: bool = True, batch_size: int = 256, dataset: str | None = None):
    """Write a predictions bundle (:mod:`explorer.core.bundles`) of any project or wrapped model.

    images (N, C, H, W) in [0, 1] and labels (N,) give ``logits``, ``latents`` and (with
    ``keep_images``) ``images``; ``validation`` = (x, y) gives ``val_logits``/``val_labels`` for
    temperature scaling and ``val_latents``, to which a linear layer's implied Gaussians are fitted;
    ``ood`` images give ``ood_logits``/``ood_latents``. A linear head (softmax,
    wrapped models) adds its ``weight`` and ``bias``; the Bayes-rule heads have none. ``dataset`` names
    the project dataset whose test split ``images`` are, in its order (the bundle's ``dataset`` field).
    Returns the checked :class:`~explorer.core.bundles.Bundle`.
    """
    logits, latents = predict(model, images, batch_size)
    arrays = {"logits": logits.numpy(), "labels": torch.as_tensor(labels).numpy(), "latents": latents.numpy()}
    if isinstance(model.head, LinearHead):
        arrays["weight"] = model.head.linear.weight.detach().cpu().numpy()
        bias = model.head.linear.bias
        arrays["bias"] = bias.detach().cpu().numpy() if bias is not None else np.zeros(len(arrays["weight"]))
    if keep_images:
        arrays["images"] = images.cpu().numpy()
    if class_names is not None:
        arrays["class_names"] = [str(name) for name in class_names]
    if validation is not None:
        val_logits, val_latents = predict(model, validation[0], batch_size)
        arrays["val_logits"], arrays["val_latents"] = val_logits.numpy(), val_latents.numpy()
        arrays["val_labels"] = torch.as_tensor(validation[1]).numpy()
    if dataset is not None:
        arrays["dataset"] = np.asarray(str(dataset))
    if ood is not None:
        ood_logits, ood_latents = predict(model, ood, batch_size)
        arrays["ood_logits"], arrays["ood_latents"] = ood_logits.numpy(), ood_latents.numpy()
    return save_bundle(path, **arrays)
