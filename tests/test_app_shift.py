"""AppTest of the Shift, low data and out-of-distribution page."""

import pytest

from test_app import start

pytestmark = pytest.mark.usefixtures("fresh_app")

PAGE = "../pages/shift.py"


def test_shift_page_draws_curves_and_ood_histograms():
    app = start(PAGE)
    assert app.title[0].value == "Shift, low data and out-of-distribution"
    # 4 default corruptions, then 2 models x 2 scores of OOD histograms
    assert len(app.get("plotly_chart")) == 4 + 4
    assert not app.error and len(app.dataframe) == 1


def test_changing_the_measure_and_corruptions_redraws():
    app = start(PAGE)
    app.radio[0].set_value("ece").run()
    app.multiselect[0].set_value(["rotation"]).run()
    assert not app.exception and len(app.get("plotly_chart")) == 1 + 4


def test_low_data_training_on_digits_draws_both_measures():
    app = start(PAGE)
    app.button[0].click().run()
    assert not app.exception and not app.error
    assert len(app.get("plotly_chart")) == 4 + 2 + 4
