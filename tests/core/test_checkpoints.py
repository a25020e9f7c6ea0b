import dataclasses
import os

import pytest
import torch

from conftest import quick_configs, text_configs, tiny_text
from explorer.core import checkpoints
from explorer.core.checkpoints import (REQUIRED_META, CheckpointError, checkpoint_validation_split, load_checkpoint,
                                       save_checkpoint, validation_split)
from explorer.core.data import load_dataset, split_indices
from explorer.core.errors import ArgumentError
from explorer.core.models import build_model
from explorer.core.data import Vocabulary

META = {"dataset": "digits", "class_names": [str(k) for k in range(10)], "metrics": {"accuracy": 0.5},
        "history": [{"epoch": 1, "loss": 1.0, "latent_norm": [1.0] * 10}], "snapshots": torch.zeros(2, 3, 2)}


@pytest.fixture
def model():
    return build_model(quick_configs("vc")[0], seed=0).eval()


@pytest.fixture
def saved(tmp_path, model):
    return save_checkpoint(tmp_path / "m.pt", model, META)


def test_round_trip_keeps_weights_and_meta(saved, model):
    loaded, meta = load_checkpoint(saved)
    x = torch.rand(4, 1, 8, 8)
    assert torch.equal(loaded(x), model(x))
    assert set(REQUIRED_META) <= set(meta)
    assert meta["method"] == "vc" and meta["latent_dim"] == 2 and meta["encoder"] == "mlp"
    assert meta["history"] == META["history"] and torch.equal(meta["snapshots"], META["snapshots"])
    assert meta["versions"]["torch"] == torch.__version__ and meta["created"]
    assert not loaded.training


@pytest.mark.parametrize("method", ["softmax", "gaussian", "lgm"])
def test_round_trip_for_other_methods(tmp_path, method):
    model = build_model(quick_configs(method)[0], seed=0).eval()
    loaded, _ = load_checkpoint(save_checkpoint(tmp_path / "m.pt", model, META))
    x = torch.rand(3, 1, 8, 8)
    assert torch.equal(loaded(x), model(x))


def test_saved_file_is_readable_by_others(saved):
    assert os.stat(saved).st_mode & 0o777 == 0o644


def test_interrupted_save_leaves_the_old_file_intact(saved, model, monkeypatch):
    before = saved.read_bytes()

    def interrupted(payload, f):
        f.write(b"half a checkpoint")
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoints.torch, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(saved, model, META)
    assert saved.read_bytes() == before
    assert os.listdir(saved.parent) == [saved.name]  # no temporary file left behind


def test_meta_must_be_plain_and_complete(tmp_path, model):
    with pytest.raises(ValueError, match="meta\\['config_object'\\] is a ModelConfig"):
        save_checkpoint(tmp_path / "m.pt", model, {**META, "config_object": model.config})
    with pytest.raises(ValueError, match="dataset"):
        save_checkpoint(tmp_path / "m.pt", model, {k: v for k, v in META.items() if k != "dataset"})


def expect_error(path, pattern):
    with pytest.raises(CheckpointError, match=pattern) as info:
        load_checkpoint(path)
    assert "\n" not in str(info.value)


