"""Corruptions of increasing severity, of images and of text, to measure accuracy and calibration under
distribution shift.

In the spirit of ImageNet-C (Hendrycks & Dietterich, *Benchmarking Neural Network Robustness to
Common Corruptions and Perturbations*, ICLR 2019) and MNIST-C (Mu & Gilmer 2019): every corruption
has five severities, and :data:`SEVERITIES` holds, per corruption, the one parameter that each
severity 1..5 sets. The tables suit small images (8×8 and 28×28 grayscale, 32×32 RGB):

- per-pixel corruptions (noise, contrast, brightness) take ImageNet-C's values, which are in
  intensity units and so do not depend on the image size;
- spatial ones are relative to the image: the blur's σ is given in pixels of a 32-pixel image and
  scaled by side/32 (side = min(H, W)), so that a severity blurs the same fraction of the object
  whatever the resolution (σ = 0.5..3 px at 32×32, 0.44..2.6 px at 28×28, 0.125..0.75 px at 8×8:
  at 8×8 the lowest severities are close to the identity, which is what a 4-times-coarser image
  allows); pixelation keeps a fraction of the side; rotation is in degrees.

Images are (N, C, H, W), float in [0, 1], before normalisation; outputs have the same shape, dtype
and device and lie in [0, 1]. Random corruptions draw from a ``torch.Generator`` seeded by ``seed``
(same seed, same device → same output).

Text corruptions (:data:`TEXT_CORRUPTIONS`) act on documents as the text models read them, (N, L)
int64 token ids padded with 0 (:mod:`explorer.core.data.tokens`), in the spirit of Wei & Zou's *EDA* (2019):
each severity sets the share p of a document's words that is touched, independently per word.
``word_deletion`` drops them (the rest close up), ``unknown_words`` turns them into the unknown word (as
misspellings or words the vocabulary lacks would), ``word_swap`` makes them trade places at random
among themselves. A bag of words ignores word order, so its curve under ``word_swap`` is flat: that is
the model's nature, not a fault of the measurement.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable

import torch
from torch import Tensor

from explorer.core.data import PAD, UNKNOWN, chosen_words, drop_words
from explorer.core.errors import ArgumentError

SEVERITIES: dict[str, tuple[float, ...]] = {
    # Standard deviation of additive Gaussian noise, pixel units (ImageNet-C).
    "gaussian_noise": (0.08, 0.12, 0.18, 0.26, 0.38),
    # Photons per unit intensity: x' = Poisson(λ·x)/λ, lower λ is noisier (ImageNet-C).
    "shot_noise": (60, 25, 12, 5, 3),
    # Blur σ in pixels of a 32-pixel image, scaled by side/32; kernel covers ±3σ.
    "gaussian_blur": (0.5, 1.0, 1.5, 2.0, 3.0),
    # Rotation angle in degrees about the centre, direction drawn per image; corners filled black.
    "rotation": (10, 20, 30, 45, 60),
    # Fraction of contrast kept: x' = c·x + (1 − c)·mean grey level of the image (ImageNet-C; the
    # grey level of RGB uses torchvision's luma weights 0.2989, 0.587, 0.114).
    "contrast": (0.4, 0.3, 0.2, 0.1, 0.05),
    # Added to every pixel, then clipped (ImageNet-C adds it to HSV value; same for grayscale).
    "brightness": (0.1, 0.2, 0.3, 0.4, 0.5),
    # Side of the coarse image as a fraction of the original (antialiased down, nearest up), as in
    # ImageNet-C but starting at 0.5: a factor below 2 resamples unevenly and can differ from x more
    # than a clean halving does. Coarse sides: 16..6 px at 32, 14..6 at 28, 4, 3, 2, 2, 2 at 8.
    "pixelate": (0.5, 0.4, 0.3, 0.25, 0.2),
}
TEXT_SEVERITIES: dict[str, tuple[float, ...]] = {
    # Share of a document's words touched, each word independently (text corruptions above).
    "word_deletion": (0.1, 0.3, 0.5, 0.7, 0.9),
    "unknown_words": (0.1, 0.3, 0.5, 0.7, 0.9),
    "word_swap": (0.1, 0.3, 0.5, 0.7, 0.9),
}


def _gaussian_noise(x: Tensor, std: float, generator: torch.Generator) -> Tensor:
    noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return x + std * noise


def _shot_noise(x: Tensor, rate: float, generator: torch.Generator) -> Tensor:
    return torch.poisson(x * rate, generator=generator) / rate


def _functional():
    """torchvision's image functions, imported on first use: importing torchvision takes seconds (it
    loads torch's compiler), which the app's first page should not wait for."""
    import torchvision.transforms.v2.functional as TF
    from torchvision.transforms import InterpolationMode

    return TF, InterpolationMode


def _gaussian_blur(x: Tensor, sigma_at_32: float, generator: torch.Generator) -> Tensor:
    TF, _ = _functional()
    sigma = sigma_at_32 * min(x.shape[-2:]) / 32
    size = 2 * math.ceil(3 * sigma) + 1
    return TF.gaussian_blur(x, [size, size], [sigma, sigma])


def _rotation(x: Tensor, degrees: float, generator: torch.Generator) -> Tensor:
    TF, InterpolationMode = _functional()
    clockwise = torch.rand(len(x), generator=generator, device=x.device) < 0.5
    out = x.clone()
    for mask, angle in ((clockwise, -degrees), (~clockwise, degrees)):
        out[mask] = TF.rotate(x[mask], angle, interpolation=InterpolationMode.BILINEAR, fill=0.0)
    return out


def _contrast(x: Tensor, factor: float, generator: torch.Generator) -> Tensor:
    return _functional()[0].adjust_contrast(x, factor)


def _brightness(x: Tensor, shift: float, generator: torch.Generator) -> Tensor:
    return x + shift


def _pixelate(x: Tensor, fraction: float, generator: torch.Generator) -> Tensor:
    TF, InterpolationMode = _functional()
    height, width = x.shape[-2:]
    coarse = [max(1, round(fraction * height)), max(1, round(fraction * width))]
    small = TF.resize(x, coarse, interpolation=InterpolationMode.BILINEAR, antialias=True)
    return TF.resize(small, [height, width], interpolation=InterpolationMode.NEAREST)


def _word_deletion(x: Tensor, share: float, generator: torch.Generator) -> Tensor:
    kept = drop_words(x, share, generator)
    order = torch.argsort((kept == PAD).to(torch.int8), dim=1, stable=True)  # kept words first, in order
    return kept.gather(1, order)


def _unknown_words(x: Tensor, share: float, generator: torch.Generator) -> Tensor:
    return torch.where(chosen_words(x, share, generator), UNKNOWN, x)


def _word_swap(x: Tensor, share: float, generator: torch.Generator) -> Tensor:
    touched = chosen_words(x, share, generator)
    places = torch.argsort((~touched).to(torch.int8), dim=1, stable=True)  # touched positions first, in order
    # the same positions in a random order; the untouched follow in order in both, so they stay put
    position = torch.arange(x.shape[1], device=x.device, dtype=torch.float64) / max(1, x.shape[1])
    keys = torch.where(touched, torch.rand(x.shape, generator=generator, device=x.device, dtype=torch.float64),
                       2.0 + position)
    return x.clone().scatter_(1, places, x.gather(1, torch.argsort(keys, dim=1)))


_FUNCTIONS: dict[str, Callable[[Tensor, float, torch.Generator], Tensor]] = {
    "gaussian_noise": _gaussian_noise,
    "shot_noise": _shot_noise,
    "gaussian_blur": _gaussian_blur,
    "rotation": _rotation,
    "contrast": _contrast,
    "brightness": _brightness,
    "pixelate": _pixelate,
    "word_deletion": _word_deletion,
    "unknown_words": _unknown_words,
    "word_swap": _word_swap,
}

CORRUPTIONS: tuple[str, ...] = tuple(SEVERITIES)
"""The image corruptions."""
TEXT_CORRUPTIONS: tuple[str, ...] = tuple(TEXT_SEVERITIES)
SEVERITIES.update(TEXT_SEVERITIES)  # one table of parameters for :func:`corrupt`
LEVELS = (1, 2, 3, 4, 5)
"""The severities every corruption has, mildest first."""


def corruptions_for(domain: str) -> tuple[str, ...]:
    """The corruptions of a dataset's ``domain`` (``DatasetInfo.domain``): "image" or "text"."""
    return TEXT_CORRUPTIONS if domain == "text" else CORRUPTIONS


