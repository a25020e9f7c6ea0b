"""Tests for explorer.core.data.loading: the one entry point's checks of a name and a split, and the data root."""

from types import SimpleNamespace

import pytest
import torch
from conftest import tiny_text

from explorer.core.data import Vocabulary, data_root, load_dataset, readable_by


@pytest.mark.parametrize(
    "name, split, pattern", [("svhn", "train", "'svhn'.*'cifar10'"), ("digits", "val", "'val'.*'test'")]
)
def test_unknown_name_or_split_lists_allowed_values(name, split, pattern):
    with pytest.raises(ValueError, match=pattern):
        load_dataset(name, split)


def test_data_root_defaults_to_user_cache(monkeypatch, tmp_path):
    monkeypatch.delenv("EXPLORER_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert data_root() == tmp_path / "vc-explorer" / "data"


def test_readable_by_re_encodes_text_with_the_models_own_vocabulary():
    data = tiny_text(n=6)
    own = Vocabulary(tuple(reversed(data.vocabulary.words)))
    read = readable_by(data, SimpleNamespace(vocabulary=own))
    assert read.vocabulary == own and read.texts == data.texts and torch.equal(read.y, data.y)
    assert torch.equal(read.x, own.encode(data.texts, data.x.shape[1])) and not torch.equal(read.x, data.x)
    assert readable_by(data, SimpleNamespace(vocabulary=data.vocabulary)) is data
    assert readable_by(data, SimpleNamespace()) is data  # an image model has no vocabulary
    digits = load_dataset("digits", "test")
    assert readable_by(digits, SimpleNamespace(vocabulary=own)) is digits
