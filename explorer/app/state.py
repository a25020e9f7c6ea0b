"""The one home of the app's session-state keys: the sidebar's selection read back from them, and the
linked selection (a reliability bin, a region of a latent map, a clicked example) with the rule that
forgets it."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from explorer.core.config import DEFAULT_COVARIANCE

DATASET = "dataset"
MODEL_A = "model_a"
MODEL_B = "model_b"
SEED = "seed"
IMPLIED = "implied"  # which of a softmax layer's implied Gaussians the pages draw and check against
UPLOADS_SEEN = "uploads_seen"
UPLOADS_TOKEN = "uploads_token"
"""The random token naming this session's uploads folder (:func:`explorer.core.checkpoints.uploads_dir`)."""
UPLOAD_CHOSEN = "upload_chosen"
"""The path of a bundle just uploaded, until a run of the sidebar has drawn it as model A: a run
stopped before its widgets reach the browser (a click elsewhere) would otherwise lose the choice, as
the browser sends back the selectboxes' old values."""
TRAIN_DATASET = "train_dataset"
TRAIN_FIELD = "train_field"
"""Prefix of the Train form's widget keys: f"{TRAIN_FIELD}:{dataset}:{name}" (per-dataset defaults)."""
TRAIN_RESULT = "train_result"
"""The last finished training run of this session with a saved epoch: a dict, ``EpochSaver.summary``
(:mod:`explorer.jobs.runs`) plus ``outcome``, the job's final state (done, failed or cancelled)."""
TRAIN_OWNER = "train_owner"
"""A random token naming this session to the server's training queue (its limit of runs per session)."""
TRAIN_JOBS = "train_jobs"
"""The ids of the runs this session submitted to the training queue, in order."""
TRAIN_SETTLED = "train_settled"
"""The ids of this session's runs already seen finished (``explorer.app.views.train.settle``)."""
TRAIN_REPLAY = "train_replay"
LESSON_STEP = "lesson_step"  # the Lesson page's step, 0-based (kept while other pages are open)
LESSON_PICKER = "lesson_picker"  # its step picker, set from LESSON_STEP at every run of the page
LESSON_BUNDLE = "lesson_bundle"
"""The lesson bundle last prepared: ((dataset, softmax path, vc path, seed) it was made for, its zip bytes)."""
ROBUST_REQUEST = "robust_request"  # the robust-accuracy settings last asked for on the adversarial page
SHIFT_TAB = "shift_tab"  # the open tab of the Shift page (only the open tab computes)


@dataclass(frozen=True)
class Selection:
    """What the sidebar chose: the dataset, models A and B (checkpoint paths), the seed and the member of
    a softmax layer's implied family the pages use (:data:`explorer.core.implied.COVARIANCES`)."""

    dataset: str | None
    model_a: Path | None
    model_b: Path | None
    seed: int
    implied: str = DEFAULT_COVARIANCE

    @property
    def pair(self) -> tuple[str, str]:
        """Models A and B as the linked selection records them: their paths, as strings."""
        return str(self.model_a), str(self.model_b)


def selection() -> Selection:
    get = st.session_state.get
    a, b = get(MODEL_A), get(MODEL_B)
    return Selection(get(DATASET), Path(a) if a else None, Path(b) if b else None, int(get(SEED, 0)),
                     get(IMPLIED, DEFAULT_COVARIANCE))


def models_or_stop() -> Selection:
    """The selection, for a page that needs models A and B: without them, a hint and the page stops."""
    selected = selection()
    if selected.model_a is None or selected.model_b is None:
        st.info("Choose or train a model first (sidebar).")
        st.stop()
    return selected


# The linked selection: test examples chosen on one of models A and B's views and shown on both. A
# reliability bin chosen on the Calibration page rings its examples on both latent maps; a region drawn
# on a latent map is measured on both models; an example clicked on a latent map is shown there and
# attacked on the Adversarial page. Each names rows of the test split of what it was chosen on: with
# other models (another file, another dataset) the same bin or indices are other examples, so a
# selection is read only with what it was chosen on, and forgotten otherwise.

