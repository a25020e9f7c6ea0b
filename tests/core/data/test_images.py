"""Tests for explorer.core.data.images: the digits split, torchvision's sets offline, ImageData validation."""

import shutil
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision.datasets.utils

from explorer.core.data import DATASETS, ImageData, data_root, load_dataset
from explorer.core.errors import DatasetUnavailableError

SHARED_DATA = Path(__file__).resolve().parents[4] / "shared" / "data"
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


def test_digits_read_without_scikit_learn_are_load_digits_split_by_train_test_split():
    """The stored split and the CSV read give exactly the arrays scikit-learn's own functions give."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from explorer.core.data import images as D

    digits = load_digits()
    images, target = D._digits_arrays()
    np.testing.assert_array_equal(images, digits.images)
    np.testing.assert_array_equal(target, digits.target)
    x_train, x_test, y_train, y_test = train_test_split(
        digits.images / 16.0, digits.target, test_size=D.DIGITS_TEST_SIZE, stratify=digits.target,
        random_state=D.DIGITS_SPLIT_SEED)
    for split, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        loaded = load_dataset("digits", split)
        np.testing.assert_array_equal(loaded.x.squeeze(1).numpy(), np.float32(x))
        np.testing.assert_array_equal(loaded.y.numpy(), y)


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


# --- offline behaviour -----------------------------------------------------------------------------


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
