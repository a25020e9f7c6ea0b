"""The sidebar shared by every page: dataset, models A and B, seed, softmax's implied Gaussians, and the
upload of checkpoints and bundles."""

from __future__ import annotations

import secrets
from pathlib import Path

import streamlit as st

from explorer.app import cache, state
from explorer.core._io import atomic_write
from explorer.core.bundles import is_bundle_path, load_bundle
from explorer.core.checkpoints import Entry, default_entry, load_checkpoint, uploads_dir
from explorer.core.data import DATASETS, OWN_DATA
from explorer.core.errors import BundleError, CheckpointError, DatasetUnavailableError
from explorer.core.config import COVARIANCE_NAMES, COVARIANCES


def _check_bundle(path: Path) -> None:
    """Refuse a bundle file that is unreadable, or that says it holds a dataset's test split and does not."""
    try:
        found = load_bundle(path)
    except BundleError as error:  # the message names the temporary file the upload is checked in
        raise BundleError(str(error).replace(f"{path.name} ", "the file ")) from None
    cache.check_rows(found)


def session_uploads() -> Path:
    """This session's uploads folder (:func:`uploads_dir`), named by a token drawn at its first use:
    no other session lists it, so two students uploading ``model.pt`` each see their own."""
    token = st.session_state.setdefault(state.UPLOADS_TOKEN, secrets.token_urlsafe(24))
    return uploads_dir(token)


def _save_upload(upload) -> Path | None:
    """Validate an uploaded file as a checkpoint (``.pt``) or a predictions bundle (``.npz``), then keep
    it in this session's uploads folder, a bundle as model A; returns where, or None for a refused or
    unsaved file (nothing is left behind)."""
    bundle = is_bundle_path(upload.name)
    path = session_uploads() / Path(upload.name).with_suffix(".npz" if bundle else ".pt").name
    try:
        # a user's file stays theirs (0o600); the check reads the temporary file before it is kept
        with atomic_write(path, check=_check_bundle if bundle else load_checkpoint, mode=0o600) as f:
            f.write(upload.getvalue())
    except (CheckpointError, BundleError, DatasetUnavailableError) as error:
        st.sidebar.error(f"Upload refused: {str(error).split(': ', 1)[-1]}")
        return None
    except OSError as error:  # a full disk, a folder the server may not write: the server's, not the file's
        st.sidebar.error(f"Upload not saved: the server could not write {path.parent} "
                         f"({error.strerror or type(error).__name__}). Tell whoever runs the app.")
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
                                        "README's \"Inspect your own classifier\". What you upload is listed "
                                        "for this browser tab alone, and only while it stays open; files for "
                                        "everyone go in the server's shared folder (EXPLORER_SHARED_DIR).")
    done = st.session_state.setdefault(state.UPLOADS_SEEN, set())
    if upload is not None and upload.file_id not in done:  # each rerun hands the same upload back
        done.add(upload.file_id)
        _save_upload(upload)


LINK_MODELS = {state.MODEL_A: "model_a", state.MODEL_B: "model_b"}
"""Session key → the query parameter of a link that chooses that model by its file's stem."""


def link(dataset: str, model_a: Path, model_b: Path) -> dict[str, str]:
    """Query parameters of a link that opens a page on this selection (``st.page_link(query_params=)``)."""
    return {"dataset": dataset, LINK_MODELS[state.MODEL_A]: Path(model_a).stem,
            LINK_MODELS[state.MODEL_B]: Path(model_b).stem}


def _follow_link(entries: list[Entry], datasets: list[str]) -> None:
    """Apply a link's choices: ``?dataset=mnist`` on a session's first run, and models named by
    :func:`link` whenever a link brings them (they then leave the address, so the selectboxes rule again).
    A name that matches no listed file of the dataset is ignored."""
    params = st.query_params
    dataset = params.get("dataset")
    named = {key: params.get(name) for key, name in LINK_MODELS.items() if params.get(name)}
    if dataset in datasets and (named or state.DATASET not in st.session_state):
        st.session_state[state.DATASET] = dataset
    chosen = st.session_state.get(state.DATASET, dataset)
    for key, stem in named.items():
        match = next((e for e in entries if e.dataset == chosen and e.path.stem == stem), None)
        if match is not None:
            st.session_state[key] = str(match.path)
        del st.query_params[LINK_MODELS[key]]


def render() -> state.Selection:
    sidebar = st.sidebar
    choices_box = sidebar.container()  # filled last: an upload may choose model A
    sidebar.number_input("Seed", min_value=0, max_value=2**31 - 1, step=1, key=state.SEED,
                         help="Seeds every random choice on the pages (samples, projections, attacks).")
    sidebar.selectbox(
        "Softmax's Gaussians", COVARIANCES, format_func=COVARIANCE_NAMES.get, key=state.IMPLIED,
        help="A softmax layer is Bayes' rule over Gaussians N(μ_y, Σ) with one shared Σ, for every Σ: it implies "
             "a family, not one member. The pages check softmax latents against the member fitted to the "
             "model's validation latents by maximum likelihood; Σ = I is a convention of arbitrary scale "
             "(scaling z by c and the weights by 1/c changes no prediction, but every r² by about c²).")
    _upload(sidebar)
    entries, problems = cache.checkpoints(session_uploads())
    entries = [e for e in entries if e.path.exists()]  # the list is up to 30 s old: a file may have gone since
    chosen = next((e for e in entries if str(e.path) == st.session_state.get(state.UPLOAD_CHOSEN)), None)
    if chosen is not None:
        st.session_state[state.DATASET], st.session_state[state.MODEL_A] = chosen.dataset, str(chosen.path)
    datasets = [name for name in (*DATASETS, OWN_DATA) if any(e.dataset == name for e in entries)]
    if not datasets:
        choices_box.warning("No checkpoint found: train one on the Train page or upload one below.")
    else:
        _follow_link(entries, datasets)
        dataset = choices_box.selectbox("Dataset", datasets, key=state.DATASET,
                                        help=f"{OWN_DATA}: uploaded bundles of other data than the project's.")
        choices = [e for e in entries if e.dataset == dataset]
        labels = {str(e.path): e.label for e in choices}
        paths = list(labels)
        for key, method, title in ((state.MODEL_A, "softmax", "Model A"), (state.MODEL_B, "vc", "Model B")):
            if st.session_state.get(key) not in paths:
                first = default_entry(choices, method)
                st.session_state[key] = str(first.path) if first is not None else paths[0]
            choices_box.selectbox(title, paths, format_func=labels.get, key=key)
    for problem in problems:
        sidebar.caption(f"Skipped {problem}")
    st.session_state.pop(state.UPLOAD_CHOSEN, None)  # drawn: the selectbox holds it from now on
    return state.selection()
