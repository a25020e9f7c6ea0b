"""Tests for explorer.core.data.splits: seeded samples, stratified subsets, the holdout split."""

import numpy as np
import pytest
import torch

from explorer.core.data import stratified_fraction, stratified_split, subset_indices


@pytest.fixture
def labels():
    # Unbalanced classes, including one of a single example, in shuffled order.
    counts = [500, 200, 50, 7, 1]
    y = torch.cat([torch.full((n,), c) for c, n in enumerate(counts)])
    return y[torch.randperm(len(y), generator=torch.Generator().manual_seed(1))]


@pytest.mark.parametrize("fraction", [0.01, 0.05, 0.1, 0.5])
def test_stratified_fraction_counts(labels, fraction):
    idx = stratified_fraction(labels, fraction)
    assert idx.dtype == torch.int64 and torch.equal(idx, idx.sort().values) and len(idx.unique()) == len(idx)
    expected = [max(1, round(fraction * n)) for n in labels.bincount().tolist()]
    assert labels[idx].bincount(minlength=5).tolist() == expected


def test_stratified_fraction_nested_deterministic_and_complete(labels):
    fractions = [0.01, 0.05, 0.1, 0.5, 1.0]
    subsets = [set(stratified_fraction(labels, f, seed=3).tolist()) for f in fractions]
    assert all(small <= large for small, large in zip(subsets, subsets[1:]))
    assert subsets[-1] == set(range(len(labels)))
    assert torch.equal(stratified_fraction(labels, 0.1, seed=3), stratified_fraction(labels, 0.1, seed=3))
    assert not torch.equal(stratified_fraction(labels, 0.1, seed=3), stratified_fraction(labels, 0.1, seed=4))
    assert torch.equal(stratified_fraction(labels.numpy(), 0.1), stratified_fraction(labels.tolist(), 0.1))


@pytest.mark.parametrize("fraction", [0, -0.1, 1.5])
def test_stratified_fraction_rejects_bad_fraction(labels, fraction):
    with pytest.raises(ValueError, match="fraction"):
        stratified_fraction(labels, fraction)


def test_stratified_fraction_rejects_bad_labels():
    with pytest.raises(ValueError, match="labels"):
        stratified_fraction(torch.rand(10), 0.5)


def test_stratified_split_disjoint_covering_stratified(labels):
    train, held = stratified_split(labels, 0.2, seed=5)
    assert set(train.tolist()).isdisjoint(held.tolist())
    assert torch.equal(torch.cat([train, held]).sort().values, torch.arange(len(labels)))
    assert labels[held].bincount(minlength=5).tolist() == [100, 40, 10, 1, 1]
    with pytest.raises(ValueError, match="holdout"):
        stratified_split(labels, 1.0)


def test_subset_indices_are_sorted_distinct_and_seeded():
    keep = subset_indices(10_000, 2000, seed=3)
    assert len(keep) == 2000 and len(set(keep)) == 2000 and (np.diff(keep) > 0).all()
    np.testing.assert_array_equal(keep, subset_indices(10_000, 2000, seed=3))
    assert not np.array_equal(keep, subset_indices(10_000, 2000, seed=4))
    np.testing.assert_array_equal(subset_indices(450, 2000, seed=3), np.arange(450))
    np.testing.assert_array_equal(subset_indices(10_000, None, seed=3), np.arange(10_000))  # None: all of them
