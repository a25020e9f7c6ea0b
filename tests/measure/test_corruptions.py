"""Properties of explorer.measure.corruptions on small grayscale and RGB batches."""

import pytest
import torch
import torch.nn.functional as F

from explorer.core.data import PAD, UNKNOWN
from explorer.measure.corruptions import CORRUPTIONS, SEVERITIES, TEXT_CORRUPTIONS, corrupt, corruptions_for

RANDOM = ("gaussian_noise", "shot_noise", "rotation")
# (shape, dtype): digits-like, MNIST-like, CIFAR-like.
BATCHES = {"8x8x1": ((6, 1, 8, 8), torch.float64), "28x28x1": ((6, 1, 28, 28), torch.float32),
           "32x32x3": ((6, 3, 32, 32), torch.float32)}


def smooth_images(shape, dtype, seed=0):
    """Random low-frequency images in [0, 1]: a 4×4 random grid upsampled bilinearly."""
    coarse = torch.rand(*shape[:2], 4, 4, generator=torch.Generator().manual_seed(seed), dtype=dtype)
    return F.interpolate(coarse, size=shape[2:], mode="bilinear", align_corners=False)


def test_every_corruption_has_five_severities():
    assert set(CORRUPTIONS) >= {"gaussian_noise", "gaussian_blur", "rotation", "contrast"}
    assert all(len(SEVERITIES[name]) == 5 for name in CORRUPTIONS)


@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("name", CORRUPTIONS)
def test_shape_dtype_range_preserved(batch, name):
    x = smooth_images(*BATCHES[batch])
    original = x.clone()
    for severity in range(1, 6):
        out = corrupt(x, name, severity)
        assert out.shape == x.shape and out.dtype == x.dtype
        assert out.min() >= 0 and out.max() <= 1 and not out.isnan().any()
    assert torch.equal(x, original)  # the input is not modified in place


@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("name", CORRUPTIONS)
def test_distance_grows_with_severity(batch, name):
    x = smooth_images(*BATCHES[batch])
    distance = [(corrupt(x, name, s) - x).abs().mean().item() for s in range(1, 6)]
    assert all(later >= earlier - 1e-3 for earlier, later in zip(distance, distance[1:])), distance
    assert distance[-1] > distance[0] > 0, distance


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_deterministic_per_seed(name):
    x = smooth_images((8, 1, 28, 28), torch.float32)
    assert torch.equal(corrupt(x, name, 3, seed=1), corrupt(x, name, 3, seed=1))
    assert torch.equal(corrupt(x, name, 3, seed=1), corrupt(x, name, 3, seed=2)) == (name not in RANDOM)


@pytest.mark.parametrize("name", ["gaussian_blur", "contrast", "pixelate"])
def test_constant_image_is_a_fixed_point(name):
    x = torch.full((2, 3, 32, 32), 0.3)
    torch.testing.assert_close(corrupt(x, name, 5), x, atol=1e-4, rtol=0)  # luma weights sum to 0.9999


def test_hand_worked_values():
    x = torch.tensor([0.0, 0.2, 0.6, 1.0]).reshape(1, 1, 2, 2)
    brighter = torch.tensor([0.5, 0.7, 1.0, 1.0]).reshape(x.shape)
    torch.testing.assert_close(corrupt(x, "brightness", 5), brighter)
    # contrast 0.05 about the mean 0.45
    torch.testing.assert_close(corrupt(x, "contrast", 5), 0.05 * x + 0.95 * 0.45)


