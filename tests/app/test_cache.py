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
