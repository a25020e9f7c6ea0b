"""AppTest runs of the calibration page: diagrams with bands, SmoothECE, metrics with intervals, the
recalibrations, corruptions, downloads, and a bin ringed on the latent maps."""

import json
import re

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


ENDING = 3
"""Figures of the page's last two sections: the risk-coverage curves, coverage per class, set sizes."""

CELL = re.compile(r"^([-+]?\d\.\d+) \[([-+]?\d\.\d+), ([-+]?\d\.\d+)\]( ✓)?$")


def cells(app: AppTest, measure: str, table: int = 0) -> dict[str, tuple[float, float, float, bool]]:
    """{column: (value, low, high, told apart)} of a measure's row in the page's metrics (0) or
    differences (1) table, parsed from its "value [low, high]" cells."""
    row = app.dataframe[table].value.loc[measure]
    parsed = {column: CELL.match(cell) for column, cell in row.items()}
    assert all(parsed.values()), row
    return {c: (*map(float, m.groups()[:3]), m.group(4) is not None) for c, m in parsed.items()}


def test_page_draws_diagrams_smooth_diagrams_metrics_with_intervals_and_downloads(start):
    app = start()
    titles = figure_titles(app)
    assert len(titles) == 5 + ENDING  # two reliability diagrams, two smoothed ones, the confidence histogram
    assert titles[0].startswith("Model A: softmax") and titles[1].startswith("Model B: vc")
    assert all("smECE = " in json.loads(chart.proto.spec)["layout"]["title"]["subtitle"]["text"]
               for chart in app.get("plotly_chart")[2:4])
    table = app.dataframe[0].value
    assert list(table.index) == ["accuracy", "ECE", "MCE", "adaptive ECE", "classwise ECE", "SmoothECE",
                                 "debiased L2-ECE", "NLL (nats)", "Brier"]
    assert [c[:7] for c in table.columns] == ["Model A", "Model B"]
    for value, low, high, _ in cells(app, "accuracy").values():
        assert 0.9 < low <= value <= high <= 1
    for value, low, high, _ in cells(app, "ECE").values():
        assert 0 <= low <= value <= high <= 1 and high > low
    difference = cells(app, "ECE", table=1)["A − B"]
    assert difference[1] <= difference[0] <= difference[2]
    assert difference[3] == (difference[1] > 0 or difference[2] < 0)
    assert any("bootstrap resamples of the 450 test examples" in c.value for c in app.caption)
    downloads = app.get("download_button")
    assert [d.proto.label for d in downloads] == ["Metrics with intervals (CSV)", "Reliability bins (CSV)"]
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


def test_temperature_scaling_shows_before_and_after_keeps_accuracy_and_fits_t_on_validation(start):
    app = start()
    widget(app.main.selectbox, "Recalibration").set_value("temperature").run()
    assert not app.exception and not app.error
    accuracy = cells(app, "accuracy")
    assert len(accuracy) == 4
    names = list(accuracy)
    assert "temperature scaling" not in names[0] and names[1].endswith("+ temperature scaling")
    assert accuracy[names[0]][0] == accuracy[names[1]][0]  # T keeps the argmax
    # T is the one fitted on the checkpoint's own validation split, not on the test split.
    from explorer.core.checkpoints import load_checkpoint
    from explorer.core.config import TrainConfig, config_from_dict
    from explorer.core.data import load_dataset
    from explorer.measure.evaluation import validation_temperature

    model, meta = load_checkpoint(app.session_state["model_a"])
    t = validation_temperature(model, load_dataset("digits", "train"),
                               config_from_dict(TrainConfig, meta["train_config"]))
    assert "+ temperature scaling" in figure_titles(app)[0]
    assert any(c.value.startswith("Fitted on each model's validation split: Model A: T = ") and f"T = {t:.3g}" in c.value
               for c in app.caption)
    differences = cells(app, "NLL (nats)", table=1)
    assert {"A − B", "A after temperature scaling − A", "B − A after temperature scaling"} <= set(differences)
    assert len(app.get("plotly_chart")) == 5 + 2 + ENDING  # and the NLL and Brier decompositions


