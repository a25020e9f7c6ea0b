import numpy as np
import pytest

from explorer.checkpoints import load_checkpoint
from explorer.data import load_dataset
from explorer.registry import SHIPPED_DIR
from explorer.robustness import low_data_sweep, noise_images, ood_comparison, shift_curves


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


def test_low_data_sweep_trains_each_method_at_each_fraction():
    train_data, test = load_dataset("digits", "train"), load_dataset("digits", "test")
    results = low_data_sweep(train_data, test, "digits", ["softmax", "vc"], [0.1, 1.0], epochs=5, hidden=32)
    for rows in results.values():
        assert rows["fraction"] == [0.1, 1.0]
        assert rows["accuracy"][1] > rows["accuracy"][0] - 0.05  # more data does not hurt much
    assert results["softmax"]["accuracy"][1] > 0.5


def test_ood_comparison_separates_noise_from_digits(digits_vc):
    model, test = digits_vc
    noise = noise_images(test.x, 300, seed=0)
    assert noise.shape == (300, 1, 8, 8) and 0 <= noise.min() and noise.max() <= 1
    report = ood_comparison(model, test.x, noise)
    assert set(report) == {"max_softmax", "log_density"}
    assert report["log_density"]["auroc"] > 0.9  # VC's p(z) knows noise is not a digit
    assert np.isfinite(report["max_softmax"]["auroc"])
