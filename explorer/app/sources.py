"""Model A or B as the pages see it: a checkpoint (the model itself) or a predictions bundle (its outputs).

A page asks :func:`source` what a chosen file is. What needs only outputs (latents, the χ² check,
calibration, OOD scores) works for both; what runs the model (attacks, corruptions) is offered for
checkpoints alone, and :func:`needs_model` says so in one line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st
from torch import nn

from explorer.app import cache
from explorer.core.bundles import is_bundle_path
from explorer.core.data import OWN_DATA


@dataclass(frozen=True, eq=False)
class Source:
    """What the pages need to know about one chosen file.

    Attributes:
        dataset: the project dataset whose test split it predicts, or :data:`OWN_DATA`.
        method: the checkpoint's method, or ``"bundle"``.
        latent_dim: d, or None for a bundle without latents.
        model: the model itself, or None for a bundle.
    """

    path: Path
    dataset: str
    method: str
    latent_dim: int | None
    class_names: tuple[str, ...]
    model: nn.Module | None

    @property
    def is_bundle(self) -> bool:
        return self.model is None

    @property
    def label(self) -> str:
        """``"vc, d = 2"``; a bundle by its file name."""
        what = f"bundle {self.path.stem}" if self.is_bundle else self.method
        return what + (f", d = {self.latent_dim}" if self.latent_dim else "")

    def name(self, prefix: str) -> str:
        """``"Model A: vc, d = 2"``."""
        return f"{prefix}: {self.label}"


def source(path: str | Path) -> Source:
    """The :class:`Source` of a checkpoint or bundle file (loaded through the cache)."""
    path = Path(path)
    if not is_bundle_path(path):
        net, meta = cache.model(path)
        return Source(path, meta["dataset"], meta["method"], net.config.latent_dim, tuple(meta["class_names"]), net)
    found = cache.bundle(path)
    names = found.class_names if found.class_names is not None else [str(k) for k in range(found.num_classes)]
    d = None if found.latents is None else found.latents.shape[1]
    return Source(path, found.dataset_name or OWN_DATA, "bundle", d, tuple(str(n) for n in names), None)


def needs_model(side: str, chosen: Source, what: str) -> None:
    """One line: ``what`` runs the model, and model ``side`` is a bundle of its outputs."""
    st.info(f"{side} is a predictions bundle ({chosen.path.name}): {what} need the model itself.")
