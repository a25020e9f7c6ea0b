"""Tests for explorer.core.data: loaders, offline behaviour, stratified subsets, ImageData validation."""

import shutil
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision.datasets.utils

from explorer.core.data import (
    DATASETS,
    DatasetUnavailableError,
    ImageData,
    data_root,
    load_dataset,
    stratified_fraction,
    stratified_split,
    subset_indices,
)

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
TORCHVISION_FOLDER = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}


def assert_valid(data: ImageData, name: str, n: int) -> None:
    info = DATASETS[name]
    assert data.name == name and len(data) == n
    assert data.x.shape == (n, *info.input_shape) and data.x.dtype == torch.float32
    assert data.y.shape == (n,) and data.y.dtype == torch.int64
    assert 0 <= data.x.min() and data.x.max() == 1  # max hits 1: scaled by the true maximum, not more
    assert data.y.unique().tolist() == list(range(info.num_classes))
    assert data.class_names == info.class_names


def assert_stats_match(data: ImageData) -> None:
    """The normalisation constants are the training images' per-channel mean and population std."""
    info = DATASETS[data.name]
    pixels = data.x.double().transpose(0, 1).flatten(1)
    assert pixels.mean(1).tolist() == pytest.approx(info.mean, abs=1e-4)
    assert pixels.std(1, unbiased=False).tolist() == pytest.approx(info.std, abs=1e-4)


# --- digits ---------------------------------------------------------------------------------------


def test_digits_split_is_fixed_stratified_and_disjoint():
    train, test = load_dataset("digits", "train"), load_dataset("digits", "test")
    assert_valid(train, "digits", 1347)
    assert_valid(test, "digits", 450)
    assert_stats_match(train)
    # Stratified: every class holds ~25 % of its images in the test split.
    share = test.y.bincount() / (train.y.bincount() + test.y.bincount())
    assert torch.allclose(share, torch.tensor(0.25, dtype=share.dtype), atol=0.01)
    # Fixed: a second load gives the same images in the same order.
    again = load_dataset("digits", "train")
    assert torch.equal(again.x, train.x) and torch.equal(again.y, train.y)
    # Disjoint: no test image appears in the training split (sklearn's digits has no duplicates).
    flat_train = {tuple(row) for row in train.x.flatten(1).tolist()}
    assert not any(tuple(row) in flat_train for row in test.x.flatten(1).tolist())
    assert len(flat_train) == len(train)


@pytest.mark.parametrize(
    "name, split, pattern", [("svhn", "train", "'svhn'.*'cifar10'"), ("digits", "val", "'val'.*'test'")]
)
def test_unknown_name_or_split_lists_allowed_values(name, split, pattern):
    with pytest.raises(ValueError, match=pattern):
        load_dataset(name, split)


def test_dataset_info_is_consistent():
    for name, info in DATASETS.items():
        assert info.name == name and info.domain in ("image", "text")
        assert info.num_classes == len(set(info.class_names))
        assert info.needs_download == (name != "digits")
        assert info.ood is None or DATASETS[info.ood].domain == info.domain
        if info.domain == "image":
            assert info.num_classes == 10 and len(info.mean) == len(info.std) == info.input_shape[0]
        else:
            assert len(info.input_shape) == 1 and info.mean == info.std == ()


# --- MNIST and Fashion-MNIST from a copy of the shared raw files -----------------------------------


