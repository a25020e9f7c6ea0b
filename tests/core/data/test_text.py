"""Tests for explorer.core.data.text: the text sets from the offline files, and without them."""

import urllib.error

import numpy as np
import pytest
import torch

from explorer.core.data import DATASETS, TextData, load_dataset
from explorer.core.errors import DatasetUnavailableError


@pytest.mark.parametrize("name, n_train, n_test", [("20newsgroups", 11293, 7528), ("reuters-r8", 5485, 2189)])
def test_text_sets_from_the_offline_files(name, n_train, n_test, data_copy, monkeypatch):
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
