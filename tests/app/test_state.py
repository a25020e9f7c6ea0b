"""The linked selection of explorer/app/state.py: what is chosen, for which models, and when it is forgotten."""

import pytest

from explorer.app import state

A, B, OTHER = "runs/a.pt", "runs/b.pt", "runs/c.pt"
OPTIONS = [None, ("Model A", 14), ("Model B", 3)]


@pytest.fixture
def session(monkeypatch):
    session = {}
    monkeypatch.setattr(state.st, "session_state", session)
    return session


def test_a_bin_is_kept_among_the_same_models_and_bins(session):
    assert state.chosen_bin((A, B), 15, OPTIONS) is None  # nothing chosen yet
    state.choose_bin("Model A", 14)
    assert state.chosen_bin((A, B), 15, OPTIONS) == ("Model A", 14)
    assert state.chosen_bin((A, B), 15, OPTIONS) == ("Model A", 14)


@pytest.mark.parametrize("models, n_bins, options", [
    ((A, OTHER), 15, OPTIONS),  # model B changed: side A's bin would ring other predictions' examples
    ((OTHER, B), 15, OPTIONS),
    ((A, B), 16, OPTIONS),  # another bin count: bin 14 is another range
    ((A, B), 15, [None, ("Model B", 3)]),  # no longer an option (an empty bin)
])
def test_a_bin_chosen_among_others_is_forgotten(session, models, n_bins, options):
    state.chosen_bin((A, B), 15, OPTIONS)
    state.choose_bin("Model A", 14)
    assert state.chosen_bin(models, n_bins, options) is None
    assert session[state.CALIBRATION_BIN] is None
    assert state.chosen_bin((A, B), 15, OPTIONS) is None  # forgotten, not hidden: going back brings nothing


def test_emptying_a_diagram_drops_only_its_own_bin(session):
    state.choose_bin("Model A", 14)
    state.drop_bin("Model B")
    assert session[state.CALIBRATION_BIN] == ("Model A", 14)
    state.drop_bin("Model A")
    assert session[state.CALIBRATION_BIN] is None
    state.drop_bin("Model A")  # nothing chosen: nothing to drop
    assert session[state.CALIBRATION_BIN] is None


def test_a_region_is_read_with_its_models_and_forgotten_with_others(session):
    assert state.region((A, B)) is None
    state.choose_region({"map": "Model B", "how": "lasso", "indices": [3, 8]}, (A, B))
    assert state.region((A, B)) == {"map": "Model B", "how": "lasso", "indices": [3, 8], "models": (A, B)}
    assert state.region((A, OTHER)) is None  # drawn on other models: its indices are other examples
    assert session[state.LATENT_REGION] is None and state.region((A, B)) is None


def test_clearing_a_region_gives_the_maps_new_keys(session):
    state.choose_region({"map": "Model A", "how": "box", "indices": []}, (A, B))
    before = {side: state.latent_map_key(side) for side in ("Model A", "Model B")}
    state.clear_region()
    assert state.region((A, B)) is None
    after = {side: state.latent_map_key(side) for side in ("Model A", "Model B")}
    assert before["Model A"] != after["Model A"] and len(set(after.values())) == 2
    assert state.reliability_key("Model A") != state.reliability_key("Model B")


def test_an_example_is_read_on_its_dataset_and_forgotten_on_another(session):
    assert state.chosen_example("digits") is None  # nothing chosen yet
    state.choose_example("digits", 41)
    assert state.chosen_example("digits") == 41
    assert state.chosen_example("digits") == 41  # reading keeps it
    assert state.chosen_example("mnist") is None  # digits' #41 is another example of mnist's test split
    assert session[state.SELECTED_INDEX] is None
    assert state.chosen_example("digits") is None  # forgotten, not hidden: going back brings nothing


def test_an_example_stored_without_its_dataset_belongs_to_the_first_it_is_read_with(session):
    session[state.SELECTED_INDEX] = 12
    assert state.chosen_example("digits") == 12
    assert state.chosen_example("mnist") is None


def test_the_pair_is_models_a_and_b_as_strings():
    from pathlib import Path

    selected = state.Selection("digits", Path(A), Path(B), 0)
    assert selected.pair == (str(Path(A)), str(Path(B)))
