"""Every ``st.cache_*`` wrapper of the app. Cached objects are shared by all sessions: never mutate them.

Keys include each file's modification time, so a retrained checkpoint is reloaded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st
import torch

from explorer.checkpoints import load_checkpoint
from explorer.data import ImageData, load_dataset
from explorer.diagnostics import LatentFit, latent_fit
from explorer.evaluation import predict
from explorer.models import Classifier
from explorer.registry import Entry, list_checkpoints


def _mtime(path: Path) -> float:
    return path.stat().st_mtime


@st.cache_resource(show_spinner="Loading checkpoint…")
def _model(path: str, mtime: float) -> tuple[Classifier, dict]:
    return load_checkpoint(path)


def model(path: Path) -> tuple[Classifier, dict]:
    """(model in eval mode, meta); raises CheckpointError for an unusable file."""
    return _model(str(path), _mtime(path))


@st.cache_data(ttl=30, show_spinner=False)
def checkpoints() -> tuple[list[Entry], list[str]]:
    """Listed checkpoints and the problems met while listing (re-read every 30 s)."""
    return list_checkpoints()


@st.cache_resource(show_spinner="Loading the test split…")
def test_split(dataset: str) -> ImageData:
    return load_dataset(dataset, "test")


@st.cache_resource(show_spinner="Computing latents…")
def _outputs(path: str, mtime: float, dataset: str) -> dict[str, np.ndarray]:
    net, _ = _model(path, mtime)
    data = test_split(dataset)
    logits, latents = predict(net, data.x)
    return {"probs": torch.softmax(logits.double(), dim=1).numpy(), "latents": latents.numpy(),
            "labels": data.y.numpy()}


def outputs(path: Path, dataset: str) -> dict[str, np.ndarray]:
    """Test-split class probabilities (float64), latents and labels of a checkpoint. Read-only."""
    return _outputs(str(path), _mtime(path), dataset)


@st.cache_resource(show_spinner="Checking the latents against the prior…")
def _fit(path: str, mtime: float, dataset: str) -> LatentFit:
    net, _ = _model(path, mtime)
    data = test_split(dataset)
    return latent_fit(net, data.x, data.y)


def fit(path: Path, dataset: str) -> LatentFit:
    return _fit(str(path), _mtime(path), dataset)
