"""Home's figure: model A's latent map, and the copy of it that ships for a first visit.

A fresh server's first page would otherwise wait seconds for torch, the checkpoint and its test
latents. The default selection's map (model A of the default dataset, seed 0) ships as plotly JSON
in ``checkpoints/figures/home.json`` with the digest of the checkpoint it was drawn from, as the UMAP
maps ship; Home draws it before anything heavy is imported, and draws the map live for any other
selection. A test checks that the shipped copy equals the live figure; ``python -m
explorer.app._home_figure`` writes it again. Importing this module imports neither torch nor plotly.

The shipped figure is read once per change of its file or of the checkpoint (by modification time),
and sent prepared (:mod:`explorer.figures.prepared`), so that a warm visit of Home neither reads nor
validates it again.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from explorer.core._io import SHIPPED_DIR, atomic_write, file_digest

SHIPPED_FIGURE = SHIPPED_DIR / "figures" / "home.json"
SHIPPED_SELECTION = ("digits", "digits-mlp-d2-softmax.pt", 0)
"""(dataset, model A's file, seed) of the shipped figure: what a first visit without a link selects."""
# Home's figure while the first run loads torch and the models: a plotly figure as a dict (no plotly
# import), one empty trace (plotly refuses a figure without data), no legend (browsers wait for one).
LOADING = {"data": [{"type": "scatter", "x": [], "y": [], "hoverinfo": "skip", "showlegend": False}], "layout": {
    "height": 700, "xaxis": {"visible": False}, "yaxis": {"visible": False},
    "annotations": [{"text": "Loading model A's latents…", "showarrow": False, "xref": "paper", "yref": "paper",
                     "x": 0.5, "y": 0.5, "font": {"size": 18}}]}}


def live_figure(model_a: Path, seed: int):
    """Model A's latent map as the Latent space page draws it by default (a plotly Figure)."""
    from explorer.app.views.latent_space import latent_figure
    from explorer.core.config import ProjectionConfig

    figure, _ = latent_figure(Path(model_a), "class", ProjectionConfig(), seed=seed, title_prefix="Model A")
    return figure


def shows_shipped(model_a: str | Path | None, seed: int, dataset: str | None = None) -> bool:
    """Whether the shipped figure is of this selection: ``model_a`` (None: not chosen yet, the default
    of ``dataset``, or of the first dataset when that is None too) at ``seed``. Reads no file."""
    shipped_dataset, name, shipped_seed = SHIPPED_SELECTION
    chosen = dataset in (None, shipped_dataset) if model_a is None else Path(model_a) == SHIPPED_DIR / name
    return chosen and seed == shipped_seed


def shipped_figure(model_a: str | Path | None, seed: int, dataset: str | None = None) -> dict | None:
    """The shipped figure (a plotly figure as a dict, read-only) if it shows this selection
    (:func:`shows_shipped`); None when it does not, or when the checkpoint is not the file it was drawn from."""
    if not shows_shipped(model_a, seed, dataset):
        return None
    return _shipped(*_versions())


def shipped_chart(model_a: str | Path | None, seed: int, dataset: str | None = None):
    """:func:`shipped_figure` prepared to be sent (:func:`explorer.figures.prepared.prepare`), or
    :data:`LOADING` prepared when there is none. Imports plotly: call it once plotly is loaded."""
    if not shows_shipped(model_a, seed, dataset):
        return _prepared(None)
    return _prepared(_versions())


def _versions() -> tuple[float | None, float | None]:
    """Modification times of the shipped figure and of its checkpoint (None: no such file)."""
    def mtime(path: Path) -> float | None:
        try:
            return path.stat().st_mtime
        except OSError:
            return None

    return mtime(SHIPPED_FIGURE), mtime(SHIPPED_DIR / SHIPPED_SELECTION[1])


@functools.lru_cache(maxsize=2)
def _shipped(*versions: float | None) -> dict | None:
    """The shipped figure, read again when ``versions`` (:func:`_versions`) change."""
    path = SHIPPED_DIR / SHIPPED_SELECTION[1]
    try:
        record = json.loads(SHIPPED_FIGURE.read_text())
        same = record["digest"] == file_digest(path)
    except (OSError, ValueError, KeyError, TypeError):  # missing or unreadable: Home draws the map live
        return None
    return record["figure"] if same else None


@functools.lru_cache(maxsize=3)
def _prepared(versions: tuple[float | None, float | None] | None):
    """The shipped figure of ``versions`` prepared, or :data:`LOADING` (``versions`` None, or no figure)."""
    from explorer.figures.prepared import prepare

    return prepare((versions and _shipped(*versions)) or LOADING)


def write_shipped_figure() -> Path:
    """Draw the default selection's map live and ship it (:data:`SHIPPED_FIGURE`)."""
    _, name, seed = SHIPPED_SELECTION
    path = SHIPPED_DIR / name
    record = {"model": name, "seed": seed, "digest": file_digest(path),
              "figure": json.loads(live_figure(path, seed).to_json())}
    with atomic_write(SHIPPED_FIGURE) as f:
        f.write(json.dumps(record, separators=(",", ":")).encode())
    return SHIPPED_FIGURE
