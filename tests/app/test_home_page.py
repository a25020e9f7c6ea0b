"""AppTest of Home: its default models, a dataset chosen by link, and every page when a dataset is missing."""

from pathlib import Path

import pytest

from explorer.app import guide

pytestmark = pytest.mark.usefixtures("fresh_app")


def test_home_defaults_to_a_softmax_and_a_vc_model(open_page):
    app = open_page()
    assert app.title[0].value == "vc-explorer"
    model_a, model_b = app.sidebar.selectbox[1], app.sidebar.selectbox[2]
    assert "softmax" in model_a.value and "digits-mlp-d2" in model_a.value
    assert Path(model_b.value).stem == "digits-mlp-d2-vc"  # the project's VC, not the released one beside it
    assert not app.error


def test_a_dataset_in_the_link_is_selected(open_page, data_copy, monkeypatch):
    monkeypatch.setenv("EXPLORER_DATA_DIR", str(data_copy))
    app = open_page(query={"dataset": "mnist"})
    assert not app.exception and not app.error and app.sidebar.selectbox[0].value == "mnist"
    assert "mnist-cnn" in app.sidebar.selectbox[1].value


def test_every_page_says_so_when_a_models_dataset_is_missing(open_page, tmp_path, monkeypatch):
    """An MNIST model on a machine without the MNIST files: an error on the page, never a traceback."""
    import urllib.error

    import torchvision.datasets.utils as tv_utils

    from explorer.core.checkpoints import save_checkpoint
    from explorer.core.config import default_configs
    from explorer.core.models import build_model

    def offline(*args, **kwargs):
        raise urllib.error.URLError("network is unreachable")

    monkeypatch.setattr(tv_utils, "download_url", offline)
    monkeypatch.setenv("EXPLORER_DATA_DIR", str(tmp_path / "no-data"))
    for method in ("softmax", "vc"):
        model = build_model(default_configs("mnist", method)[0], seed=0)
        save_checkpoint(tmp_path / "runs" / "trained" / f"mnist-{method}.pt", model,
                        {"dataset": "mnist", "class_names": [str(k) for k in range(10)], "metrics": {},
                         "history": []})
    app = open_page()
    app.session_state["dataset"] = "mnist"
    app.run()
    assert not app.exception and app.error  # Home's figure needs the test split
    for page in (p for p in guide.PAGES if p.needs_models):
        app.switch_page(page.script_from_home)
        app.run()
        assert not app.exception, (page.name, app.exception)
        assert any("mnist" in e.value.lower() for e in app.error), page.name


def test_the_shipped_home_figure_is_the_live_one(fresh_app):
    """checkpoints/figures/home.json is what Home would draw live; if this fails, write it again with
    ``python -m explorer.app._home_figure``."""
    import json

    from explorer.app.views import home

    _, name, seed = home.SHIPPED_SELECTION
    shipped = home.shipped_figure(None, seed)
    assert shipped is not None, "no shipped figure, or its checkpoint changed"
    live = json.loads(home.live_figure(home.SHIPPED_DIR / name, seed).to_json())
    assert_same(shipped, live)


def assert_same(a, b, where="figure"):
    """Equal plotly JSON, numbers (and arrays sent as base64) to float32 rounding: the latents come out
    of a float32 network, and another machine's arithmetic differs in their last bits (a few 1e-6
    relative), as do the Gaussians fitted to them. An array is compared to 1e-5 of its largest value."""
    import numpy as np

    from figure_json import array

    if isinstance(a, dict) and "bdata" in a or isinstance(b, dict) and "bdata" in b:
        x, y = np.asarray(array(a), float), np.asarray(array(b), float)
        scale = float(np.abs(x).max()) if x.size else 0.0
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-5 * scale, err_msg=where)
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for key in a:
            assert_same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) or isinstance(b, float):
        assert a == pytest.approx(b, rel=1e-5), where
    else:
        assert a == b, where


def test_a_first_visit_draws_the_shipped_figure_without_computing_it(open_page, monkeypatch):
    from explorer.app.views import home

    def refuse(*args, **kwargs):
        raise AssertionError("Home computed its figure")

    monkeypatch.setattr(home, "live_figure", refuse)
    app = open_page()
    assert not app.exception and not app.error
    (chart,) = app.get("plotly_chart")
    assert "Model A: softmax, d = 2" in chart.proto.spec


def test_any_other_selection_is_drawn_live(open_page, monkeypatch):
    from explorer.app.views import home

    drawn = []
    live = home.live_figure
    monkeypatch.setattr(home, "live_figure", lambda *args: drawn.append(args) or live(*args))
    app = open_page(state={"seed": 3})
    assert drawn and drawn[-1][1] == 3 and not app.error
    assert home.shipped_figure(None, 0, dataset="mnist") is None and home.shipped_figure(None, 3) is None
    assert home.shipped_figure(home.SHIPPED_DIR / "digits-mlp-d16-softmax.pt", 0) is None


@pytest.mark.parametrize("query", [{"dataset": "no such set"}, {"model_a": "digits-mlp-d2-softmax"}])
def test_home_draws_its_map_when_the_sidebar_chooses_otherwise_than_guessed(open_page, query):
    """A first visit whose link the sidebar resolves to the default model A: the map replaces the placeholder."""
    app = open_page(query=query)
    (chart,) = app.get("plotly_chart")
    assert "Model A: softmax, d = 2" in chart.proto.spec and "Loading" not in chart.proto.spec


def test_the_shipped_selection_is_what_a_first_visit_selects(tmp_path):
    """SHIPPED_SELECTION restates the sidebar's default (the first dataset, then default_entry): if the two
    drift apart, a first visit loses its shipped map."""
    from explorer.app.views import home
    from explorer.core.checkpoints import default_entry, list_checkpoints
    from explorer.core.data import DATASETS

    entries, _ = list_checkpoints(user=tmp_path)
    first = next(name for name in DATASETS if any(e.dataset == name for e in entries))
    dataset, name, seed = home.SHIPPED_SELECTION
    assert (first, seed) == (dataset, 0)
    assert default_entry([e for e in entries if e.dataset == first], "softmax").path.name == name
