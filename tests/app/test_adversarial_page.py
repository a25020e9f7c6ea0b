"""AppTest runs of the adversarial page: both attacks render, its controls re-render, robust accuracy
draws its chart, and d = 16 models get the PCA-placed latent path."""

import base64
import json

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from explorer.app.views import adversarial as adversarial_view
from explorer.core.checkpoints import SHIPPED_DIR

CHARTS = 6  # per model: images and probabilities; then the two latent paths

pytestmark = pytest.mark.usefixtures("fresh_app")


@pytest.fixture
def start(open_page):
    """Opens the adversarial page, optionally with models A and B set to these shipped checkpoints."""
    def start_(models: tuple[str, str] | None = None) -> AppTest:
        state = {key: str(SHIPPED_DIR / name) for key, name in zip(("model_a", "model_b"), models)} if models \
            else None
        app = open_page("adversarial", state=state)
        assert app.title[0].value == "Adversarial examples"
        return app

    return start_


def widget(elements, label: str):
    return next(w for w in elements if w.label.startswith(label))


def charts(app: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in app.get("plotly_chart")]


def values(array) -> list:
    """A trace's array from the figure JSON, which plotly may write as typed base64 ("bdata")."""
    if isinstance(array, dict):
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"]).tolist()
    return list(array)


def trace_names(figure: dict) -> list[str]:
    return [trace.get("name") for trace in figure["data"]]


@pytest.mark.parametrize("attack", ["pgd", "fgsm"])
def test_page_renders_both_models_with_each_attack(start, attack):
    app = start()
    widget(app.radio, "Attack").set_value(attack).run()
    assert not app.exception and not app.error
    figures = charts(app)
    assert len(figures) == CHARTS
    path_a = figures[-2]
    assert {"attack path", "clean latent", "adversarial latent"} <= set(trace_names(path_a))
    steps = 1 if attack == "fgsm" else 10
    assert len(values(next(t for t in path_a["data"] if t["name"] == "attack path")["x"])) == steps + 1
    assert "seed 0" in app.caption[0].value


def test_changing_eps_and_index_rerenders(start):
    app = start()
    widget(app.radio, "Example").set_value("index").run()
    widget(app.number_input, "Index").set_value(7).run()
    widget(app.slider, "ε").set_value(0.25).run()
    assert not app.exception and not app.error
    assert app.caption[0].value.startswith("Test example #7 ")
    assert len(charts(app)) == CHARTS
    assert any(annotation["text"] == "perturbation ×2" for annotation in charts(app)[0]["layout"]["annotations"])


def test_a_selected_index_becomes_the_default_example(start):
    app = start()
    app.session_state["selected_index"] = 12
    app.run()
    assert not app.exception and not app.error
    assert app.caption[0].value.startswith("Test example #12 ") and "Latent space page" in app.caption[0].value


def test_the_attack_widgets_show_the_configs_help(start):
    from explorer.core.config import AttackConfig, help_of

    app = start()
    assert widget(app.radio, "Attack").help == help_of(AttackConfig, "attack")
    assert widget(app.slider, "ε").help == help_of(AttackConfig, "eps")
    steps = widget(app.number_input, "PGD steps").help
    assert help_of(AttackConfig, "steps") in steps and help_of(AttackConfig, "alpha") in steps


def test_robust_accuracy_button_draws_the_chart(start):
    app = start()
    widget(app.text_input, "ε values").set_value("0, 0.2").run()
    widget(app.number_input, "Test images").set_value(40).run()
    assert len(charts(app)) == CHARTS  # nothing computed before the button
    app.button[0].click().run()
    assert not app.exception and not app.error
    figures = charts(app)
    assert len(figures) == CHARTS + 1
    curves = {trace["name"]: values(trace["y"]) for trace in figures[-1]["data"]}
    assert set(curves) == {"Model A", "Model B"}
    for accuracies in curves.values():  # at ε = 0 the clean accuracy, which an attack cannot raise
        assert len(accuracies) == 2 and 0 <= accuracies[1] <= accuracies[0] <= 1
    widget(app.slider, "ε").set_value(0.05).run()  # the example's ε is no part of the request
    assert len(charts(app)) == CHARTS + 1


def test_bad_eps_values_show_an_error_not_a_traceback(start):
    app = start()
    widget(app.text_input, "ε values").set_value("0, 2").run()
    assert not app.exception
    assert "[0, 1]" in app.error[0].value


def test_d16_models_draw_the_path_through_a_pca(start):
    app = start(("digits-mlp-d16-softmax.pt", "digits-mlp-d16-vc.pt"))
    assert not app.exception and not app.error
    figures = charts(app)
    assert len(figures) == CHARTS
    for path_figure in figures[-2:]:
        assert path_figure["layout"]["xaxis"]["title"]["text"] == "PC 1"
        assert any("PCA" in annotation["text"] for annotation in path_figure["layout"]["annotations"])


def test_parse_eps_sorts_and_checks():
    assert adversarial_view.parse_eps("0.1, 0 ,0.1; 0.3") == (0.0, 0.1, 0.3)
    for bad in ("", "x", "-0.1", "1.5"):
        with pytest.raises(ValueError):
            adversarial_view.parse_eps(bad)


def test_random_example_follows_the_seed():
    draws = [adversarial_view.example_index("random", 450, seed, 0) for seed in (0, 0, 1)]
    assert draws[0] == draws[1] and all(0 <= i < 450 for i in draws)
    assert adversarial_view.example_index("index", 450, 0, 449) == 449
    with pytest.raises(ValueError, match="450"):
        adversarial_view.example_index("index", 450, 0, 450)
    assert isinstance(draws[2], int)


def test_a_text_set_gets_one_line_and_no_attack(open_page, data_copy, monkeypatch):
    monkeypatch.setenv("EXPLORER_DATA_DIR", str(data_copy))
    app = open_page("adversarial", state={"dataset": "20newsgroups"})
    assert not app.exception and not app.error and not app.get("plotly_chart")
    assert app.info[0].value == adversarial_view.TEXT_NOTE
