"""The sidebar (explorer/app/sidebar.py): unreadable checkpoints listed with their reason, uploads validated."""

import pytest
import streamlit as st

from explorer.core.checkpoints import SHIPPED_DIR

pytestmark = pytest.mark.usefixtures("fresh_app")


def test_an_unreadable_user_checkpoint_is_skipped_with_its_reason(open_page, tmp_path):
    app = open_page()
    bad = tmp_path / "runs" / "uploaded"
    bad.mkdir(parents=True)
    (bad / "broken.pt").write_bytes(b"not a checkpoint")
    st.cache_data.clear()
    app.run()
    assert not app.exception
    assert any("broken.pt" in c.value for c in app.sidebar.caption)


def test_upload_keeps_a_valid_checkpoint_and_refuses_anything_else(tmp_path):
    from types import SimpleNamespace

    from explorer.app.sidebar import _save_upload

    good = (SHIPPED_DIR / "digits-mlp-d2-vc.pt").read_bytes()
    _save_upload(SimpleNamespace(name="mine.pt", getvalue=lambda: good))
    _save_upload(SimpleNamespace(name="junk.pt", getvalue=lambda: b"not a checkpoint"))
    _save_upload(SimpleNamespace(name="cut.pt", getvalue=lambda: good[: len(good) // 2]))
    folder = tmp_path / "runs" / "uploaded"
    assert sorted(p.name for p in folder.iterdir()) == ["mine.pt"]  # no refused file, no temporary file