CALIBRATION_BIN = "calibration_bin"
"""The reliability bin whose test points the Calibration page rings on both latent maps: a tuple
(side, b), side "Model A" or "Model B" and b the bin's index, or None. Set by a click on a bar of a
diagram (its ``on_select`` callback, :func:`choose_bin`) or by the page's selectbox of that key."""
CALIBRATION_BIN_AMONG = "calibration_bin_among"
"""What CALIBRATION_BIN was chosen among: (model A, model B, number of bins). With other models the
bin is another model's predictions; with another number of bins its index is another range."""
LATENT_REGION = "latent_region"
"""A region drawn with the box or lasso on a latent map: a dict {"map": "Model A" or "Model B",
"how": "box" or "lasso", "indices": list of test-split indices of the drawn points inside it,
"models": (model A, model B) it was drawn on}, or None."""
SELECTED_INDEX = "selected_index"
"""The test example clicked on a latent map: its index in the test split, or None. Read and written
through :func:`chosen_example` and :func:`choose_example`."""
SELECTED_INDEX_DATASET = "selected_index_dataset"
"""The dataset :data:`SELECTED_INDEX` was chosen on: models of one dataset share its test split, so
the example outlives a change of model A or B, but not of the dataset."""
LATENT_MAP_CLEARS = "latent_map_clears"
"""How many times "Clear the selection" ran: part of the latent maps' chart keys, so a clear also
takes the box off the charts (a new key is a new chart, with no selection)."""


def _kept(key: str, among_key: str, among: object) -> object:
    """The choice under ``key`` if it was made among ``among`` (what ``among_key`` recorded at the last
    read; nothing recorded: this one), else forgotten (None); records ``among`` for the next read."""
    if st.session_state.get(among_key, among) != among:
        st.session_state[key] = None
    st.session_state[among_key] = among
    return st.session_state.get(key)


def reliability_key(side: str) -> str:
    """The session key of side's reliability diagram on the Calibration page (its selection)."""
    return f"reliability_{side}"


def latent_map_key(side: str) -> str:
    """The session key of side's latent map on the Latent space page (its selection): a new one after
    each :func:`clear_region`, so a clear also takes the box off the chart."""
    return f"latents_{side}:{st.session_state.get(LATENT_MAP_CLEARS, 0)}"


def chosen_bin(models: tuple[str, str], n_bins: int, options: Collection) -> tuple[str, int] | None:
    """The reliability bin chosen among ``n_bins`` bins of these ``models`` (:attr:`Selection.pair`),
    if it is one of ``options``; a bin chosen among others is forgotten. A corruption or temperature
    scaling keeps it: it is still that model's range of confidence, and the page's caption says on
    which predictions the ringed examples fall in it.

    Call it once a run of the Calibration page, before its bin selectbox (which holds
    :data:`CALIBRATION_BIN`) is drawn: it records what the next choice is made among.
    """
    chosen = _kept(CALIBRATION_BIN, CALIBRATION_BIN_AMONG, (*models, n_bins))
    if chosen not in options:
        st.session_state[CALIBRATION_BIN] = chosen = None
    return chosen


def choose_bin(side: str, b: int) -> None:
    """Choose bin b of side's diagram (an ``on_select`` callback: before the run that draws it)."""
    st.session_state[CALIBRATION_BIN] = (side, b)


def drop_bin(side: str) -> None:
    """Forget the chosen bin if it is side's: emptying one diagram leaves the other's choice."""
    if (st.session_state.get(CALIBRATION_BIN) or ("",))[0] == side:
        st.session_state[CALIBRATION_BIN] = None


def region(models: tuple[str, str]) -> dict | None:
    """The region (:data:`LATENT_REGION`) if it was drawn on these ``models`` (:attr:`Selection.pair`);
    one drawn on others is forgotten, and None is returned."""
    found = st.session_state.get(LATENT_REGION)
    if found is not None and tuple(found.get("models", ())) != tuple(models):
        st.session_state[LATENT_REGION] = found = None
    return found


def choose_region(found: dict, models: tuple[str, ...]) -> None:
    """Store a region ({"map", "how", "indices"}) as drawn on ``models``."""
    st.session_state[LATENT_REGION] = {**found, "models": tuple(models)}


def clear_region() -> None:
    """No region, and new latent-map chart keys (:func:`latent_map_key`), so no box stays drawn."""
    st.session_state[LATENT_REGION] = None
    st.session_state[LATENT_MAP_CLEARS] = st.session_state.get(LATENT_MAP_CLEARS, 0) + 1


def chosen_example(dataset: str | None) -> int | None:
    """The test example (:data:`SELECTED_INDEX`) if it was chosen on ``dataset``; one chosen on another
    is forgotten, and None is returned.

    Call it once a run of each page that shows the example (Latent space, Adversarial), before
    showing it: like :func:`chosen_bin`, it records what it is read with, so an index stored without
    its dataset belongs to the first dataset it is read with.
    """
    return _kept(SELECTED_INDEX, SELECTED_INDEX_DATASET, dataset)


def choose_example(dataset: str | None, index: int) -> None:
    """Choose test example ``index`` of ``dataset`` (a click on a latent map; an ``on_select`` callback)."""
    st.session_state[SELECTED_INDEX] = index
    st.session_state[SELECTED_INDEX_DATASET] = dataset