def corrupt(x: Tensor, name: str, severity: int, seed: int = 0) -> Tensor:
    """Apply corruption ``name`` at ``severity`` to a batch of images, or of documents.

    Args:
        x: images, (N, C, H, W), floating point in [0, 1]; C = 1 or 3 for "contrast". For a text
            corruption, documents: (N, L) int64 token ids, 0 = padding.
        name: one of :data:`CORRUPTIONS` or :data:`TEXT_CORRUPTIONS`.
        severity: integer 1 (mildest) to 5; the parameter it sets is ``SEVERITIES[name][severity - 1]``
            (units in :data:`SEVERITIES`).
        seed: seeds the noise / rotation directions; ignored by deterministic corruptions.

    Returns:
        Corrupted images, same shape, dtype and device as x, clipped to [0, 1]; or documents, same
        shape, dtype and device.
    """
    if name not in SEVERITIES:
        raise ArgumentError(f"unknown corruption {name!r}; allowed: {', '.join(CORRUPTIONS)} for images, "
                            f"{', '.join(TEXT_CORRUPTIONS)} for text")
    if not isinstance(severity, numbers.Integral) or severity not in LEVELS:
        raise ArgumentError(f"severity must be an integer from 1 to 5, got {severity!r}")
    generator = torch.Generator(x.device).manual_seed(seed)
    if name in TEXT_SEVERITIES:
        if x.ndim != 2 or x.dtype != torch.int64:
            raise ArgumentError(f"{name} corrupts documents, (N, L) int64 token ids; got {x.dtype} "
                                f"{tuple(x.shape)}" + (" (images take " + ", ".join(CORRUPTIONS) + ")"
                                                       if x.is_floating_point() else ""))
        return _FUNCTIONS[name](x, SEVERITIES[name][severity - 1], generator)
    if x.dtype == torch.int64 and x.ndim == 2:
        raise ArgumentError(f"{name} corrupts images, (N, C, H, W) floats in [0, 1]; documents take "
                            f"{', '.join(TEXT_CORRUPTIONS)}")
    if x.ndim != 4 or not x.is_floating_point():
        raise ArgumentError(f"x must be a float batch of shape (N, C, H, W), got {x.dtype} {tuple(x.shape)}")
    if x.numel():
        lo, hi = x.min().item(), x.max().item()
        if not (0 <= lo and hi <= 1):  # written so that NaN fails too
            raise ArgumentError(f"x must lie in [0, 1] (pixels before normalisation), got [{lo}, {hi}]")
    return _FUNCTIONS[name](x, SEVERITIES[name][severity - 1], generator).clamp(0, 1)
