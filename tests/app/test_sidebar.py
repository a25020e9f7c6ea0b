"""The sidebar (explorer/app/sidebar.py): unreadable checkpoints listed with their reason, uploads validated."""

import pytest
import streamlit as st

from explorer.core.checkpoints import SHIPPED_DIR

pytestmark = pytest.mark.usefixtures("fresh_app")


def test_an_unreadable_user_checkpoint_is_skipped_with_its_reason(open_page, tmp_path):
    app = open_page()
    bad = tmp_path / "runs" / "shared"
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
    (folder,) = (tmp_path / "runs" / "uploaded").iterdir()  # this session's own folder
    assert sorted(p.name for p in folder.iterdir()) == ["mine.pt"]  # no refused file, no temporary file


def _upload_and_list(name: str, content: bytes) -> None:
    """One session: upload ``content`` as ``name`` at its first run, then write what its sidebar lists, as JSON."""
    import json
    from types import SimpleNamespace

    import streamlit as st

    from explorer.app import cache, sidebar

    if "done" not in st.session_state:
        st.session_state["done"] = sidebar._save_upload(SimpleNamespace(name=name, getvalue=lambda: content))
    cache.checkpoints.clear()
    entries, _ = cache.checkpoints(sidebar.session_uploads())
    listed = [(str(e.path), e.path.read_bytes() == content) for e in entries if e.source == "uploaded"]
    st.text(json.dumps(listed))


def test_two_sessions_uploading_one_name_each_see_their_own(tmp_path):
    import json

    from streamlit.testing.v1 import AppTest

    first, second = (SHIPPED_DIR / "digits-mlp-d2-vc.pt").read_bytes(), (SHIPPED_DIR / "digits-mlp-d2-softmax.pt").read_bytes()
    apps = [AppTest.from_function(_upload_and_list, args=("model.pt", content), default_timeout=60).run()
            for content in (first, second)]
    seen = [json.loads(app.run().text[0].value) for app in apps]  # again, now that both have uploaded
    assert not any(app.exception or app.error for app in apps)
    (a,), (b,) = seen
    assert a[1] and b[1] and a[0] != b[0]  # each lists one model.pt: its own bytes, in its own folder
    assert sorted(p.name for p in (tmp_path / "runs" / "uploaded").rglob("*.pt")) == ["model.pt", "model.pt"]


def test_an_upload_the_server_cannot_write_is_refused_in_one_line(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from explorer.app import sidebar

    errors = []
    monkeypatch.setattr(sidebar.st.sidebar, "error", errors.append)
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "uploaded").write_text("a file where the folder should be")
    good = (SHIPPED_DIR / "digits-mlp-d2-vc.pt").read_bytes()
    assert sidebar._save_upload(SimpleNamespace(name="mine.pt", getvalue=lambda: good)) is None
    assert len(errors) == 1 and errors[0].startswith("Upload not saved: the server could not write")


def test_a_model_deleted_after_it_was_chosen_is_no_traceback(open_page, tmp_path):
    import shutil

    shared = tmp_path / "runs" / "shared"
    shared.mkdir(parents=True)
    shutil.copy(SHIPPED_DIR / "digits-mlp-d2-vc.pt", shared / "teachers.pt")
    app = open_page("latent_space", state={"model_b": str(shared / "teachers.pt")})
    assert app.session_state["model_b"] == str(shared / "teachers.pt")
    (shared / "teachers.pt").unlink()  # the catalogue, listed less than 30 s ago, still names it
    app.run()
    assert not app.exception and not app.error
    assert app.session_state["model_b"] != str(shared / "teachers.pt")  # back to a listed model


def test_a_file_gone_between_listing_and_reading_is_an_explorer_error(tmp_path):
    import pytest

    from explorer.app import cache
    from explorer.core.errors import ExplorerError

    with pytest.raises(ExplorerError, match="gone: deleted or moved since it was listed"):
        cache.model(tmp_path / "gone.pt")
