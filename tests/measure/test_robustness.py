"""Tests for explorer.measure.robustness: accuracy and ECE against corruption severity."""

import pytest

from explorer.core.checkpoints import SHIPPED_DIR, load_checkpoint
from explorer.core.data import load_dataset
from explorer.measure.robustness import shift_curves


@pytest.fixture(scope="module")
def digits_vc():
    model, _ = load_checkpoint(SHIPPED_DIR / "digits-mlp-d16-vc.pt")
    return model, load_dataset("digits", "test")


def test_shift_curves_start_clean_and_lose_accuracy_under_heavy_noise(digits_vc):
    model, test = digits_vc
    calls = []
    curves = shift_curves(model, test.x, test.y, ["gaussian_noise", "contrast"], seed=0,
                          progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (10, 10)
    for curve in curves.values():
        assert curve["severity"] == [0, 1, 2, 3, 4, 5] and len(curve["accuracy"]) == 6
        assert all(0 <= a <= 1 for a in curve["accuracy"] + curve["ece"])
    noise = curves["gaussian_noise"]["accuracy"]
    assert noise[5] < noise[0] - 0.1
    again = shift_curves(model, test.x, test.y, ["gaussian_noise"], seed=0)
    assert again["gaussian_noise"] == curves["gaussian_noise"]  # same seed, same shifted images
