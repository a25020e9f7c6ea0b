"""Figures as files a person keeps: standalone HTML pages, and a zip of them with the tables beside."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Mapping

import plotly.graph_objects as go

from explorer.core.errors import ArgumentError

_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*")


def standalone_html(figure: go.Figure, title: str = "") -> str:
    """One figure as a whole HTML page that works offline: plotly.js is embedded (about 4.6 MB before
    compression), nothing is fetched from the network, and the figure keeps its hover and zoom."""
    html = figure.to_html(include_plotlyjs=True, include_mathjax=False, full_html=True,
                          config={"displaylogo": False})
    if title:  # plotly writes an empty <head>: a title names the browser tab
        html = html.replace("<head>", f"<head><title>{_escape(title)}</title>", 1)
    return html


def archive(figures: Mapping[str, go.Figure], files: Mapping[str, str | bytes]) -> bytes:
    """A zip (deflated) of ``figures`` as ``figures/<name>.html`` (:func:`standalone_html`, titled by
    their layout title) and of ``files`` under their names (text is written as UTF-8).

    Names are relative paths of letters, digits, ``.``, ``_`` and ``-``; a bad or repeated name raises
    ArgumentError, so that no file in the archive silently replaces another.
    """
    entries: dict[str, str | bytes] = {}
    for name, figure in figures.items():
        entries[f"figures/{name}.html"] = standalone_html(figure, figure.layout.title.text or name)
    for name, content in files.items():
        if name in entries:
            raise ArgumentError(f"two files named {name!r} in one archive")
        entries[name] = content
    bad = [name for name in entries if not _SAFE_NAME.fullmatch(name)]
    if bad:
        raise ArgumentError(f"file names must be relative paths of letters, digits, '.', '_' and '-', got {bad}")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
        for name, content in entries.items():
            zipped.writestr(name, content.encode() if isinstance(content, str) else content)
    return buffer.getvalue()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
