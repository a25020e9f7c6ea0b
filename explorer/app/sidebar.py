"""The sidebar shared by every page: dataset, models A and B, seed, and checkpoint upload."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from explorer.app import cache, state
from explorer.core._io import atomic_write
from explorer.core.checkpoints import Entry, load_checkpoint, user_dir
from explorer.core.config import default_configs, variant
from explorer.core.data import DATASETS
from explorer.core.errors import CheckpointError


def _default(entries: list[Entry], method: str) -> int:
    """Index of the first entry with this method and d = 2 (the clearest picture), else with this method;
    among those, one trained its dataset's default way first (vc: not the released step kept beside it)."""
    usual = {d: variant(*default_configs(d, method)) for d in {e.dataset for e in entries if e.method == method}}
    ranked = [(e.latent_dim != 2, e.variant != usual[e.dataset], i)
              for i, e in enumerate(entries) if e.method == method]
    return min(ranked)[2] if ranked else 0


def _save_upload(upload) -> None:
    """Validate an uploaded file as a checkpoint, then keep it in the user's folder."""
    path = user_dir() / "uploaded" / Path(upload.name).with_suffix(".pt").name
    try:
        with atomic_write(path, check=load_checkpoint, mode=0o600) as f:  # a user's file stays theirs
            f.write(upload.getvalue())
    except CheckpointError as error:
        st.sidebar.error(f"Upload refused: {str(error).split(': ', 1)[-1]}")
        return
    cache.checkpoints.clear()
    st.sidebar.success(f"Added {upload.name}")


def render() -> state.Selection:
    entries, problems = cache.checkpoints()
    sidebar = st.sidebar
    datasets = [name for name in DATASETS if any(e.dataset == name for e in entries)]  # in DATASETS' order
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
