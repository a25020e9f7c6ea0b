"""Training images as the device holds them, and the CIFAR augmentation done on that device.

Training keeps its images on the device it trains on. Images whose pixels are whole multiples of
1/255 (MNIST, Fashion-MNIST, CIFAR-10: 8-bit files) are kept as uint8, a quarter of float32's memory,
and become float32 batch by batch, exactly as loaded; others (digits' sixteenths) stay float32.
"""

from __future__ import annotations

import torch
from torch import Tensor

from explorer.core.errors import ArgumentError

def compact(x: Tensor) -> Tensor:
    """x (N, C, H, W) float32 in [0, 1] as uint8 when that loses nothing, else x itself."""
    if x.dtype != torch.float32:
        raise ArgumentError(f"images are float32 in [0, 1], got {x.dtype}")
    levels = torch.round(x * 255)
    if torch.equal(levels / 255, x):
        return levels.to(torch.uint8)
    return x


def as_float(x: Tensor) -> Tensor:
    """A batch from :func:`compact` back as float32 in [0, 1] (the very values it was made from)."""
    return x / 255 if x.dtype == torch.uint8 else x


def crop_flip(x: Tensor, generator: torch.Generator, padding: int = 4) -> Tensor:
    """The CIFAR augmentation on a batch, on x's device: each image padded by ``padding`` zeros on every
    side, cut back to its size at a random offset, and mirrored left to right with probability ½
    (He et al. 2016). x (N, C, H, W); one draw per image from ``generator`` (on x's device)."""
    if x.ndim != 4:
        raise ArgumentError(f"crop_flip takes images (N, C, H, W), got shape {tuple(x.shape)}")
    n, _, h, w = x.shape
    device = x.device
    padded = torch.nn.functional.pad(x, (padding,) * 4)
    dy = torch.randint(0, 2 * padding + 1, (n, 1), generator=generator, device=device)
    dx = torch.randint(0, 2 * padding + 1, (n, 1), generator=generator, device=device)
    flip = torch.rand(n, 1, generator=generator, device=device) < 0.5
    rows = dy + torch.arange(h, device=device)  # (N, H)
    cols = dx + torch.arange(w, device=device)  # (N, W)
    cols = torch.where(flip, cols.flip(1), cols)
    images = torch.arange(n, device=device)[:, None, None]
    # (N, H, W, C) by advanced indexing, back to (N, C, H, W)
    return padded.permute(0, 2, 3, 1)[images, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)
