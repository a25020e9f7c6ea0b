"""Means ± standard deviations over seeds against swept settings, one panel per setting.

The results report's figures (:func:`explorer.jobs.report.figures`): per method, accuracy or ECE
against corruption severity, robust accuracy against ε, accuracy against the training fraction, the
test NLL after each epoch, each point the mean over seeds with its standard deviation as an error bar.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from explorer.core.errors import ArgumentError
from explorer.figures import _style as base

PANEL_WIDTH, PANEL_HEIGHT = 500, 400
"""Size of one panel in layout pixels (what a PNG export at scale 1 gives)."""
MAX_COLUMNS = 3
"""Panels per row: past three, a figure wraps onto a second row, so that it stays legible when a page
shrinks it to its text's width."""
LINE_COLOURS = tuple(base.PALETTE[k] for k in (0, 2, 1, 6, 5, 7, 8, 9, 3, 4))
"""Method colours in the order methods appear: the palette with its two palest colours (sand, cyan)
last, since a line and its error bars in them are hard to see on white, and neighbours of unlike hue
(indigo, green, rose, teal, wine) first."""


@dataclass(frozen=True)
class SweepPanel:
    """One panel of :func:`sweep_panels`: every method's mean and standard deviation at S settings.

    Attributes:
        title: the panel's title.
        x_title, y_title: axis titles, with units where they have them.
        x: (S,) the swept settings (> 0 when ``log_x``).
        means: method → (S,) means over seeds; NaN or None where the method was not measured (a gap).
        stds: method → (S,) standard deviations over seeds (≥ 0; 0 draws no bar), the same methods as
            ``means``.
        log_x: a logarithmic x axis.
    """

    title: str
    x_title: str
    y_title: str
    x: Sequence[float]
    means: Mapping[str, Sequence[float | None]]
    stds: Mapping[str, Sequence[float | None]]
    log_x: bool = False


def sweep_panels(panels: Sequence[SweepPanel], title: str) -> go.Figure:
    """Small multiples of :class:`SweepPanel`, one subplot each, at most :data:`MAX_COLUMNS` to a row.

    Each method keeps one colour (:data:`LINE_COLOURS` in the order the methods first appear) and one legend
    entry across the panels; its points are joined by lines and carry ±1 std error bars. The figure's
    layout width and height are set (:data:`PANEL_WIDTH` × :data:`PANEL_HEIGHT` per panel), so a static
    export needs no size of its own.
    """
    if not panels:
        raise ArgumentError("panels is empty: need at least one panel to draw")
    rows = math.ceil(len(panels) / MAX_COLUMNS)
    columns = math.ceil(len(panels) / rows)  # balanced rows: four panels are two by two, not three and one
    height = 120 + PANEL_HEIGHT * rows  # the title above, the axis titles below
    fig = make_subplots(rows=rows, cols=columns, subplot_titles=[panel.title for panel in panels],
                        horizontal_spacing=0.25 / columns, vertical_spacing=110 / height)  # 110 px
    colours: dict[str, str] = {}
    traces, cells, axes = [], [], {}
    for i, panel in enumerate(panels):
        x = base.array(panel.x, f"panels[{i}].x", (None,))
        if panel.log_x and x.min() <= 0:
            raise ArgumentError(f"panels[{i}].x must be > 0 on a log axis, got {x.min():.4g}")
        if set(panel.means) != set(panel.stds):
            raise ArgumentError(f"panels[{i}] has means of {sorted(panel.means)} but stds of {sorted(panel.stds)}")
        for method in base.nonempty(panel.means, f"panels[{i}].means"):
            mean = _values(panel.means[method], len(x), f"panels[{i}].means[{method!r}]")
            std = _values(panel.stds[method], len(x), f"panels[{i}].stds[{method!r}]")
            negative = [s for s in std if s is not None and s < 0]
            if negative:
                raise ArgumentError(f"panels[{i}].stds[{method!r}] must be ≥ 0, got {min(negative):.4g}")
            first = method not in colours
            colour = colours.setdefault(method, LINE_COLOURS[len(colours) % len(LINE_COLOURS)])
            traces.append(go.Scatter(
                x=x, y=mean, name=method, legendgroup=method, showlegend=first, mode="lines+markers",
                line=dict(color=colour, width=base.LINE_WIDTH), marker=dict(size=8, color=colour),
                error_y=dict(type="data", array=[s or 0.0 for s in std], visible=True, thickness=2, width=4,
                             color=colour)))
            cells.append(divmod(i, columns))
        # make_subplots names the axes of panel i xaxis{i + 1} (the first plain "xaxis"), row by row.
        # On a log axis plotly labels every minor tick (2, 3, ... 9): label the swept values instead.
        ticks = dict(type="log", tickvals=sorted(set(x.tolist()))) if panel.log_x else dict(type="linear")
        axes[f"xaxis{i + 1 if i else ''}"] = dict(title_text=panel.x_title, **ticks)
        axes[f"yaxis{i + 1 if i else ''}"] = dict(title_text=panel.y_title)
    # One call each for the traces and the axes: plotly validates the whole figure on every update.
    fig.add_traces(traces, rows=[row + 1 for row, _ in cells], cols=[col + 1 for _, col in cells])
    fig.update_layout(axes)
    base.style(fig, title, height=height)
    fig.update_layout(width=PANEL_WIDTH * columns + 160)  # the legend beside the panels
    fig.update_xaxes(showgrid=True, gridcolor="#e5e5e5")
    fig.update_yaxes(showgrid=True, gridcolor="#e5e5e5")
    return fig


def _values(values: Sequence[float | None], n: int, name: str) -> list[float | None]:
    """``values`` as n floats, None where missing or not finite (a gap); ArgumentError on a wrong length
    or a value that is not a number."""
    values = list(values)
    if len(values) != n:
        raise ArgumentError(f"{name} has {len(values)} values but x has {n}")
    return [base.number(v, f"{name}[{j}]") for j, v in enumerate(values)]