@pytest.mark.parametrize(
    "x, name, severity, message",
    [
        (torch.rand(2, 1, 8, 8), "fog", 1, "unknown corruption 'fog'; allowed: gaussian_noise, shot_noise"),
        (torch.rand(2, 1, 8, 8), "contrast", 0, "severity must be .* 1 to 5, got 0"),
        (torch.rand(2, 1, 8, 8), "contrast", 6, "severity .* got 6"),
        (torch.rand(2, 1, 8, 8), "contrast", 2.0, "severity .* got 2.0"),
        (torch.rand(1, 8, 8), "contrast", 1, r"x must .* \(N, C, H, W\), got torch.float32 \(1, 8, 8\)"),
        (torch.ones(2, 1, 8, 8, dtype=torch.uint8), "contrast", 1, "x must be a float batch .* torch.uint8"),
        (torch.rand(2, 1, 8, 8) * 2, "contrast", 1, r"x must lie in \[0, 1\]"),
        (torch.full((2, 1, 8, 8), float("nan")), "contrast", 1, r"x must lie in \[0, 1\] .* \[nan, nan\]"),
        (torch.ones(2, 5, dtype=torch.int64), "contrast", 1, r"contrast corrupts images, .*; documents take word_deletion"),
        (torch.rand(2, 1, 8, 8), "word_swap", 1, r"word_swap corrupts documents.*\(images take gaussian_noise"),
        (torch.ones(2, 5, 1, dtype=torch.int64), "word_deletion", 1, r"\(N, L\) int64 token ids; got"),
    ],
)
def test_invalid_arguments_raise(x, name, severity, message):
    with pytest.raises(ValueError, match=message):
        corrupt(x, name, severity)


def documents(n=40, length=60, seed=0):
    """Token ids 2..499 of documents of random lengths (at least 5 words), padded with 0."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(2, 500, (n, length), generator=g)
    lengths = torch.randint(5, length + 1, (n,), generator=g)
    return torch.where(torch.arange(length) < lengths[:, None], x, PAD)


def test_text_corruptions_are_the_text_domain():
    assert corruptions_for("text") == TEXT_CORRUPTIONS == ("word_deletion", "unknown_words", "word_swap")
    assert corruptions_for("image") == CORRUPTIONS and not set(CORRUPTIONS) & set(TEXT_CORRUPTIONS)
    assert all(len(SEVERITIES[name]) == 5 for name in TEXT_CORRUPTIONS)


@pytest.mark.parametrize("name", TEXT_CORRUPTIONS)
def test_text_corruption_keeps_shape_and_padding_and_follows_the_seed(name):
    x = documents()
    original = x.clone()
    out = corrupt(x, name, 3, seed=1)
    assert out.shape == x.shape and out.dtype == torch.int64 and torch.equal(x, original)
    lengths, new_lengths = (x != PAD).sum(1), (out != PAD).sum(1)
    assert (new_lengths <= lengths).all()
    # padding stays a suffix: no word after the first padding
    assert not ((out != PAD) & ((out == PAD).cumsum(1) > 0)).any()
    assert torch.equal(out, corrupt(x, name, 3, seed=1)) and not torch.equal(out, corrupt(x, name, 3, seed=2))


@pytest.mark.parametrize("name", TEXT_CORRUPTIONS)
def test_text_severity_sets_the_share_of_words_touched(name):
    x = documents(n=200, length=200)
    words = (x != PAD).sum().item()
    for severity, share in enumerate(SEVERITIES[name], start=1):
        out = corrupt(x, name, severity, seed=0)
        if name == "word_deletion":
            touched = words - (out != PAD).sum().item()
        elif name == "unknown_words":
            touched = ((out == UNKNOWN) & (x != UNKNOWN)).sum().item()
        else:  # a word that trades places lands elsewhere unless it draws its own place back
            touched = ((out != x) & (x != PAD)).sum().item()
        assert touched / words == pytest.approx(share, abs=0.03 if name != "word_swap" else 0.06), severity


def test_word_deletion_keeps_the_other_words_in_order():
    x = documents()
    out = corrupt(x, "word_deletion", 2, seed=0)
    for row, new in zip(x.tolist(), out.tolist()):
        kept, it = [t for t in new if t != PAD], iter(row)
        assert all(any(t == u for u in it) for t in kept)  # a subsequence of the original


def test_word_swap_keeps_each_documents_words():
    x = documents()
    out = corrupt(x, "word_swap", 5, seed=0)
    assert torch.equal(out.sort(dim=1).values, x.sort(dim=1).values)
    assert (out != x).any()
