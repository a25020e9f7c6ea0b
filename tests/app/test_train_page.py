"""The Train page: the form queues a run in the server's training queue, which trains it and saves it
after every epoch into the user folder whether or not the session still watches; the page shows the
run's place and estimated start, its live progress and a Cancel button, then lists the result in the
sidebar and replays d = 2 latents; the server's limits bound the form; bad settings are errors."""

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from conftest import wait_for
from explorer.app import cache, state
from explorer.app.views import train as train_view
from explorer.core.checkpoints import SHIPPED_DIR, load_checkpoint
from explorer.core.config import ModelConfig, TrainConfig, help_of
from explorer.jobs.training_queue import CANCELLED, DONE, RUNNING
from figure_json import figure_json, texts

WAIT = 300  # seconds: a bound on a digits run that never takes it unless the queue is broken

pytestmark = pytest.mark.usefixtures("fresh_app")


@pytest.fixture
def start(open_page):
    def start_() -> AppTest:
        app = open_page("train")
        assert app.title[0].value == "Train a model"
        return app

    return start_


def fill(app: AppTest, dataset: str = "digits", **values) -> AppTest:
    """Set form fields (by name, see pages/train.py) and press Train: the run is queued."""
    settings = {"d": 2, "epochs": 3, **values}
    for name, value in settings.items():
        key = train_view.field_key(dataset, name)
        widget = next(w for w in [*app.number_input, *app.selectbox] if w.key == key)
        widget.set_value(value)
    next(b for b in app.button if b.label == "Train").click()
    app.run()
    assert not app.exception, app.exception
    return app


def finish(app: AppTest) -> AppTest:
    """Wait until the session's runs have ended in the queue, then run the page again (as its
    fragment's next poll would): the page shows the last one."""
    for job_id in app.session_state[state.TRAIN_JOBS]:
        assert cache.training_queue().wait(job_id, WAIT).finished
    app.run()
    assert not app.exception, app.exception
    return app


def panel(app: AppTest) -> str:
    """The queue panel's text: where each of the session's runs stands."""
    return " ".join(m.value for m in app.markdown if m.value.startswith(("**Waiting:**", "**Training:**")))


def trained_files(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "runs" / "trained").glob("*.pt"))


def test_the_form_defaults_come_from_the_configs(start):
    app = start()
    model, train_config = train_view.defaults("digits")
    values = {w.key: w.value for w in app.number_input}
    assert values[train_view.field_key("digits", "d")] == model.latent_dim
    assert values[train_view.field_key("digits", "epochs")] == train_config.epochs
    assert values[train_view.field_key("digits", "lr")] == pytest.approx(train_config.lr)
    assert any("go on when you leave this page, touch a widget or close the tab" in c.value for c in app.caption)


def test_the_form_shows_each_settings_help_from_the_configs(start):
    app = start()
    helps = {w.key: w.help for w in [*app.number_input, *app.selectbox]}
    assert helps[train_view.field_key("digits", "d")] == help_of(ModelConfig, "latent_dim")
    assert helps[train_view.field_key("digits", "kl_estimator")] == help_of(TrainConfig, "kl_estimator")
    assert helps[train_view.field_key("digits", "seed")] == help_of(TrainConfig, "seed")


def test_a_queued_run_is_saved_every_epoch_listed_and_replayed(start, tmp_path):
    shipped = sorted(SHIPPED_DIR.glob("*"))
    app = fill(start(), method="vc")
    assert not app.error
    (job_id,) = app.session_state[state.TRAIN_JOBS]
    app = finish(app)
    assert cache.training_queue().status(job_id).state == DONE
    files = trained_files(tmp_path)
    assert len(files) == 1 and files[0].name.startswith("digits-mlp-d2-vc-seed0-")
    assert sorted(SHIPPED_DIR.glob("*")) == shipped  # nothing written next to the shipped models
    _, meta = load_checkpoint(files[0])
    assert [r["epoch"] for r in meta["history"]] == [1, 2, 3] and meta["epochs_done"] == 3
    assert meta["metrics_split"] == "test" and meta["metrics"]["n"] == 450
    assert meta["snapshots"].shape[0] == 4 and meta["class_counts"]

    # Once the run has ended, the page lists the file in the sidebar and draws the result and the replay.
    assert not panel(app)
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


def test_a_run_goes_on_after_its_session_has_gone(start, open_page, tmp_path):
    """A tab closed: nothing of the session runs any more, and the queue still trains and saves the run,
    which the next session finds in the sidebar."""
    app = fill(start(), epochs=2)
    (job_id,) = app.session_state[state.TRAIN_JOBS]
    del app
    assert cache.training_queue().wait(job_id, WAIT).state == DONE
    (path,) = trained_files(tmp_path)
    assert load_checkpoint(path)[1]["epochs_done"] == 2
    later = open_page("train")
    assert any(path.stem in o for box in later.sidebar.selectbox for o in box.options)


