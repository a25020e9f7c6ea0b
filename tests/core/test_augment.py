"""Training images on the device: uint8 where lossless, and the CIFAR crop-and-flip."""

import pytest
import torch

from explorer.core.augment import as_float, compact, crop_flip
from explorer.core.errors import ArgumentError


def test_eight_bit_images_become_uint8_and_come_back_exactly():
    levels = torch.randint(0, 256, (5, 3, 8, 8), generator=torch.Generator().manual_seed(0))
    x = levels.float() / 255
    stored = compact(x)
    assert stored.dtype == torch.uint8 and torch.equal(stored, levels.to(torch.uint8))
    assert torch.equal(as_float(stored), x)


def test_other_images_stay_float32():
    x = torch.randint(0, 17, (4, 1, 8, 8)).float() / 16  # digits: sixteenths, not multiples of 1/255
    assert compact(x) is x and as_float(x) is x
    with pytest.raises(ArgumentError, match="float32"):
        compact(torch.zeros(2, 1, 4, 4, dtype=torch.float64))


def _reference(image: torch.Tensor, dy: int, dx: int, flip: bool, padding: int = 4) -> torch.Tensor:
    """One image cropped at (dy, dx) of its zero-padded self, then mirrored: the loop version."""
    _, h, w = image.shape
    padded = torch.nn.functional.pad(image, (padding,) * 4)
    out = padded[:, dy: dy + h, dx: dx + w]
    return out.flip(2) if flip else out


def test_crop_flip_is_a_shifted_window_of_the_padded_image_possibly_mirrored():
    x = torch.rand(64, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    out = crop_flip(x, torch.Generator().manual_seed(2))
    assert out.shape == x.shape and out.dtype == x.dtype
    flips = 0
    for image, result in zip(x, out):
        matches = [(dy, dx, flip) for dy in range(9) for dx in range(9) for flip in (False, True)
                   if torch.equal(_reference(image, dy, dx, flip), result)]
        assert len(matches) == 1  # random pixels: one window and orientation explain it
        flips += matches[0][2]
    assert 16 <= flips <= 48  # about half mirrored


def test_crop_flip_is_seeded_and_moves_images():
    x = torch.rand(32, 1, 28, 28)
    a, b = crop_flip(x, torch.Generator().manual_seed(0)), crop_flip(x, torch.Generator().manual_seed(0))
    assert torch.equal(a, b)
    assert not torch.equal(a, crop_flip(x, torch.Generator().manual_seed(1)))
    assert not torch.equal(a, x)
    with pytest.raises(ArgumentError, match=r"\(N, C, H, W\)"):
        crop_flip(torch.rand(3, 28, 28), torch.Generator())
