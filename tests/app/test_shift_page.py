"""AppTest of the Shift, low data and out-of-distribution page."""

import pytest

from explorer.app.views import shift as view
from explorer.measure.ood import METRICS, SCORES
from figure_json import figure_json, texts

pytestmark = pytest.mark.usefixtures("fresh_app")

PAGE = "shift"


def open_tab(app, label: str):
    app.session_state["shift_tab"] = label  # what clicking the tab does: only the open tab runs
    return app.run()


def test_shift_page_draws_curves_and_ood_histograms(open_page):
    app = open_page(PAGE)
    assert app.title[0].value == "Shift, low data and out-of-distribution"
    assert len(app.get("plotly_chart")) == 2  # the 2 default corruptions; the other tabs did not run
    assert "test split" in app.caption[0].value  # digits: all 450 test images
    open_tab(app, "Out-of-distribution")
    assert len(app.get("plotly_chart")) == 6  # 2 maps, then 2 models x 2 scores
    assert not app.exception and not app.error and len(app.dataframe) == 1


def test_the_ood_tab_tables_every_score_with_intervals_and_maps_the_ood_latents(open_page):
    app = open_tab(open_page(PAGE), "Out-of-distribution")
    table = app.dataframe[0].value
    assert list(table.columns) == list(METRICS.values()) and len(table) == 2 * len(SCORES)
    assert set(table.index.get_level_values("score")) == set(SCORES.values())
    value = table.iloc[0, 0]  # "0.851 [0.824, 0.878]": the value inside its interval
    mean, low, high = (float(v) for v in value.replace("[", "").replace("]", "").replace(",", "").split())
    assert low <= mean <= high
    assert any("1000 resamples, the two sets resampled independently" in c.value for c in app.caption)
    for index in (0, 1):  # digits d = 2: the latents themselves with the ellipses, noise as crosses
        figure = figure_json(app, index)
        ood = [t for t in figure["data"] if t.get("name", "").startswith("OOD: noise")]
        assert len(ood) == 1 and ood[0]["marker"]["symbol"] == "x-thin"
        assert "ellipses: 1σ and 2σ" in texts(figure).replace("<br>", " ")
    assert any(c.value.startswith("In-distribution → OOD: median |z|") for c in app.caption)
    app.multiselect[0].set_value(list(SCORES)).run()  # every score's histograms
    assert not app.exception and len(app.get("plotly_chart")) == 2 + 2 * len(SCORES)


def test_at_d16_the_ood_map_is_a_pca_of_latents_ood_latents_and_prior_samples(open_page):
    from explorer.core.checkpoints import SHIPPED_DIR

    state = {"model_a": str(SHIPPED_DIR / "digits-mlp-d16-vc.pt"), "model_b": str(SHIPPED_DIR / "digits-mlp-d16-softmax.pt")}
    app = open_tab(open_page(PAGE, state=state), "Out-of-distribution")
    assert not app.exception and not app.error
    for index in (0, 1):
        words = texts(figure_json(app, index)).replace("<br>", " ")  # the note is broken into lines
        assert "PCA (" in words and "PC 1" in words
        assert "fitted jointly on 900 latents" in words and "the 450 test latents and the 450 OOD latents" in words
        assert f"its prior samples: {view.PRIOR_PER_CLASS} of each class Gaussian" in words


def test_changing_the_measure_and_corruptions_redraws(open_page):
    app = open_page(PAGE)
    app.radio[0].set_value("ece").run()
    app.multiselect[0].set_value(["rotation", "gaussian_blur", "contrast"]).run()
    assert not app.exception and len(app.get("plotly_chart")) == 3


def test_low_data_training_on_digits_draws_both_measures(open_page, monkeypatch):
    # One fraction below 1, trained for as many steps as the checkpoint's own run (seconds a model).
    monkeypatch.setattr(view, "FRACTIONS", (0.5,))
    app = open_tab(open_page(PAGE), "Low data")
    assert not app.get("plotly_chart")
    assert "its own training configuration" in app.markdown[0].value and "seed 0" in app.markdown[0].value
    app.button[0].click().run()
    assert not app.exception and not app.error
    assert len(app.get("plotly_chart")) == 2 and "2 runs in" in app.caption[0].value


def test_mnist_shift_and_ood_use_a_sample_of_the_test_split(open_page, data_copy, monkeypatch):
    monkeypatch.setenv("EXPLORER_DATA_DIR", str(data_copy))
    app = open_page(PAGE, state={"dataset": "mnist"})
    assert not app.exception and not app.error and len(app.get("plotly_chart")) == 2
    assert f"{view.SHIFT_POINTS} test images drawn with seed 0" in app.caption[0].value
    open_tab(app, "Out-of-distribution")
    assert not app.exception and not app.error and len(app.get("plotly_chart")) == 6
    assert "fashion-mnist test images" in app.caption[0].value


def test_a_text_set_offers_the_text_corruptions_and_the_other_text_set_as_ood(open_page, data_copy, monkeypatch):
    from explorer.measure.corruptions import TEXT_CORRUPTIONS

    monkeypatch.setenv("EXPLORER_DATA_DIR", str(data_copy))
    app = open_page(PAGE, state={"dataset": "20newsgroups"})
    assert not app.exception and not app.error
    assert tuple(app.multiselect[0].options) == TEXT_CORRUPTIONS and len(app.get("plotly_chart")) == 2
    assert "documents" in app.caption[0].value and "word swap its curve stays flat" in app.caption[0].value
    open_tab(app, "Out-of-distribution")
    assert not app.exception and not app.error and len(app.get("plotly_chart")) == 6
    assert "reuters-r8 test documents, in each model's own vocabulary" in app.caption[0].value


def test_the_ood_table_note_names_each_models_gaussians_and_the_interval_level():
    from explorer.core.checkpoints import SHIPPED_DIR
    from explorer.measure.intervals import LEVEL

    models = {"Model A": SHIPPED_DIR / "digits-mlp-d2-softmax.pt", "Model B": SHIPPED_DIR / "digits-mlp-d2-vc.pt"}
    fitted = view.ood_table_note(1000, 0, models, "diagonal")
    assert "(Model A: fitted, diagonal Σ, on " in fitted and "; Model B: its learnt prior)" in fitted
    assert f"[{LEVEL:.0%} percentile bootstrap interval: 1000 resamples" in fitted
    identity = view.ood_table_note(1000, 0, models, "identity")  # the convention is not fitted to anything
    assert "(Model A: Σ = I, a convention; Model B: its learnt prior)" in identity and "fitted" not in identity


def test_the_ood_table_shows_every_row_without_scrolling():
    frame, height = view.ood_table([{"model": "A", "score": "s", "AUROC": "0.5"},
                                    {"model": "A", "score": "t", "AUROC": "0.6"}])
    assert list(frame.index.names) == ["model", "score"] and list(frame.columns) == ["AUROC"]
    assert height == 40 * 3