@pytest.fixture(scope="module")
def mnist_root(tmp_path_factory):
    """A writable copy of the shared .gz archives (torchvision extracts next to them)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"offline MNIST/Fashion-MNIST archives not found at {SHARED_DATA}")
    root = tmp_path_factory.mktemp("data")
    for folder in TORCHVISION_FOLDER.values():
        shutil.copytree(SHARED_DATA / folder / "raw", root / folder / "raw")
    return root


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_torchvision_datasets_from_archives(name, mnist_root, monkeypatch):
    monkeypatch.setenv("EXPLORER_DATA_DIR", str(mnist_root))
    assert data_root() == mnist_root
    train = load_dataset(name, "train")  # extracts the archives: no network involved
    assert_valid(train, name, 60000)
    assert_stats_match(train)
    assert_valid(load_dataset(name, "test", download=False), name, 10000)  # now extracted
    # Nothing but torchvision's files is left in the root: the scratch folder is gone.
    assert {p.name for p in mnist_root.iterdir()} == set(TORCHVISION_FOLDER.values())


def test_fashion_class_names():
    assert DATASETS["fashion-mnist"].class_names[0] == "T-shirt/top"
    assert DATASETS["fashion-mnist"].class_names[-1] == "Ankle boot"
    assert DATASETS["cifar10"].class_names[:2] == ("airplane", "automobile")


# --- offline behaviour -----------------------------------------------------------------------------


def test_data_root_defaults_to_user_cache(monkeypatch, tmp_path):
    monkeypatch.delenv("EXPLORER_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert data_root() == tmp_path / "vc-explorer" / "data"


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist", "cifar10"])
def test_missing_files_without_download(name, tmp_path):
    with pytest.raises(DatasetUnavailableError) as err:
        load_dataset(name, root=tmp_path, download=False)
    message = str(err.value)
    assert name in message and str(tmp_path) in message and "EXPLORER_DATA_DIR" in message
    assert "\n" not in message


@pytest.mark.parametrize("name", ["mnist", "cifar10"])
def test_failed_download_leaves_nothing_behind(name, tmp_path, monkeypatch):
    def broken_download(url, root, filename=None, md5=None, **kwargs):
        path = Path(root) / (filename or Path(url).name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half a file")
        calls.append(path)
        raise urllib.error.URLError("network is unreachable")

    calls = []
    monkeypatch.setattr(torchvision.datasets.utils, "download_url", broken_download)
    root = tmp_path / "data"
    with pytest.raises(DatasetUnavailableError, match="network is unreachable") as err:
        load_dataset(name, root=root)
    assert calls, "the download was never attempted"
    assert name in str(err.value) and str(root) in str(err.value) and "\n" not in str(err.value)
    assert [p for p in root.rglob("*") if p.is_file()] == []


# --- stratified subsets ----------------------------------------------------------------------------


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


# --- ImageData validation --------------------------------------------------------------------------


def make(x=None, y=None):
    x = torch.rand(4, 1, 8, 8) if x is None else x
    y = torch.tensor([0, 1, 2, 1]) if y is None else y
    return ImageData("digits", x, y, ("a", "b", "c"))


@pytest.mark.parametrize(
    "x, y",
    [
        (torch.rand(4, 8, 8), None),  # no channel axis
        (torch.rand(4, 1, 8, 8).double(), None),  # wrong dtype
        (torch.rand(4, 1, 8, 8) * 255, None),  # 0..255 instead of [0, 1]
        (torch.full((4, 1, 8, 8), float("nan")), None),
        (None, torch.tensor([0, 1, 2])),  # length mismatch
        (None, torch.tensor([0, 1, 2, 1], dtype=torch.int32)),
        (None, torch.tensor([0, 1, 3, 1])),  # label beyond the class names
        (None, torch.tensor([0, -1, 2, 1])),
    ],
)
def test_image_data_rejects_invalid(x, y):
    with pytest.raises(ValueError):
        make(x, y)


def test_image_data_subset():
    data = make()
    sub = data.subset([3, 0])
    assert len(sub) == 2 and torch.equal(sub.y, torch.tensor([1, 0])) and torch.equal(sub.x[1], data.x[0])
    assert len(data.subset(data.y == 1)) == 2


def test_subset_indices_are_sorted_distinct_and_seeded():
    keep = subset_indices(10_000, 2000, seed=3)
    assert len(keep) == 2000 and len(set(keep)) == 2000 and (np.diff(keep) > 0).all()
    np.testing.assert_array_equal(keep, subset_indices(10_000, 2000, seed=3))
    assert not np.array_equal(keep, subset_indices(10_000, 2000, seed=4))
    np.testing.assert_array_equal(subset_indices(450, 2000, seed=3), np.arange(450))
    np.testing.assert_array_equal(subset_indices(10_000, None, seed=3), np.arange(10_000))  # None: all of them


# --- text sets from the shared files -----------------------------------------------------------------


@pytest.mark.parametrize("name, n_train, n_test", [("20newsgroups", 11293, 7528), ("reuters-r8", 5485, 2189)])
def test_text_sets_from_the_offline_files(name, n_train, n_test, data_copy, monkeypatch):
    from explorer.core.data import TextData

    monkeypatch.setenv("EXPLORER_DATA_DIR", str(data_copy))
    train, test = load_dataset(name, "train"), load_dataset(name, "test")
    assert isinstance(train, TextData) and (len(train), len(test)) == (n_train, n_test)
    info = DATASETS[name]
    assert train.x.shape == (n_train, info.input_shape[0]) and train.x.dtype == torch.int64
    assert train.vocabulary == test.vocabulary  # the training split's, for both
    assert torch.bincount(train.y, minlength=info.num_classes).min() > 0
    unknown = (test.x == 1).sum() / (test.x > 0).sum()
    assert 0 < unknown < 0.1  # test words outside the training vocabulary: a few per cent
    two = train.subset([3, 0])
    assert two.texts == (train.texts[3], train.texts[0]) and torch.equal(two.x[1], train.x[0])


def test_r8_without_its_files_names_the_folder(tmp_path):
    with pytest.raises(DatasetUnavailableError, match="reuters-r8.*EXPLORER_DATA_DIR") as err:
        load_dataset("reuters-r8", root=tmp_path)
    assert "\n" not in str(err.value)


def test_20newsgroups_offline_without_files_fails_in_one_line(tmp_path, monkeypatch):
    import sklearn.datasets

    def offline(**kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(sklearn.datasets, "fetch_20newsgroups", offline)
    with pytest.raises(DatasetUnavailableError, match="scikit-learn failed .*URLError") as err:
        load_dataset("20newsgroups", root=tmp_path)
    assert "\n" not in str(err.value)
    with pytest.raises(DatasetUnavailableError, match="download=False"):
        load_dataset("20newsgroups", root=tmp_path, download=False)


def test_20newsgroups_through_scikit_learn_is_normalised_as_the_files(tmp_path, monkeypatch):
    import sklearn.datasets
    from types import SimpleNamespace

    posts = ["From: x@y\nSubject: Hockey!\n\nThe Leafs won 4-2.", "From: x@y\nSubject: \n\n", "Orbit, moon."]
    monkeypatch.setattr(sklearn.datasets, "fetch_20newsgroups", lambda **kw: SimpleNamespace(
        data=posts, target=np.array([10, 14, 14]), target_names=list(DATASETS["20newsgroups"].class_names)))
    data = load_dataset("20newsgroups", "test", root=tmp_path)
    assert data.texts == ("hockey the leafs won", "orbit moon") and data.y.tolist() == [10, 14]  # empty: dropped


def test_digits_read_without_scikit_learn_are_load_digits_split_by_train_test_split():
    """The stored split and the CSV read give exactly the arrays scikit-learn's own functions give."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from explorer.core import data as D

    digits = load_digits()
    images, target = D._digits_arrays()
    np.testing.assert_array_equal(images, digits.images)
    np.testing.assert_array_equal(target, digits.target)
    x_train, x_test, y_train, y_test = train_test_split(
        digits.images / 16.0, digits.target, test_size=D.DIGITS_TEST_SIZE, stratify=digits.target,
        random_state=D.DIGITS_SPLIT_SEED)
    for split, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        loaded = D.load_dataset("digits", split)
        np.testing.assert_array_equal(loaded.x.squeeze(1).numpy(), np.float32(x))
        np.testing.assert_array_equal(loaded.y.numpy(), y)