@pytest.mark.parametrize("fix", ["vector", "matrix", "dirichlet", "histogram", "isotonic"])
def test_every_recalibration_draws_before_and_after(start, fix):
    from explorer.app.views.calibration import FIXES

    app = start()
    widget(app.main.selectbox, "Recalibration").set_value(fix).run()
    assert not app.exception and not app.error
    assert f"+ {FIXES[fix]}" in figure_titles(app)[0]
    assert len(cells(app, "ECE")) == 4


def test_the_page_offers_every_recalibration_of_the_library():
    from explorer.app.views.calibration import FIXES
    from explorer.measure.recalibration import RECALIBRATORS

    assert list(FIXES) == [None, *RECALIBRATORS]


def test_gaussian_noise_lowers_accuracy_and_shows_its_seed(start):
    app = start()
    clean = cells(app, "accuracy")
    widget(app.main.selectbox, "Corruption").set_value("gaussian_noise").run()
    widget(app.slider, "Severity").set_value(5).run()
    assert not app.exception and not app.error
    shifted = cells(app, "accuracy")
    assert all(shifted[side][0] < clean[side][0] for side in clean)
    assert any("gaussian noise, severity 5" in c.value and "seed 0" in c.value for c in app.caption)


def test_a_text_set_offers_its_corruptions_and_word_deletion_lowers_accuracy(open_page, data_copy, monkeypatch):
    from explorer.measure.corruptions import TEXT_CORRUPTIONS

    monkeypatch.setenv("EXPLORER_DATA_DIR", str(data_copy))
    app = open_page("calibration", state={"dataset": "20newsgroups"})
    assert not app.exception and not app.error and len(app.get("plotly_chart")) == 5 + ENDING
    corruption = widget(app.main.selectbox, "Corruption")
    assert tuple(corruption.options) == ("none", *TEXT_CORRUPTIONS)
    clean = cells(app, "accuracy")
    corruption.set_value("word_deletion").run()
    widget(app.slider, "Severity").set_value(5).run()
    assert not app.exception and not app.error
    shifted = cells(app, "accuracy")
    assert all(shifted[side][0] < clean[side][0] for side in clean)
    assert any("word deletion, severity 5 (share of words 0.9)" in c.value for c in app.caption)


# ---------------------------------------------------------------------------------------------------
# A reliability bin linked to the latent maps

HIGHLIGHT = "Highlight a bin's test points"


def probs_and_labels(path):
    """(N, K) float64 test probabilities of a checkpoint, computed here as the page should, and (N,) labels."""
    import torch

    from explorer.core.checkpoints import load_checkpoint
    from explorer.core.data import load_dataset
    from explorer.measure.inference import predict

    model, meta = load_checkpoint(path)
    test = load_dataset(meta["dataset"], "test")
    logits, _ = predict(model, test.x)
    return torch.softmax(logits.double(), dim=1).numpy(), test.y.numpy()


def ring(figure: dict) -> dict:
    return next(t for t in figure["data"] if t.get("marker", {}).get("symbol") == "circle-open")


