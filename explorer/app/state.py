"""The one home of the app's session-state keys, and the sidebar's selection read back from them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st

DATASET = "dataset"
MODEL_A = "model_a"
MODEL_B = "model_b"
SEED = "seed"
UPLOADS_SEEN = "uploads_seen"
UPLOAD_CHOSEN = "upload_chosen"
"""The path of a bundle just uploaded, until a run of the sidebar has drawn it as model A: a run
stopped before its widgets reach the browser (a click elsewhere) would otherwise lose the choice, as
the browser sends back the selectboxes' old values."""
TRAIN_DATASET = "train_dataset"
TRAIN_FIELD = "train_field"
"""Prefix of the Train form's widget keys: f"{TRAIN_FIELD}:{dataset}:{name}" (per-dataset defaults)."""
TRAIN_RESULT = "train_result"
"""The last training run of this session (a dict, see ``explorer.app.views.train.EpochSaver.summary``)."""
TRAIN_REPLAY = "train_replay"
LESSON_STEP = "lesson_step"  # the Lesson page's step, 0-based (kept while other pages are open)
LESSON_PICKER = "lesson_picker"  # its step picker, set from LESSON_STEP at every run of the page
SELECTED_INDEX = "selected_index"  # a test-split example index chosen on a page (e.g. a latent-map click)
ROBUST_REQUEST = "robust_request"  # the robust-accuracy settings last asked for on the adversarial page
SHIFT_TAB = "shift_tab"  # the open tab of the Shift page (only the open tab computes)


@dataclass(frozen=True)
class Selection:
    """What the sidebar chose: the dataset, models A and B (checkpoint paths) and the seed."""

    dataset: str | None
    model_a: Path | None
    model_b: Path | None
    seed: int


def selection() -> Selection:
    get = st.session_state.get
    a, b = get(MODEL_A), get(MODEL_B)
    return Selection(get(DATASET), Path(a) if a else None, Path(b) if b else None, int(get(SEED, 0)))


def models_or_stop() -> Selection:
    """The selection, for a page that needs models A and B: without them, a hint and the page stops."""
    selected = selection()
    if selected.model_a is None or selected.model_b is None:
        st.info("Choose or train a model first (sidebar).")
        st.stop()
    return selected


CALIBRATION_BIN = "calibration_bin"
"""The reliability bin whose test points the Calibration page rings on both latent maps: a tuple
(side, b), side "Model A" or "Model B" and b the bin's index, or None. Set by a click on a bar of a
diagram (its ``on_select`` callback) or by the page's selectbox of that key."""
CALIBRATION_BIN_COUNT = "calibration_bin_count"
"""The number of bins CALIBRATION_BIN was chosen among: another number makes its index another range."""
LATENT_REGION = "latent_region"
"""A region drawn with the box or lasso on a latent map: a dict {"map": "Model A" or "Model B",
"how": "box" or "lasso", "indices": list of test-split indices of the drawn points inside it}, or None."""
LATENT_MAP_CLEARS = "latent_map_clears"
"""How many times "Clear the selection" ran: part of the latent maps' chart keys, so a clear also
takes the box off the charts (a new key is a new chart, with no selection)."""
