"""The sidebar shared by every page: dataset, models A and B, seed, and checkpoint upload."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import streamlit as st

from explorer.app import cache, state
from explorer.checkpoints import CheckpointError, load_checkpoint
from explorer.registry import Entry, user_dir


def _default(entries: list[Entry], method: str) -> int:
    """Index of the first entry with this method and d = 2 (the clearest picture), else with this method."""
    for want_d2 in (True, False):
        for i, e in enumerate(entries):
            if e.method == method and (e.latent_dim == 2 or not want_d2):
                return i
    return 0


def _save_upload(upload) -> None:
    """Validate an uploaded file as a checkpoint, then keep it in the user's folder."""
    folder = user_dir() / "uploaded"
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".part")
    with os.fdopen(fd, "wb") as f:
        f.write(upload.getvalue())
    try:
        load_checkpoint(tmp)
    except CheckpointError as error:
        Path(tmp).unlink(missing_ok=True)
        st.sidebar.error(f"Upload refused: {str(error).split(': ', 1)[-1]}")
        return
    os.replace(tmp, folder / Path(upload.name).with_suffix(".pt").name)
    cache.checkpoints.clear()
    st.sidebar.success(f"Added {upload.name}")


def render() -> state.Selection:
    entries, problems = cache.checkpoints()
    sidebar = st.sidebar
    datasets = sorted({e.dataset for e in entries}, key=["digits", "mnist", "fashion-mnist", "cifar10"].index)
    if not datasets:
        sidebar.warning("No checkpoint found: train one on the Train page or upload one below.")
    else:
        if state.DATASET not in st.session_state and st.query_params.get("dataset") in datasets:
            st.session_state[state.DATASET] = st.query_params["dataset"]  # a link such as /?dataset=mnist
        dataset = sidebar.selectbox("Dataset", datasets, key=state.DATASET)
        choices = [e for e in entries if e.dataset == dataset]
        labels = {str(e.path): e.label for e in choices}
        paths = list(labels)
        for key, method, title in ((state.MODEL_A, "softmax", "Model A"), (state.MODEL_B, "vc", "Model B")):
            if st.session_state.get(key) not in paths:
                st.session_state[key] = paths[_default(choices, method)]
            sidebar.selectbox(title, paths, format_func=labels.get, key=key)
    sidebar.number_input("Seed", min_value=0, max_value=2**31 - 1, step=1, key=state.SEED,
                         help="Seeds every random choice on the pages (samples, projections, attacks).")
    upload = sidebar.file_uploader("Upload a checkpoint (.pt)", type=["pt"])
    done = st.session_state.setdefault(state.UPLOADS_SEEN, set())
    if upload is not None and upload.file_id not in done:  # each rerun hands the same upload back
        done.add(upload.file_id)
        _save_upload(upload)
    for problem in problems:
        sidebar.caption(f"Skipped {problem}")
    return state.selection()