def test_choosing_a_bin_rings_exactly_its_test_examples_on_both_maps(start):
    import numpy as np

    from explorer.measure.calibration import bin_members, reliability_bins
    from figure_json import array, figure_json, texts

    app = start()
    highlight = widget(app.main.selectbox, HIGHLIGHT)
    assert highlight.value is None and highlight.options[0] == "none"
    assert len(app.get("plotly_chart")) == 5 + ENDING  # no maps before a bin is chosen
    probs, labels = probs_and_labels(app.session_state["model_b"])
    bins = reliability_bins(probs, labels, 15)
    b = int(np.flatnonzero(bins.count)[-2])  # a bin that holds some, not all, of the test examples
    members = bin_members(probs, 15, b)
    assert 0 < len(members) < len(labels)
    highlight.set_value(("Model B", b)).run()
    assert not app.exception and not app.error
    charts = app.get("plotly_chart")
    assert len(charts) == 7 + ENDING  # two diagrams, the two maps, two smoothed diagrams, the confidence histogram
    for index, side in ((2, "Model A"), (3, "Model B")):
        figure = figure_json(app, index)
        assert figure["layout"]["title"]["text"].startswith(side)
        assert "All 450 test points drawn" in texts(figure).replace("<br>", " ")  # customdata = test index
        rings = ring(figure)
        assert sorted(array(rings["customdata"])) == members.tolist()
        assert rings["name"].startswith(f"bin [{b / 15:.2f}, ") and f"{len(members):,} test points" in rings["name"]
        faded = [t for t in figure["data"] if "customdata" in t and t is not rings]  # the map's points
        assert faded and all(min(array(t["marker"]["opacity"])) < 0.2 for t in faded)
    # the chosen bar is outlined on its own diagram, and only there
    bar_b = figure_json(app, 1)["data"][0]
    widths = dict(zip((int(c[0]) for c in array(bar_b["customdata"])), array(bar_b["marker"]["line"]["width"])))
    assert widths[b] == 4 and sum(w == 4 for w in widths.values()) == 1
    assert 4 not in array(figure_json(app, 0)["data"][0]["marker"]["line"]["width"])
    caption = next(c.value for c in app.caption if c.value.startswith("Ringed on both maps"))
    assert f"the {len(members):,} test examples" in caption and "clean test latent" in caption
    assert f"{bins.accuracy[b]:.3f}" in caption and f"[{b / 15:.2f}, {(b + 1) / 15:.2f})" in caption


def test_a_bin_that_the_bins_slider_removes_is_reset_to_none(start):
    app = start()
    highlight = widget(app.main.selectbox, HIGHLIGHT)
    assert highlight.options[-1].startswith("Model B: confidence [0.93, 1.00], ")  # bin 14 of 15
    highlight.set_value(("Model B", 14)).run()
    assert not app.exception and len(app.get("plotly_chart")) == 7 + ENDING
    widget(app.slider, "Bins").set_value(5).run()  # bin 14 of 5 does not exist
    assert not app.exception and not app.error
    assert app.session_state["calibration_bin"] is None and len(app.get("plotly_chart")) == 5 + ENDING
    from explorer.app.views.calibration import bin_range

    options = widget(app.main.selectbox, HIGHLIGHT).options
    ranges = {bin_range(5, b) for b in range(5)}
    shown = [re.search(r"confidence (\[.*?[\])])", o).group(1) for o in options[1:]]
    assert options[0] == "none" and shown and set(shown) <= ranges


def test_a_bin_is_dropped_when_the_bins_slider_changes_what_it_covers(start):
    """Bin 4 of 15 is [0.27, 0.33); of 16 it is another range: the choice does not follow silently."""
    app = start()
    side_bin = ("Model A", 14)
    widget(app.main.selectbox, HIGHLIGHT).set_value(side_bin).run()
    assert app.session_state["calibration_bin"] == side_bin
    widget(app.slider, "Bins").set_value(16).run()  # bin 14 of 16 exists, but covers [0.88, 0.94)
    assert any(o.startswith("Model A: confidence [0.88, 0.94)") for o in widget(app.main.selectbox, HIGHLIGHT).options)
    assert not app.exception and app.session_state["calibration_bin"] is None


def test_a_bin_is_forgotten_when_a_model_changes(start):
    """Model A's bin 14 of another model A is other predictions: the choice does not follow silently."""
    app = start()
    widget(app.main.selectbox, HIGHLIGHT).set_value(("Model A", 14)).run()
    assert app.session_state["calibration_bin"] == ("Model A", 14)
    app.session_state["model_a"] = app.session_state["model_a"].replace("d2-softmax", "d2-lgm")
    app.run()
    assert not app.exception and not app.error
    assert app.session_state["calibration_bin"] is None and len(app.get("plotly_chart")) == 5 + ENDING


