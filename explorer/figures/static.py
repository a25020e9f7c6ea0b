"""Figures as PNG files, through plotly's static export.

plotly's export (kaleido) draws a figure in a headless Chrome or Chromium, which it finds on the
machine (``BROWSER_PATH``, the ``PATH``, the usual install places, or its own download). Without one
:func:`write_pngs` raises :class:`BrowserUnavailableError` before it writes any file, so PNGs written
earlier stay as they were.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import plotly.graph_objects as go
import plotly.io as pio
from choreographer.browsers import Chromium  # kaleido's own search for a browser: both find the same one

from explorer.core.errors import ArgumentError, BrowserUnavailableError


def browser() -> str | None:
    """The Chrome or Chromium plotly's export would drive, or None where there is none."""
    path = Chromium.find_browser(skip_local=False)
    return path if path and Path(path).is_file() else None


def require_browser() -> None:
    """Raise :class:`BrowserUnavailableError` where :func:`write_pngs` would find no browser: a caller
    that writes figures after a long run asks first."""
    if browser() is None:
        where = f" (BROWSER_PATH={os.environ['BROWSER_PATH']} is not a file)" if "BROWSER_PATH" in os.environ else ""
        raise BrowserUnavailableError(
            f"writing PNG figures needs Chrome or Chromium and none was found{where}: install it (Debian: "
            "apt-get install chromium) or download one with python -c 'import kaleido; kaleido.get_chrome_sync()'")


def write_pngs(figures: Mapping[str | Path, go.Figure], scale: float = 1.0) -> list[Path]:
    """Write each figure to its path as a PNG of (layout width × scale) × (layout height × scale)
    pixels, all in one browser session; return the paths. Missing folders are made.

    Every figure must set its layout width and height (an ArgumentError names one that does not); a
    machine without Chrome or Chromium raises :class:`BrowserUnavailableError`, and nothing is written.
    """
    paths = [Path(path) for path in figures]
    if not paths:
        return []
    if scale <= 0:
        raise ArgumentError(f"scale must be > 0, got {scale}")
    unsized = [str(path) for path, figure in zip(paths, figures.values())
               if not (figure.layout.width and figure.layout.height)]
    if unsized:
        raise ArgumentError(f"figures must set their layout width and height to be written as PNGs: {unsized}")
    require_browser()
    for folder in dict.fromkeys(path.parent for path in paths):
        folder.mkdir(parents=True, exist_ok=True)
    pio.write_images(list(figures.values()), paths, format="png", scale=scale,
                     width=[figure.layout.width for figure in figures.values()],
                     height=[figure.layout.height for figure in figures.values()])
    return paths
