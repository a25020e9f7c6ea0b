"""Figures as files (explorer/figures/export.py): standalone HTML that works offline, and the zip."""

import io
import re
import zipfile

import plotly.graph_objects as go
import pytest

from explorer.core.errors import ArgumentError
from explorer.figures.export import archive, standalone_html


def figure(title="a figure"):
    return go.Figure(go.Scatter(x=[1, 2], y=[3, 4]), layout={"title": {"text": title}})


def test_standalone_html_embeds_plotly_and_fetches_nothing():
    html = standalone_html(figure(), "a <title>")
    assert html.lstrip().lower().startswith("<!doctype html>") and "<title>a &lt;title&gt;</title>" in html
    assert not re.search(r"<script[^>]+src=", html) and len(html) > 1_000_000  # plotly.js inside


def test_archive_holds_the_figures_and_files_under_their_names():
    zipped = zipfile.ZipFile(io.BytesIO(archive({"one": figure("first")}, {"notes.md": "# hi", "raw.bin": b"\0\1"})))
    assert sorted(zipped.namelist()) == ["figures/one.html", "notes.md", "raw.bin"]
    assert zipped.read("raw.bin") == b"\0\1" and "<title>first</title>" in zipped.read("figures/one.html").decode()
    assert all(info.compress_type == zipfile.ZIP_DEFLATED for info in zipped.infolist())


@pytest.mark.parametrize("files", [{"../escape.md": ""}, {"/abs.md": ""}, {"figures/one.html": ""}])
def test_archive_refuses_a_bad_or_repeated_name(files):
    with pytest.raises(ArgumentError):
        archive({"one": figure()}, files)
