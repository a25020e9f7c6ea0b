"""AppTest of the Shift, low data and out-of-distribution page."""

import pytest

from explorer.app.views import shift as view

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
    assert len(app.get("plotly_chart")) == 4  # 2 models x 2 scores
    assert not app.exception and not app.error and len(app.dataframe) == 1


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
    assert not app.exception and not app.error and len(app.get("plotly_chart")) == 4
    assert "fashion-mnist test images" in app.caption[0].value


def test_a_text_set_offers_the_text_corruptions_and_the_other_text_set_as_ood(open_page, data_copy, monkeypatch):
    from explorer.measure.corruptions import TEXT_CORRUPTIONS

    monkeypatch.setenv("EXPLORER_DATA_DIR", str(data_copy))
    app = open_page(PAGE, state={"dataset": "20newsgroups"})
    assert not app.exception and not app.error
    assert tuple(app.multiselect[0].options) == TEXT_CORRUPTIONS and len(app.get("plotly_chart")) == 2
    assert "documents" in app.caption[0].value and "word swap its curve stays flat" in app.caption[0].value
    open_tab(app, "Out-of-distribution")
    assert not app.exception and not app.error and len(app.get("plotly_chart")) == 4
    assert "reuters-r8 test documents, in each model's own vocabulary" in app.caption[0].value
