"""AppTest runs of the calibration page: diagrams, bins, temperature scaling, corruptions, downloads."""

import json

import pytest
from streamlit.testing.v1 import AppTest

pytestmark = pytest.mark.usefixtures("fresh_app")


@pytest.fixture
def start(open_page):
    def start_() -> AppTest:
        app = open_page("calibration")
        assert app.title[0].value == "Calibration" and not app.error
        return app

    return start_


def widget(elements, label):
    return next(e for e in elements if e.label == label)


def figure_titles(app: AppTest) -> list[str]:
    return [json.loads(chart.proto.spec)["layout"]["title"]["text"] for chart in app.get("plotly_chart")]


def test_page_draws_both_diagrams_the_table_and_the_downloads(start):
    app = start()
    titles = figure_titles(app)
    assert len(titles) == 3  # two reliability diagrams, one confidence histogram
    assert titles[0].startswith("Model A: softmax") and titles[1].startswith("Model B: vc")
    table = app.dataframe[0].value
    assert list(table.columns[:7]) == ["accuracy", "ECE", "MCE", "adaptive ECE", "classwise ECE",
                                       "NLL (nats)", "Brier"]
    assert len(table) == 2 and table.notna().all().all()
    assert ((table["accuracy"] > 0.9) & (table["ECE"] >= 0) & (table["ECE"] <= 1)).all()
    downloads = app.get("download_button")
    assert [d.proto.label for d in downloads] == ["Metrics (CSV)", "Reliability bins (CSV)"]
    assert any("camera button" in c.value for c in app.caption)


def test_bins_slider_redraws_the_diagram_without_predicting_again(start, monkeypatch):
    from explorer.app import cache

    app = start()
    before = app.get("plotly_chart")[0].proto.spec
    calls = []
    monkeypatch.setattr(cache, "predict", lambda *args, **kwargs: calls.append(1))
    widget(app.slider, "Bins").set_value(5).run()
    assert not calls  # the cached predictions were reused
    assert not app.exception
    after = app.get("plotly_chart")[0].proto.spec
    assert after != before and "(5 bins)" in figure_titles(app)[0]
    accuracy_bars = json.loads(after)["data"][0]["x"]
    assert 1 <= len(accuracy_bars) <= 5


def test_temperature_scaling_adds_t_and_keeps_accuracy(start):
    app = start()
    widget(app.toggle, "Temperature scaling").set_value(True).run()
    assert not app.exception and not app.error
    table = app.dataframe[0].value
    assert "temperature T" in table.columns and len(table) == 4
    raw, scaled = table.iloc[::2], table.iloc[1::2]
    assert (raw["temperature T"] == 1).all() and (scaled["temperature T"] > 0).all()
    assert list(raw["accuracy"]) == list(scaled["accuracy"])
    # T is the one fitted on the checkpoint's own validation split, not on the test split.
    from explorer.core.checkpoints import load_checkpoint
    from explorer.core.config import TrainConfig, config_from_dict
    from explorer.core.data import load_dataset
    from explorer.measure.calibration import validation_temperature

    model, meta = load_checkpoint(app.session_state["model_a"])
    t = validation_temperature(model, load_dataset("digits", "train"),
                               config_from_dict(TrainConfig, meta["train_config"]))
    assert scaled["temperature T"].iloc[0] == pytest.approx(t)
    assert "T = " in figure_titles(app)[0]


def test_gaussian_noise_lowers_accuracy_and_shows_its_seed(start):
    app = start()
    clean = app.dataframe[0].value["accuracy"]
    widget(app.main.selectbox, "Corruption").set_value("gaussian_noise").run()
    widget(app.slider, "Severity").set_value(5).run()
    assert not app.exception and not app.error
    shifted = app.dataframe[0].value["accuracy"]
    assert (shifted < clean).all()
    assert any("gaussian noise, severity 5" in c.value and "seed 0" in c.value for c in app.caption)


def test_a_text_set_offers_its_corruptions_and_word_deletion_lowers_accuracy(open_page, data_copy, monkeypatch):
    from explorer.measure.corruptions import TEXT_CORRUPTIONS

    monkeypatch.setenv("EXPLORER_DATA_DIR", str(data_copy))
    app = open_page("calibration", state={"dataset": "20newsgroups"})
    assert not app.exception and not app.error and len(app.get("plotly_chart")) == 3
    corruption = widget(app.main.selectbox, "Corruption")
    assert tuple(corruption.options) == ("none", *TEXT_CORRUPTIONS)
    clean = app.dataframe[0].value["accuracy"]
    corruption.set_value("word_deletion").run()
    widget(app.slider, "Severity").set_value(5).run()
    assert not app.exception and not app.error
    assert (app.dataframe[0].value["accuracy"] < clean).all()
    assert any("word deletion, severity 5 (share of words 0.9)" in c.value for c in app.caption)
