"""Reading a figure the app sent: its JSON parsed, never searched as a raw string (plotly escapes
non-ASCII text as ``\\u03c3`` unless orjson is installed)."""

from __future__ import annotations

import json
from collections.abc import Iterator


def figure_json(app, index: int = 0) -> dict:
    """The ``index``-th plotly figure of an AppTest run, parsed."""
    return json.loads(app.get("plotly_chart")[index].proto.spec)


def _walk(value) -> Iterator[tuple[str | None, object]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield key, item
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


def texts(figure: dict) -> str:
    """Every string in the figure (titles, notes, hover text, names), joined by newlines."""
    return "\n".join(item for _, item in _walk(figure) if isinstance(item, str))


def keys(figure: dict) -> set[str]:
    """Every key that occurs anywhere in the figure."""
    return {key for key, _ in _walk(figure)}


def array(value) -> list:
    """A data array of a figure as a list (nested for a 2-D one): plotly sends numpy arrays as
    ``{"dtype", "bdata"}`` (base64), with ``"shape": "rows, columns"`` for a 2-D array."""
    if isinstance(value, dict) and "bdata" in value:
        import base64

        import numpy as np

        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        shape = [int(n) for n in str(value.get("shape", len(flat))).split(",")]
        return flat.reshape(shape).tolist()
    return list(value)