def test_a_bin_under_a_corruption_is_drawn_where_the_clean_latents_lie(start):
    app = start()
    widget(app.main.selectbox, "Corruption").set_value("gaussian_noise").run()
    widget(app.slider, "Severity").set_value(5).run()
    widget(app.main.selectbox, HIGHLIGHT).set_value(("Model A", 14)).run()
    assert not app.exception and not app.error and len(app.get("plotly_chart")) == 7 + ENDING
    caption = next(c.value for c in app.caption if c.value.startswith("Ringed on both maps"))
    assert "gaussian noise, severity 5" in caption


def test_a_bundle_without_latents_gets_a_line_instead_of_a_map(open_page, tmp_path):
    import numpy as np

    from explorer.core.bundles import save_bundle
    from explorer.core.checkpoints import SHIPPED_DIR

    probs, labels = probs_and_labels(SHIPPED_DIR / "digits-mlp-d2-softmax.pt")
    folder = tmp_path / "runs" / "shared"
    folder.mkdir(parents=True)
    save_bundle(folder / "logits.npz", logits=np.log(probs), labels=labels, dataset="digits")  # no latents
    app = open_page("calibration", state={"model_a": str(folder / "logits.npz"),
                                          "model_b": str(SHIPPED_DIR / "digits-mlp-d2-vc.pt")})
    widget(app.main.selectbox, HIGHLIGHT).set_value(("Model A", 14)).run()
    assert not app.exception and not app.error
    assert any("Model A (logits.npz) has no latents" in i.value for i in app.info)
    assert any("Model A: bundle logits (logits.npz) has no val_logits" in i.value for i in app.info)
    # both diagrams, B's map, the smoothed ones, the histogram, risk-coverage, B's prediction sets
    assert len(app.get("plotly_chart")) == 2 + 1 + 2 + 1 + 1 + 2


def test_a_click_on_any_bar_of_a_diagram_stores_its_bin(monkeypatch):
    from explorer.app.views import calibration as view

    assert view.clicked_bin([{"customdata": [3, 0.2, 0.27, 0.24, 5]}]) == 3  # the accuracy bar
    assert view.clicked_bin([{"x": 0.5}, {"customdata": [7]}]) == 7  # the diagonal carries none
    assert view.clicked_bin([{"customdata": 2.0}]) == 2 and view.clicked_bin([]) is None
    session = {}
    monkeypatch.setattr(view.st, "session_state", session)
    session["reliability_Model A"] = {"selection": {"points": [{"customdata": [12, 0.8, 0.87, 0.84, 30]}]}}
    view.on_bin_click("Model A")
    assert session["calibration_bin"] == ("Model A", 12)
    session["reliability_Model B"] = {"selection": {"points": []}}
    view.on_bin_click("Model B")  # B's diagram emptied: A's bin stays
    assert session["calibration_bin"] == ("Model A", 12)
    session["reliability_Model A"] = {"selection": {"points": [{"x": 0.5, "y": 0.5}]}}  # the diagonal
    view.on_bin_click("Model A")
    assert session["calibration_bin"] == ("Model A", 12)
    session["reliability_Model A"] = {"selection": {"points": []}}
    view.on_bin_click("Model A")
    assert session["calibration_bin"] is None


def test_abstention_draws_both_curves_with_bands_and_their_aurc_with_intervals(start):
    from explorer.app.views import calibration as view

    app = start()
    chart = next(json.loads(c.proto.spec) for c in app.get("plotly_chart")
                 if json.loads(c.proto.spec)["layout"]["title"]["text"] == "Risk–coverage")
    names = [trace.get("name") for trace in chart["data"]]
    assert sum(n.endswith(" band") for n in names) == 2
    assert sum("AURC" in n and not n.endswith(" band") for n in names) == 2
    table = next(d.value for d in app.dataframe if "AURC" in d.value.columns)
    assert [i[:7] for i in table.index] == ["Model A", "Model B", "A − B"]
    for model in ("Model A", "Model B"):
        row = next(r for i, r in table.iterrows() if i.startswith(model))
        for measure in ("AURC", "E-AURC"):
            value, low, high = map(float, CELL.match(row[measure]).groups()[:3])
            assert 0 <= low <= value <= high < 0.2
    value, low, high = map(float, CELL.match(table.loc["A − B", "AURC"]).groups()[:3])
    assert low <= value <= high
    assert any(c.value == view.ABSTENTION_CAPTION for c in app.caption)


