"""The sidebar shared by every page: dataset, models A and B, seed, and the upload of checkpoints and bundles."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from explorer.app import cache, state
from explorer.core._io import atomic_write
from explorer.core.bundles import OWN_DATA, load_bundle
from explorer.core.checkpoints import Entry, load_checkpoint, user_dir
from explorer.core.config import default_configs, variant
from explorer.core.data import DATASETS
from explorer.core.errors import BundleError, CheckpointError, DatasetUnavailableError


def _default(entries: list[Entry], method: str) -> int:
    """Index of the first entry with this method and d = 2 (the clearest picture), else with this method;
    among those, one trained its dataset's default way first (vc: not the released step kept beside it)."""
    usual = {d: variant(*default_configs(d, method)) for d in {e.dataset for e in entries if e.method == method}}
    ranked = [(e.latent_dim != 2, e.variant != usual[e.dataset], i)
              for i, e in enumerate(entries) if e.method == method]
    return min(ranked)[2] if ranked else 0


def _check_bundle(path: Path) -> None:
    """Refuse a bundle file that is unreadable, or that says it holds a dataset's test split and does not."""
    try:
        found = load_bundle(path)
    except BundleError as error:  # the message names the temporary file the upload is checked in
        raise BundleError(str(error).replace(f"{path.name} ", "the file ")) from None
    cache.check_rows(found)


def _save_upload(upload) -> Path | None:
    """Validate an uploaded file as a checkpoint (``.pt``) or a predictions bundle (``.npz``), then keep
    it in the user's folder, a bundle as model A; returns where, or None for a refused file (nothing is
    left behind)."""
    bundle = Path(upload.name).suffix.lower() == ".npz"
    path = user_dir() / "uploaded" / Path(upload.name).with_suffix(".npz" if bundle else ".pt").name
    try:
        # a user's file stays theirs (0o600); the check reads the temporary file before it is kept
        with atomic_write(path, check=_check_bundle if bundle else load_checkpoint, mode=0o600) as f:
            f.write(upload.getvalue())
    except (CheckpointError, BundleError, DatasetUnavailableError) as error:
        st.sidebar.error(f"Upload refused: {str(error).split(': ', 1)[-1]}")
        return None
    if bundle:  # model A from now on (drawn so by render)
        st.session_state[state.UPLOAD_CHOSEN] = str(path)
    cache.checkpoints.clear()
    st.sidebar.success(f"Added {upload.name}" + (" as model A" if bundle else ""))
    return path


def _upload(sidebar) -> None:
    """The upload widget; an accepted bundle becomes model A (before the model choices are drawn)."""
    limit = st.get_option("server.maxUploadSize")
    upload = sidebar.file_uploader(f"Upload a checkpoint (.pt) or a predictions bundle (.npz), up to {limit} MB",
                                   type=["pt", "npz"],
                                   help="A bundle holds a classifier's outputs (logits, labels, and optionally "
                                        "latents, its last layer, images, validation and OOD outputs): see the "
                                        "README's \"Inspect your own classifier\".")
    done = st.session_state.setdefault(state.UPLOADS_SEEN, set())
    if upload is not None and upload.file_id not in done:  # each rerun hands the same upload back
        done.add(upload.file_id)
        _save_upload(upload)


def render() -> state.Selection:
    sidebar = st.sidebar
    choices_box = sidebar.container()  # filled last: an upload may choose model A
    sidebar.number_input("Seed", min_value=0, max_value=2**31 - 1, step=1, key=state.SEED,
                         help="Seeds every random choice on the pages (samples, projections, attacks).")
    _upload(sidebar)
    entries, problems = cache.checkpoints()
    chosen = next((e for e in entries if str(e.path) == st.session_state.get(state.UPLOAD_CHOSEN)), None)
    if chosen is not None:
        st.session_state[state.DATASET], st.session_state[state.MODEL_A] = chosen.dataset, str(chosen.path)
    datasets = [name for name in (*DATASETS, OWN_DATA) if any(e.dataset == name for e in entries)]
    if not datasets:
        choices_box.warning("No checkpoint found: train one on the Train page or upload one below.")
    else:
        if state.DATASET not in st.session_state and st.query_params.get("dataset") in datasets:
            st.session_state[state.DATASET] = st.query_params["dataset"]  # a link such as /?dataset=mnist
        dataset = choices_box.selectbox("Dataset", datasets, key=state.DATASET,
                                        help=f"{OWN_DATA}: uploaded bundles of other data than the project's.")
        choices = [e for e in entries if e.dataset == dataset]
        labels = {str(e.path): e.label for e in choices}
        paths = list(labels)
        for key, method, title in ((state.MODEL_A, "softmax", "Model A"), (state.MODEL_B, "vc", "Model B")):
            if st.session_state.get(key) not in paths:
                st.session_state[key] = paths[_default(choices, method)]
            choices_box.selectbox(title, paths, format_func=labels.get, key=key)
    for problem in problems:
        sidebar.caption(f"Skipped {problem}")
    st.session_state.pop(state.UPLOAD_CHOSEN, None)  # drawn: the selectbox holds it from now on
    return state.selection()
