"""The Train page: the form trains, saves after every epoch into the user folder, lists the result in
the sidebar, replays d = 2 latents, and shows bad settings as errors; and the per-epoch saver alone."""

import json
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from conftest import quick_configs
from explorer.app import state
from explorer.app.views import train as train_view
from explorer.core.checkpoints import SHIPPED_DIR, load_checkpoint
from explorer.core.config import ModelConfig, TrainConfig, help_of
from explorer.core.data import load_dataset
from explorer.jobs.training import train
from figure_json import figure_json, texts

pytestmark = pytest.mark.usefixtures("fresh_app")


@pytest.fixture
def start(open_page):
    def start_() -> AppTest:
        app = open_page("train")
        assert app.title[0].value == "Train a model"
        return app

    return start_


def fill(app: AppTest, dataset: str = "digits", **values) -> AppTest:
    """Set form fields (by name, see pages/train.py) and press Train."""
    settings = {"d": 2, "epochs": 3, **values}
    for name, value in settings.items():
        key = train_view.field_key(dataset, name)
        widget = next(w for w in [*app.number_input, *app.selectbox] if w.key == key)
        widget.set_value(value)
    next(b for b in app.button if b.label == "Train").click()
    app.run()
    assert not app.exception, app.exception
    return app


def trained_files(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "runs" / "trained").glob("*.pt"))


def test_the_form_defaults_come_from_the_configs(start):
    app = start()
    model, train_config = train_view.defaults("digits")
    values = {w.key: w.value for w in app.number_input}
    assert values[train_view.field_key("digits", "d")] == model.latent_dim
    assert values[train_view.field_key("digits", "epochs")] == train_config.epochs
    assert values[train_view.field_key("digits", "lr")] == pytest.approx(train_config.lr)
    assert any("stops it at its next update" in c.value for c in app.caption)


def test_the_form_shows_each_settings_help_from_the_configs(start):
    app = start()
    helps = {w.key: w.help for w in [*app.number_input, *app.selectbox]}
    assert helps[train_view.field_key("digits", "d")] == help_of(ModelConfig, "latent_dim")
    assert helps[train_view.field_key("digits", "kl_estimator")] == help_of(TrainConfig, "kl_estimator")
    assert helps[train_view.field_key("digits", "seed")] == help_of(TrainConfig, "seed")


def test_training_saves_every_epoch_lists_the_model_and_replays(start, tmp_path, monkeypatch):
    shipped = sorted(SHIPPED_DIR.glob("*"))
    live = []  # the live curves, drawn during the run (the page reruns afterwards, so count the draws)
    monkeypatch.setattr(train_view, "training_curves",
                        lambda history, *args, **kwargs: live.append(len(history)) or
                        train_view.go.Figure())
    app = fill(start(), method="vc")
    assert not app.error
    assert live == [1, 2, 3]
    files = trained_files(tmp_path)
    assert len(files) == 1 and files[0].name.startswith("digits-mlp-d2-vc-seed0-")
    assert sorted(SHIPPED_DIR.glob("*")) == shipped  # nothing written next to the shipped models
    _, meta = load_checkpoint(files[0])
    assert [r["epoch"] for r in meta["history"]] == [1, 2, 3] and meta["epochs_done"] == 3
    assert meta["metrics_split"] == "test" and meta["metrics"]["n"] == 450
    assert meta["snapshots"].shape[0] == 4 and meta["class_counts"]

    # After the run the page reran: the sidebar lists the file, the result and the replay are drawn.
    options = [o for box in app.sidebar.selectbox for o in box.options]
    assert any(files[0].stem in o for o in options)
    assert app.success and app.metric[0].label == "Accuracy (test)"
    charts = app.get("plotly_chart")
    assert len(charts) == 2 and "epoch 3 of 3" in texts(json.loads(charts[1].proto.spec))
    app.slider[0].set_value(0).run()
    assert not app.exception
    assert "epoch 0 of 3" in texts(figure_json(app, 1))

    next(b for b in app.button if b.label == "Show as model B").click()
    app.run()
    assert not app.exception and app.session_state[state.MODEL_B] == str(files[0])


