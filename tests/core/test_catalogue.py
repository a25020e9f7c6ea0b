import dataclasses
import shutil

from explorer.core.checkpoints import SHIPPED_DIR, list_checkpoints, user_dir


def test_shipped_checkpoints_are_listed_with_their_metadata(tmp_path):
    entries, problems = list_checkpoints(user=tmp_path)
    assert not problems
    shipped = {(e.dataset, e.method, e.latent_dim) for e in entries if e.source == "shipped"}
    assert {("digits", m, d) for m in ("softmax", "lgm", "vc") for d in (2, 16)} <= shipped
    assert {("20newsgroups", m, 16) for m in ("softmax", "vc")} <= shipped
    for entry in entries:  # 20 Newsgroups' test split is a later-dated one: its reference reaches 0.84
        assert entry.accuracy > (0.8 if entry.dataset == "20newsgroups" else 0.9)
        assert entry.method in entry.label and entry.path.stem in entry.label


def test_user_checkpoints_come_after_the_shipped_ones_and_bad_files_are_reported(tmp_path):
    (tmp_path / "trained").mkdir()
    (tmp_path / "shared").mkdir()
    shutil.copy(SHIPPED_DIR / "digits-mlp-d2-vc.pt", tmp_path / "trained" / "mine.pt")
    (tmp_path / "shared" / "junk.pt").write_text("not a checkpoint")
    entries, problems = list_checkpoints(user=tmp_path)
    assert [e.source for e in entries][-1] == "trained" and entries[-1].path.name == "mine.pt"
    assert len(problems) == 1 and "junk.pt" in problems[0] and "\n" not in problems[0]


def test_user_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(tmp_path))
    assert user_dir() == tmp_path
    monkeypatch.delenv("EXPLORER_RUNS_DIR")
    assert user_dir() != SHIPPED_DIR and SHIPPED_DIR not in user_dir().parents


def test_the_shared_folder_is_listed_for_everyone_and_follows_the_environment(tmp_path, monkeypatch):
    from explorer.core.checkpoints import shared_dir

    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(tmp_path / "runs"))
    assert shared_dir() == tmp_path / "runs" / "shared"
    monkeypatch.setenv("EXPLORER_SHARED_DIR", str(tmp_path / "class"))
    assert shared_dir() == tmp_path / "class"
    (tmp_path / "class").mkdir()
    shutil.copy(SHIPPED_DIR / "digits-mlp-d2-vc.pt", tmp_path / "class" / "teachers.pt")
    (entry,) = [e for e in list_checkpoints()[0] if e.source == "shared"]
    assert entry.path.name == "teachers.pt" and "[shared: teachers]" in entry.label


def test_an_uploads_folder_is_named_by_a_random_token_only():
    import secrets

    import pytest

    from explorer.core.checkpoints import uploads_dir
    from explorer.core.errors import ArgumentError

    token = secrets.token_urlsafe(24)
    assert uploads_dir(token) == user_dir() / "uploaded" / token
    for bad in ("..", "../../etc", "short", "a/b" * 10, ""):
        with pytest.raises(ArgumentError):
            uploads_dir(bad)


def test_a_label_names_how_vc_used_its_prior_term(tmp_path):
    from explorer.core.checkpoints import load_checkpoint, save_checkpoint

    entries, _ = list_checkpoints(user=tmp_path)
    labels = {e.path.name: e.label for e in entries}
    assert labels["digits-mlp-d2-vc.pt"].startswith("vc (paper, moment_corr) · mlp d=2")
    assert labels["digits-mlp-d2-vc-released.pt"].startswith("vc (released, linear) · mlp d=2")
    assert labels["digits-mlp-d2-lgm.pt"].startswith("lgm · ")  # its term is always on the encoder
    assert labels["digits-mlp-d2-softmax.pt"].startswith("softmax · ")
    model, meta = load_checkpoint(SHIPPED_DIR / "digits-mlp-d2-vc.pt")
    meta["train_config"] = {**meta["train_config"], "objective": "paper", "kl_estimator": "quadratic"}
    save_checkpoint(tmp_path / "trained" / "paper.pt", model, meta)
    (mine,) = [e for e in list_checkpoints(user=tmp_path)[0] if e.source == "trained"]
    assert mine.label.startswith("vc (paper, quadratic) · ")

    from explorer.core.config import ModelConfig, config_from_dict
    from explorer.core.models import build_model

    t_config = dataclasses.replace(config_from_dict(ModelConfig, meta["config"]), prior="student_t", nu=4)
    meta = {k: v for k, v in meta.items() if k not in ("config", "method", "encoder", "latent_dim")}
    save_checkpoint(tmp_path / "trained" / "paper.pt", build_model(t_config, seed=0), meta)
    (mine,) = [e for e in list_checkpoints(user=tmp_path)[0] if e.source == "trained"]
    assert mine.label.startswith("vc (paper, quadratic, Student-t ν=4) · ")