def test_prediction_sets_follow_alpha_and_score(start):
    app = start()
    widget(app.main.selectbox, "α (miscoverage)").set_value(0.2).run()
    widget(app.main.selectbox, "Conformity score").set_value("lac").run()
    assert not app.exception and not app.error
    titles = figure_titles(app)
    assert "Coverage per class at α = 0.2" in titles and "Prediction set sizes" in titles
    bars = next(json.loads(c.proto.spec) for c in app.get("plotly_chart")
                if json.loads(c.proto.spec)["layout"]["title"]["text"].startswith("Coverage per class"))
    assert len(bars["data"]) == 2 and len(bars["data"][0]["x"]) == 10  # A and B, digits' ten classes
    assert bars["layout"]["shapes"][0]["y0"] == pytest.approx(0.8)
    for trace in bars["data"]:  # "Model A: softmax, d = 2: 0.812 ± 0.018, mean size 0.85"
        coverage, se = map(float, re.search(r": (\d\.\d+) ± (\d\.\d+), mean size", trace["name"]).groups())
        assert abs(coverage - 0.8) < 4 * se + 0.02
    assert any("LAC (1 − p_y)" in c.value and "α = 0.2" in c.value for c in app.caption)


def test_set_sizes_are_the_sizes_of_the_sets_calibrated_on_validation(fresh_app):
    import numpy as np
    from scipy.special import softmax

    from explorer.app import cache
    from explorer.core.checkpoints import SHIPPED_DIR, checkpoint_validation_split, load_checkpoint
    from explorer.core.data import load_dataset
    from explorer.measure.conformal import prediction_sets
    from explorer.measure.inference import predict

    path = SHIPPED_DIR / "digits-mlp-d2-vc.pt"
    sizes = cache.set_sizes(path, "digits", 0.1, "aps")
    model, meta = load_checkpoint(path)
    held_out = checkpoint_validation_split(model, meta, load_dataset("digits", "train"))
    test = load_dataset("digits", "test")
    cal_probs = softmax(predict(model, held_out.x)[0].double().numpy(), axis=1)
    probs = softmax(predict(model, test.x)[0].double().numpy(), axis=1)
    direct = prediction_sets(cal_probs, held_out.y.numpy(), probs, 0.1, "aps").sum(axis=1)
    assert sizes.shape == (450,) and not sizes.flags.writeable
    np.testing.assert_array_equal(sizes, direct)
    assert cache.set_sizes(path, "digits", 0.1, "aps") is sizes  # cached


def test_an_infinite_threshold_is_warned_of_and_empty_sets_are_placed(open_page, tmp_path):
    import numpy as np

    from explorer.core.bundles import save_bundle
    from explorer.core.checkpoints import SHIPPED_DIR

    probs, labels = probs_and_labels(SHIPPED_DIR / "digits-mlp-d2-softmax.pt")
    folder = tmp_path / "runs" / "shared"
    folder.mkdir(parents=True)
    # 20 validation examples: too few for α = 0.01 (⌈21 · 0.99⌉ = 21 > 20), so the threshold is +inf
    save_bundle(folder / "few.npz", logits=np.log(probs), labels=labels, val_logits=np.log(probs[:20]),
                val_labels=labels[:20], dataset="digits")
    app = open_page("calibration", state={"model_a": str(folder / "few.npz"),
                                          "model_b": str(SHIPPED_DIR / "digits-mlp-d2-vc.pt")})
    assert not app.exception and not app.error
    assert not app.warning
    caption = next(c.value for c in app.caption if c.value.startswith("Each model's split conformal"))
    assert "over the test examples" in caption and "most confident examples" in caption
    widget(app.main.selectbox, "α (miscoverage)").set_value(0.01).run()
    assert not app.exception and not app.error
    warned = [w.value for w in app.warning]
    assert len(warned) == 1 and warned[0].startswith("Model A: bundle few")
    assert "20 calibration examples are too few for alpha = 0.01" in warned[0]