def test_two_sessions_train_at_once_without_disturbing_each_other(tmp_path):
    """Each browser session runs its script in its own thread of one server process: two runs started
    in the same second with the same settings must write two files and build the very same model.

    The runs go through what the Train page runs (``checkpoint_path``, ``EpochSaver``, ``train``) in
    two threads, without AppTest: AppTest swaps one process-wide mock Runtime in and out around each
    run, so two AppTests in parallel threads break each other (the harness, not the app).
    """
    model_config, train_config = quick_configs("vc", epochs=3)
    data, test = load_dataset("digits", "train"), load_dataset("digits", "test")
    barrier = threading.Barrier(2)

    def session(_) -> dict:
        barrier.wait()  # same settings, same second: the runs interleave and would share a name
        saver = train_view.EpochSaver(train_view.checkpoint_path("digits", model_config, train_config), test,
                                      train_config)
        train(data, model_config, train_config, saver)
        return saver.summary()

    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(session, range(2)))
    files = trained_files(tmp_path)
    assert len(files) == 2
    (net_a, meta_a), (net_b, meta_b) = (load_checkpoint(f) for f in files)
    assert meta_a["epochs_done"] == meta_b["epochs_done"] == 3
    # Same seed and settings: undisturbed runs give the very same model.
    for name, value in net_a.state_dict().items():
        assert torch.equal(value, net_b.state_dict()[name]), name
    for run in runs:  # what the page shows as "Accuracy (test)"
        assert run["complete"] and run["metrics_split"] == "test"


def test_softmax_replay_draws_the_implied_gaussians(start):
    app = fill(start(), method="softmax", epochs=2)
    assert not app.exception and not app.error
    note = texts(figure_json(app, 1)).replace("<br>", " ")  # the note wraps its lines
    assert "implied by the linear layer (fitted, diagonal Σ, on these" in note


def test_a_zero_learning_rate_is_an_error_not_a_traceback(start, tmp_path):
    app = fill(start(), lr=0.0)
    assert not app.exception
    assert "lr must be a finite number > 0" in app.error[0].value
    assert not trained_files(tmp_path)


def test_a_dataset_missing_offline_is_an_error(start, tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.setattr("explorer.core.data.images._download", _no_download)
    app = start()
    app.selectbox(key=state.TRAIN_DATASET).set_value("mnist").run()
    app = fill(app, dataset="mnist", epochs=1)
    assert not app.exception
    assert "'mnist' not found" in app.error[0].value and "EXPLORER_DATA_DIR" in app.error[0].value


def _no_download(name, cls, root, paths):
    from explorer.core.data.images import _unavailable

    raise _unavailable(name, root / paths[0], "download failed: no network in tests")


def test_the_epoch_saver_saves_after_every_epoch_what_train_records(tmp_path):
    """Alone, without the app: one file rewritten per epoch; validation metrics until the last epoch."""
    model_config, train_config = quick_configs("vc", epochs=3)
    data, test = load_dataset("digits", "train"), load_dataset("digits", "test")
    path = tmp_path / "trained" / "run.pt"
    saver = train_view.EpochSaver(path, test, train_config)
    seen = []

    def callback(progress):
        if saver(progress):
            _, meta = load_checkpoint(path)
            seen.append((meta["epochs_done"], meta["metrics_split"], len(meta["history"]),
                         meta["metrics"]["accuracy"], progress.record["val_accuracy"]))

    result = train(data, model_config, train_config, callback)
    assert [s[:3] for s in seen] == [(1, "validation", 1), (2, "validation", 2), (3, "test", 3)]
    assert all(acc == val for _, split, _, acc, val in seen if split == "validation")
    assert [p.name for p in path.parent.iterdir()] == ["run.pt"]  # no temporary files left
    # The saver's snapshots are train()'s own: same points, same latents, epoch 0 included.
    _, meta = load_checkpoint(path)
    assert torch.allclose(meta["snapshots"], result.snapshots, atol=1e-5)
    assert torch.equal(meta["snapshot_labels"], result.snapshot_labels)
    assert meta["class_counts"] == result.class_counts and meta["history"] == result.history
    summary = saver.summary()
    assert summary["complete"] and summary["means"].shape == (4, 10, 2)
    assert np.isfinite(summary["variances"]).all() and (summary["variances"] > 0).all()


def test_the_checkpoint_name_and_folder(tmp_path):
    import datetime as dt

    model_config, train_config = quick_configs("lgm", seed=7)
    now = dt.datetime(2025, 1, 2, 3, 4, 5)
    path = train_view.checkpoint_path("digits", model_config, train_config, now)
    assert path.parent == tmp_path / "runs" / "trained"
    assert re.fullmatch(r"digits-mlp-d2-lgm-seed7-20250102-030405-[0-9a-f]{6}\.pt", path.name), path.name
    # two sessions starting the same run in the same second get two files
    assert train_view.checkpoint_path("digits", model_config, train_config, now) != path


def test_the_form_trains_the_papers_objective_and_records_it(start, tmp_path):
    app = fill(start(), method="vc", objective="paper", kl_estimator="moment", epochs=2)
    assert not app.error and app.success
    (path,) = trained_files(tmp_path)
    _, meta = load_checkpoint(path)
    assert meta["train_config"]["objective"] == "paper" and meta["train_config"]["kl_estimator"] == "moment"
    assert "kl_estimate" in meta["history"][-1] and "disc_accuracy" not in meta["history"][-1]