def test_uploaded_bundles_are_listed_as_method_bundle_under_their_dataset(tmp_path):
    import numpy as np

    from explorer.core.bundles import save_bundle
    from explorer.core.data import OWN_DATA

    uploads = tmp_path / "uploaded" / "a-session-of-its-own"
    uploads.mkdir(parents=True)
    labels = np.arange(8) % 4
    save_bundle(uploads / "mine.npz", logits=np.eye(4)[labels], labels=labels, latents=np.zeros((8, 3)))
    (uploads / "junk.npz").write_bytes(b"PK not a zip")
    assert list_checkpoints(user=tmp_path) == list_checkpoints(user=tmp_path, uploads=None)
    assert not any(e.source == "uploaded" for e in list_checkpoints(user=tmp_path)[0])  # another session's
    entries, problems = list_checkpoints(user=tmp_path, uploads=uploads)
    mine = next(e for e in entries if e.path.name == "mine.npz")
    assert (mine.method, mine.dataset, mine.latent_dim, mine.accuracy) == ("bundle", OWN_DATA, 3, 1.0)
    assert len(problems) == 1 and problems[0].startswith("junk.npz")


def test_the_default_entry_prefers_d2_and_the_datasets_usual_variant(tmp_path):
    from explorer.core.checkpoints import default_entry

    entries = [e for e in list_checkpoints(user=tmp_path)[0] if e.dataset == "digits"]
    assert default_entry(entries, "vc").path.stem == "digits-mlp-d2-vc"  # not the released variant beside it
    assert default_entry(entries, "softmax", latent_dim=16).path.stem == "digits-mlp-d16-softmax"
    assert default_entry(entries, "vc", latent_dim=3) is None and default_entry([], "softmax") is None


def test_a_file_is_read_once_per_change_and_a_vanished_one_is_dropped(tmp_path, monkeypatch):
    """Listing again costs a stat a file: a file is read again only when its size or modification time
    changes, a refused one is not retried unchanged, and one deleted since it was listed is left out."""
    import os

    from explorer.core import checkpoints

    (tmp_path / "trained").mkdir()
    mine, junk = tmp_path / "trained" / "mine.pt", tmp_path / "trained" / "junk.pt"
    shutil.copy(SHIPPED_DIR / "digits-mlp-d2-vc.pt", mine)
    junk.write_text("not a checkpoint")
    read = []
    describe = checkpoints.describe
    monkeypatch.setattr(checkpoints, "describe", lambda path, source: read.append(path.name) or describe(path, source))
    first = list_checkpoints(shipped=tmp_path / "none", user=tmp_path)
    assert sorted(read) == ["junk.pt", "mine.pt"] and len(first[0]) == 1 and len(first[1]) == 1
    assert list_checkpoints(shipped=tmp_path / "none", user=tmp_path) == first and len(read) == 2
    stat = mine.stat()
    os.utime(mine, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # retrained: a new modification time
    list_checkpoints(shipped=tmp_path / "none", user=tmp_path)
    assert read[2:] == ["mine.pt"]
    mine.unlink()
    entries, problems = list_checkpoints(shipped=tmp_path / "none", user=tmp_path)
    assert entries == [] and len(problems) == 1 and "junk.pt" in problems[0]


def test_sessions_listing_at_once_read_each_file_once(tmp_path, monkeypatch):
    import collections
    import threading
    import time

    from explorer.core import checkpoints

    (tmp_path / "shipped").mkdir()
    (tmp_path / "shared").mkdir()
    for name in ("a", "b", "c"):
        shutil.copy(SHIPPED_DIR / "digits-mlp-d2-vc.pt", tmp_path / "shared" / f"{name}.pt")
    reads = collections.Counter()
    describe = checkpoints.describe

    def slow_describe(path, source):
        reads[path.name] += 1
        time.sleep(0.05)  # long enough for every thread to arrive while the first one reads
        return describe(path, source)

    monkeypatch.setattr(checkpoints, "describe", slow_describe)
    listed = []
    threads = [threading.Thread(target=lambda: listed.append(list_checkpoints(tmp_path / "shipped", user=tmp_path)))
               for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert reads == {"a.pt": 1, "b.pt": 1, "c.pt": 1}
    assert all(len(entries) == 3 and not problems for entries, problems in listed)
