"""Tests for explorer.jobs.runs: the low-data sweep (train_and_save is exercised through the CLI tests)."""

from explorer.core.data import load_dataset
from explorer.jobs.runs import low_data_sweep


def test_low_data_sweep_trains_each_method_at_each_fraction():
    train_data, test = load_dataset("digits", "train"), load_dataset("digits", "test")
    results = low_data_sweep(train_data, test, "digits", ["softmax", "vc"], [0.1, 1.0], epochs=5, hidden=32)
    for rows in results.values():
        assert rows["fraction"] == [0.1, 1.0]
        assert rows["accuracy"][1] > rows["accuracy"][0] - 0.05  # more data does not hurt much
    assert results["softmax"]["accuracy"][1] > 0.5
