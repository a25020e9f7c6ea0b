"""The app's caches (explorer/app/cache.py): a function of a checkpoint file is cached per file version."""

import os
import shutil

import numpy as np
import pytest

from explorer.app import cache
from explorer.core.checkpoints import SHIPPED_DIR

pytestmark = pytest.mark.usefixtures("fresh_app")


def test_a_checkpoint_is_read_once_and_again_when_the_file_changes(tmp_path):
    path = tmp_path / "model.pt"
    shutil.copy(SHIPPED_DIR / "digits-mlp-d2-softmax.pt", path)
    first, _ = cache.model(path)
    logits = cache.outputs(path, "digits")["logits"]
    assert cache.model(str(path))[0] is first  # the same file version: the cached object
    assert cache.outputs(path, "digits")["logits"] is logits

    shutil.copy(SHIPPED_DIR / "digits-mlp-d2-vc.pt", path)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # a later modification time
    second, meta = cache.model(path)
    assert second is not first and meta["method"] == "vc"
    assert not np.array_equal(cache.outputs(path, "digits")["logits"], logits)  # outputs follow the file

    cache.model.clear()
    assert cache.model(path)[0] is not second


def test_the_results_report_is_read_once_and_again_when_the_file_changes(tmp_path, monkeypatch):
    from explorer.core._io import SHIPPED_RESULTS

    path = tmp_path / "results.json"
    shutil.copy(SHIPPED_RESULTS, path)
    monkeypatch.setattr(cache, "SHIPPED_RESULTS", path)
    first = cache.shipped_results()
    assert first is not None and cache.shipped_results() is first  # the same file version: the cached object

    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # a later modification time
    second = cache.shipped_results()
    assert second is not first and second.suites == first.suites

    path.unlink()
    assert cache.shipped_results() is None  # no report: the lesson quotes none