def test_the_page_shows_progress_places_and_cancels(start, tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_TRAIN_WORKERS", "1")  # whatever the cores: the second run waits
    app = fill(start(), epochs=100, batch_size=16)  # minutes of training: cancelled below
    app = fill(app, epochs=2)
    first, second = app.session_state[state.TRAIN_JOBS]
    queue = cache.training_queue()
    wait_for(lambda: queue.status(first).state == RUNNING and queue.status(first).summary is not None,
             "the first run saved an epoch")
    app.run()  # what the fragment's next poll shows
    assert not app.exception
    text = panel(app)
    assert "**Training:** vc on digits (mlp, 100 epochs), epoch" in text
    assert "**Waiting:** vc on digits (mlp, 2 epochs), next; starts in about" in text
    assert app.get("progress") and any("Training so far" in texts(json.loads(c.proto.spec))
                                       for c in app.get("plotly_chart"))

    cancels = [b for b in app.button if b.label == "Cancel"]
    assert len(cancels) == 2
    cancels[1].click()  # the waiting run leaves the queue
    app.run()
    assert queue.status(second).state == CANCELLED and "**Waiting:**" not in panel(app)
    next(b for b in app.button if b.label == "Cancel").click()  # the running one stops at its next step
    app.run()
    app = finish(app)
    assert queue.status(first).state == CANCELLED and not panel(app)
    (path,) = trained_files(tmp_path)
    done = load_checkpoint(path)[1]["epochs_done"]
    assert 1 <= done < 100
    assert app.warning[0].value.startswith(f"The run was cancelled after epoch {done} of 100.")


def test_the_form_takes_the_servers_limits(start, monkeypatch):
    monkeypatch.setenv("EXPLORER_MAX_EPOCHS", "7")
    monkeypatch.setenv("EXPLORER_MAX_BATCH_SIZE", "32")
    monkeypatch.setenv("EXPLORER_TRAIN_ENCODERS", "mlp,cnn")
    monkeypatch.setenv("EXPLORER_MAX_RUNS_PER_SESSION", "1")
    app = start()
    inputs = {w.key: w for w in app.number_input}
    epochs, batch = inputs[train_view.field_key("digits", "epochs")], inputs[train_view.field_key("digits", "batch_size")]
    assert (epochs.max, epochs.value) == (7, 7) and (batch.max, batch.value) == (32, 32)  # digits' 60 and 64, bounded
    assert app.selectbox(key=train_view.field_key("digits", "encoder")).options == ["mlp", "cnn"]
    assert any("Limits here: 7 epochs, batch size 32, encoders mlp, cnn, 1 runs" in c.value for c in app.caption)
    app = fill(app, epochs=2)
    app = fill(app, epochs=2)  # a second run while the first is queued or running: refused
    assert "you have 1 runs queued or running" in app.error[0].value
    assert "EXPLORER_MAX_RUNS_PER_SESSION" in app.error[0].value
    assert len(app.session_state[state.TRAIN_JOBS]) == 1
    finish(app)


def test_an_unusable_limit_is_an_error_not_a_traceback(start, monkeypatch):
    monkeypatch.setenv("EXPLORER_TRAIN_WORKERS", "none")
    app = start()
    assert not app.exception
    assert "EXPLORER_TRAIN_WORKERS must be a whole number ≥ 1, not 'none'" in app.error[0].value


def test_softmax_replay_draws_the_implied_gaussians(start):
    app = finish(fill(start(), method="softmax", epochs=2))
    assert not app.exception and not app.error
    note = texts(figure_json(app, 1)).replace("<br>", " ")  # the note wraps its lines
    assert "implied by the linear layer (fitted, diagonal Σ, on these" in note


def test_a_zero_learning_rate_is_an_error_not_a_traceback(start, tmp_path):
    app = fill(start(), lr=0.0)
    assert not app.exception
    assert "lr must be a finite number > 0" in app.error[0].value
    assert not trained_files(tmp_path)


def test_a_run_that_fails_in_the_queue_shows_its_message(start, tmp_path):
    app = finish(fill(start(), method="vc", prior="student_t", kl_estimator="moment", epochs=2))
    assert not app.exception
    assert app.error[0].value.startswith("The last run failed: the moment estimator's closed form needs a "
                                         "Gaussian prior")
    assert not trained_files(tmp_path) and not app.get("plotly_chart")


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


def test_the_form_trains_the_papers_objective_and_records_it(start, tmp_path):
    app = finish(fill(start(), method="vc", objective="paper", kl_estimator="moment", epochs=2))
    assert not app.error and app.success
    (path,) = trained_files(tmp_path)
    _, meta = load_checkpoint(path)
    assert meta["train_config"]["objective"] == "paper" and meta["train_config"]["kl_estimator"] == "moment"
    assert "kl_estimate" in meta["history"][-1] and "disc_accuracy" not in meta["history"][-1]