def test_truncated_file(saved):
    data = saved.read_bytes()
    saved.write_bytes(data[: len(data) // 2])
    expect_error(saved, "truncated or corrupt")


def test_not_a_checkpoint(tmp_path):
    text = tmp_path / "notes.pt"
    text.write_text("hello\nworld\n")
    expect_error(text, "truncated or corrupt")
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, other)
    expect_error(other, "not a vc-explorer checkpoint")
    expect_error(tmp_path / "missing.pt", "no such file")


class Payload:
    """Unpickling this would create a marker file: loading must refuse before it runs."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_code_payload_is_refused_and_never_run(tmp_path, saved):
    marker = tmp_path / "pwned"
    payload = torch.load(saved, weights_only=True)
    payload["meta"]["extra"] = Payload(marker)
    evil = tmp_path / "evil.pt"
    torch.save(payload, evil)
    expect_error(evil, "refused")
    assert not marker.exists()


def _edit(path, change):
    payload = torch.load(path, weights_only=True)
    change(payload)
    torch.save(payload, path)


def test_unknown_method(saved):
    _edit(saved, lambda p: p["meta"].update(method="magic"))
    expect_error(saved, "unknown method 'magic'")


def test_weights_that_do_not_fit_the_config(saved):
    _edit(saved, lambda p: p["meta"]["config"].update(latent_dim=5))
    expect_error(saved, "do not fit")


def test_missing_meta_and_wrong_version(saved, tmp_path):
    _edit(saved, lambda p: p["meta"].pop("class_names"))
    expect_error(saved, "lacks class_names")
    _edit(saved, lambda p: p.update(format_version=99))
    expect_error(saved, "format version 99")


@pytest.mark.parametrize("change, pattern", [
    (lambda p: p.update(format_version=torch.zeros(3)), "format version"),
    (lambda p: p["meta"].update(config=["method"]), "not a mapping"),
    (lambda p: p["state_dict"].update({7: torch.zeros(1)}), "lacks its weights"),
    (lambda p: p["meta"].update(dataset="imagenet"), "unknown dataset 'imagenet'"),
    (lambda p: p["meta"].update(dataset=["digits"]), "unknown dataset"),
    (lambda p: p["meta"].update(class_names=["a", "b"]), "class_names must be 10 strings"),
    (lambda p: p["meta"]["config"].update(latent_dim="two"), "do not fit"),
])
def test_crafted_files_raise_checkpoint_error(saved, change, pattern):
    _edit(saved, change)
    expect_error(saved, pattern)


def test_a_folder_is_not_a_file(tmp_path):
    expect_error(tmp_path, "not a file")


def test_a_text_model_carries_its_vocabulary(tmp_path):
    from conftest import text_configs, tiny_text
    from explorer.core.data import Vocabulary

    data = tiny_text()
    model = build_model(text_configs("softmax", data, vocab_size=data.vocabulary.size)[0], seed=0).eval()
    with pytest.raises(ValueError, match="vocabulary"):
        save_checkpoint(tmp_path / "t.pt", model, {**META, "class_names": ["a", "b", "c"]})
    model.vocabulary = data.vocabulary
    loaded, meta = load_checkpoint(save_checkpoint(tmp_path / "t.pt", model, {**META, "class_names": ["a", "b", "c"]}))
    assert loaded.vocabulary == data.vocabulary and meta["vocabulary"] == list(data.vocabulary.words)
    torch.testing.assert_close(loaded(data.x), model(data.x))
    payload = torch.load(tmp_path / "t.pt", weights_only=True)
    payload["meta"]["vocabulary"] = payload["meta"]["vocabulary"][:-1]  # one word short of the model's ids
    torch.save(payload, tmp_path / "short.pt")
    with pytest.raises(CheckpointError, match="vocabulary has"):
        load_checkpoint(tmp_path / "short.pt")
    assert Vocabulary(tuple(meta["vocabulary"])).size == model.config.vocab_size


# ---------------------------------------------------------------------------------------------------
# What training held out


def test_the_validation_split_is_what_training_held_out(model):
    data = load_dataset("digits", "train")
    _, train_config = quick_configs("vc", train_fraction=0.5, seed=3)
    _, val_idx = split_indices(data.y, train_config)
    val = validation_split(model, data, train_config)
    assert torch.equal(val.x, data.x[val_idx]) and torch.equal(val.y, data.y[val_idx])
    meta = {"dataset": "digits", "train_config": dataclasses.asdict(train_config)}
    for rebuilt in (checkpoint_validation_split(model, meta), checkpoint_validation_split(model, meta, data)):
        assert torch.equal(rebuilt.x, val.x) and torch.equal(rebuilt.y, val.y)
    with pytest.raises(ArgumentError, match="does not record its training split"):
        checkpoint_validation_split(model, {"dataset": "digits"})


def test_a_text_models_validation_split_is_read_with_its_own_vocabulary():
    data = tiny_text()
    model_config, train_config = text_configs("softmax", data, vocab_size=data.vocabulary.size)
    model = build_model(model_config, seed=0)
    model.vocabulary = data.vocabulary  # what training sets and a checkpoint carries
    other = data.with_vocabulary(Vocabulary.build(data.texts[:5], min_count=1))
    val = validation_split(model, other, train_config)
    _, val_idx = split_indices(data.y, train_config)
    assert val.vocabulary == data.vocabulary and torch.equal(val.x, data.x[val_idx])


def test_a_config_is_checked_against_the_stored_weights_before_a_model_is_built(tmp_path):
    """A config asking for a 100 000-wide layer is refused without allocating it; a weight of the wrong
    shape is named."""
    import time

    source = checkpoints.SHIPPED_DIR / "digits-mlp-d2-vc.pt"
    payload = torch.load(source, weights_only=True)
    payload["meta"]["config"]["hidden"] = 100_000
    torch.save(payload, tmp_path / "huge.pt")
    started = time.perf_counter()
    with pytest.raises(CheckpointError, match=r"asks for 10,006,800,054 parameters, more than"):
        load_checkpoint(tmp_path / "huge.pt")
    assert time.perf_counter() - started < 2.0
    payload = torch.load(source, weights_only=True)
    payload["meta"]["config"]["hidden"] = 32  # the stored layers are 256 wide
    torch.save(payload, tmp_path / "narrow.pt")
    with pytest.raises(CheckpointError, match=r"encoder.1.weight is \(256, 64\) but the config makes it \(32, 64\)"):
        load_checkpoint(tmp_path / "narrow.pt")
