"""Figures as PNG files through plotly's static export (explorer/figures/static.py)."""

import struct

import plotly.graph_objects as go
import pytest

from explorer.core.errors import BrowserUnavailableError, ExplorerError
from explorer.figures.static import browser, write_pngs


def figure(width=300, height=200):
    fig = go.Figure(go.Scatter(x=[0, 1], y=[1, 0]))
    return fig.update_layout(width=width, height=height)


def png_size(path):
    """(width, height) in pixels, from the PNG's IHDR chunk."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_without_a_browser_nothing_is_written_and_the_message_says_what_to_install(tmp_path, monkeypatch):
    from choreographer.browsers import Chromium

    monkeypatch.setattr(Chromium, "find_browser", classmethod(lambda cls, **kwargs: None))
    monkeypatch.delenv("BROWSER_PATH", raising=False)
    (tmp_path / "old.png").write_bytes(b"an older figure")
    with pytest.raises(BrowserUnavailableError) as error:
        write_pngs({tmp_path / "old.png": figure(), tmp_path / "new" / "a.png": figure()})
    assert isinstance(error.value, ExplorerError) and "\n" not in str(error.value)
    assert "apt-get install chromium" in str(error.value) and "kaleido.get_chrome_sync()" in str(error.value)
    assert (tmp_path / "old.png").read_bytes() == b"an older figure" and not (tmp_path / "new").exists()


def test_a_figure_without_a_size_and_an_empty_set_write_nothing(tmp_path):
    assert write_pngs({}) == []
    with pytest.raises(ValueError, match="layout width and height"):
        write_pngs({tmp_path / "a.png": go.Figure()})
    assert not (tmp_path / "a.png").exists()


@pytest.mark.skipif(browser() is None, reason="no Chrome or Chromium for plotly's export (apt-get install chromium)")
def test_each_png_is_the_size_its_figure_asks_for_times_the_scale(tmp_path):
    paths = write_pngs({tmp_path / "a.png": figure(300, 200), tmp_path / "sub" / "b.png": figure(420, 150)}, scale=2)
    assert paths == [tmp_path / "a.png", tmp_path / "sub" / "b.png"]
    assert png_size(paths[0]) == (600, 400) and png_size(paths[1]) == (840, 300)
