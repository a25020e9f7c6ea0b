"""The one style of every figure, for a projector, and the checks the builders share.

Text of at least 16 px, 3 px lines, the white template, axis titles with units, and :data:`PALETTE`,
ten colours told apart under the common colour-vision deficiencies. :func:`style` is the one place
that sets fonts and template.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from numbers import Real

import numpy as np
import plotly.graph_objects as go

from explorer.core._validation import as_array
from explorer.core.errors import ArgumentError


#: Class colours: Paul Tol's "muted" qualitative scheme (nine colours told apart under the common
#: colour-vision deficiencies), plus black as the tenth. Class k gets
#: ``PALETTE[k % 10]``; models compared in one figure take the colours in order.
PALETTE = ("#332288", "#CC6677", "#117733", "#DDCC77", "#88CCEE",
           "#882255", "#44AA99", "#999933", "#AA4499", "#000000")
FONT_SIZE = 18
TICK_SIZE = 16
LINE_WIDTH = 3
REFERENCE = dict(color="#666666", width=LINE_WIDTH, dash="dash")  # diagonals, reference densities
COLORSCALE = "Viridis"  # continuous colouring: perceptually uniform and colour-blind safe
NOTE_WIDTH = 55  # characters per line of a figure note


def color(k: int) -> str:
    """Colour of class (or series) k."""
    return PALETTE[k % len(PALETTE)]


SYMBOLS = ("circle", "diamond", "square", "triangle-up")
"""Marker of class k on a scatter, ``SYMBOLS[k // 10]``: past ten classes the colours repeat, and the
marker tells classes k and k + 10 apart (20 Newsgroups has twenty)."""


def symbol(k: int) -> str:
    """Marker symbol of class k on a scatter (see :data:`SYMBOLS`)."""
    return SYMBOLS[(k // len(PALETTE)) % len(SYMBOLS)]


def style(fig: go.Figure, title: str, height: int = 550) -> go.Figure:
    """Apply the common layout (template, fonts, axis lines) in place and return ``fig``."""
    fig.update_layout(
        template="plotly_white", height=height, title=dict(text=title, font_size=FONT_SIZE + 4),
        font_size=FONT_SIZE, legend_font_size=TICK_SIZE, hoverlabel_font_size=TICK_SIZE,
        margin=dict(l=80, r=30, t=80, b=70),
    )
    axes = dict(title_font_size=FONT_SIZE, tickfont_size=TICK_SIZE, showline=True, linewidth=2,
                linecolor="#444444")
    fig.update_xaxes(**axes)
    fig.update_yaxes(**axes)
    fig.update_annotations(font_size=FONT_SIZE)  # subplot titles and notes
    return fig


# ---------------------------------------------------------------------------------------------------
# Validation at the boundary (class labels: explorer.core._validation.check_labels, the library's one
# label check, whose messages the figures share with every other tier)


def array(x, name: str, shape: tuple[int | None, ...]) -> np.ndarray:
    """``x`` as a finite, non-empty float array of ``shape`` (None: any length), else an error naming ``name``."""
    return as_array(x, name, shape, finite=True)


def in_unit_interval(x: np.ndarray, name: str) -> np.ndarray:
    if x.min() < 0 or x.max() > 1:
        raise ArgumentError(f"{name} must lie in [0, 1], got values in [{x.min():.4g}, {x.max():.4g}]")
    return x


def nonempty(mapping: Mapping, name: str) -> Mapping:
    if not mapping:
        raise ArgumentError(f"{name} must name at least one series, got an empty mapping")
    return mapping


def number(value, what: str) -> float | None:
    """A float for plotting, None for a missing (None or non-finite) value, ArgumentError otherwise."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ArgumentError(f"{what} must be a number, got {value!r}")
    return float(value) if math.isfinite(value) else None
