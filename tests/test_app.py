"""AppTest runs of the app: every page renders without an exception, and its main controls work."""

import shutil
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from conftest import APP_TIMEOUT, HOME
from explorer.registry import SHIPPED_DIR



pytestmark = pytest.mark.usefixtures("fresh_app")


def start(page: str | None = None) -> AppTest:
    app = AppTest.from_file(str(HOME), default_timeout=APP_TIMEOUT)
    app.run()
    if page is not None:
        app.switch_page(page)
        app.run()
    assert not app.exception, app.exception
    return app


def test_home_defaults_to_a_softmax_and_a_vc_model():
    app = start()
    assert app.title[0].value == "vc-explorer"
    model_a, model_b = app.sidebar.selectbox[1], app.sidebar.selectbox[2]
    assert "softmax" in model_a.value and "digits-mlp-d2" in model_a.value
    assert "vc" in Path(model_b.value).stem and "digits-mlp-d2" in model_b.value
    assert not app.error


def test_latent_page_draws_both_models_and_the_chi2_check():
    app = start("../pages/latent_space.py")
    assert app.title[0].value == "Latent space"
    assert len(app.get("plotly_chart")) == 6  # two latent maps, two χ² and two norm histograms
    assert len(app.metric) == 2 and not app.error


@pytest.mark.parametrize("color_by", ["prediction", "confidence", "correct"])
def test_latent_page_colour_options(color_by):
    app = start("../pages/latent_space.py")
    app.radio[0].set_value(color_by).run()
    assert not app.exception and len(app.get("plotly_chart")) == 6


def test_latent_page_zooms_to_the_gaussians_and_says_how_far_the_latents_lie():
    app = start("../pages/latent_space.py")  # model A: softmax, d = 2
    spec = app.get("plotly_chart")[0].proto.spec
    assert "median" in spec and "σ from its class mean" in spec and '"range"' not in spec
    next(r for r in app.radio if r.label == "Axes when d = 2").set_value("the Gaussians").run()
    assert not app.exception and '"range"' in app.get("plotly_chart")[0].proto.spec


def test_a_dataset_in_the_link_is_selected(data_copy, monkeypatch):
    monkeypatch.setenv("EXPLORER_DATA_DIR", str(data_copy))
    app = AppTest.from_file(str(HOME), default_timeout=APP_TIMEOUT)
    app.query_params["dataset"] = "mnist"
    app.run()
    assert not app.exception and not app.error and app.sidebar.selectbox[0].value == "mnist"
    assert "mnist-cnn" in app.sidebar.selectbox[1].value


def test_umap_runs_in_a_worker_process_and_its_maps_are_cached(tmp_path):
    import os

    from explorer.app import cache
    from explorer.projection import ProjectionConfig

    # A trained (not shipped) d = 16 model: its UMAP map is fitted by the worker, then kept on disk.
    mine = tmp_path / "runs" / "trained" / "mine.pt"
    mine.parent.mkdir(parents=True)
    shutil.copy(SHIPPED_DIR / "digits-mlp-d16-vc.pt", mine)
    app = start("../pages/latent_space.py")
    app.session_state["model_a"] = str(mine)
    app.run()
    next(r for r in app.radio if r.label == "Projection when d > 2").set_value("umap").run()
    assert not app.exception and not app.error and "UMAP" in app.get("plotly_chart")[0].proto.spec
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 1
    assert cache.umap_worker().apply(os.getpid) != os.getpid()
    pca = cache.fit_projection_elsewhere([[0.0, 1.0, 2.0], [1.0, 0.0, 3.0], [2.0, 2.0, 0.0]],
                                         ProjectionConfig(method="pca"))
    assert pca.method == "pca" and pca.mean is not None  # PCA stays in this process, with its map


def test_latent_page_projects_d16_models_with_pca():
    app = start()
    # The model selectboxes format paths as labels, which AppTest cannot map back: set the key.
    app.session_state["model_a"] = str(Path(app.sidebar.selectbox[1].value).with_name("digits-mlp-d16-softmax.pt"))
    app.run()
    assert "digits-mlp-d16-softmax" in app.sidebar.selectbox[1].value
    app.switch_page("../pages/latent_space.py")
    app.run()
    assert not app.exception and not app.error
    assert len(app.get("plotly_chart")) == 6


def test_an_unreadable_user_checkpoint_is_skipped_with_its_reason(tmp_path):
    app = start()
    bad = tmp_path / "runs" / "uploaded"
    bad.mkdir(parents=True)
    (bad / "broken.pt").write_bytes(b"not a checkpoint")
    st.cache_data.clear()
    app.run()
    assert not app.exception
    assert any("broken.pt" in c.value for c in app.sidebar.caption)


def test_a_clicked_example_is_shown_with_both_models_probabilities():
    app = start("../pages/latent_space.py")
    app.session_state["selected_index"] = 17  # what a click on a point stores
    app.run()
    assert not app.exception and not app.error
    assert len(app.get("plotly_chart")) == 6 + 2  # the example's image and its probability bars
    assert any("#17" in c.value for c in app.caption)


def test_clicked_index_maps_a_chart_point_back_to_the_test_split():
    from types import SimpleNamespace

    import numpy as np

    from explorer.app.views import clicked_index

    keep = np.array([4, 9, 30])
    event = SimpleNamespace(selection=SimpleNamespace(points=[{"customdata": [2]}]))
    assert clicked_index(event, keep) == 30
    assert clicked_index(SimpleNamespace(selection=SimpleNamespace(points=[{"x": 1.0}])), keep) is None
    assert clicked_index(None, keep) is None


def test_upload_keeps_a_valid_checkpoint_and_refuses_anything_else(tmp_path):
    from types import SimpleNamespace

    from explorer.app.sidebar import _save_upload
    from explorer.registry import SHIPPED_DIR

    good = (SHIPPED_DIR / "digits-mlp-d2-vc.pt").read_bytes()
    _save_upload(SimpleNamespace(name="mine.pt", getvalue=lambda: good))
    _save_upload(SimpleNamespace(name="junk.pt", getvalue=lambda: b"not a checkpoint"))
    _save_upload(SimpleNamespace(name="cut.pt", getvalue=lambda: good[: len(good) // 2]))
    folder = tmp_path / "runs" / "uploaded"
    assert sorted(p.name for p in folder.iterdir()) == ["mine.pt"]  # no refused file, no temporary file


def test_every_page_says_so_when_a_models_dataset_is_missing(tmp_path, monkeypatch):
    """An MNIST model on a machine without the MNIST files: an error on the page, never a traceback."""
    import urllib.error

    import torchvision.datasets.utils as tv_utils

    from explorer.checkpoints import save_checkpoint
    from explorer.config import default_configs
    from explorer.models import build_model

    def offline(*args, **kwargs):
        raise urllib.error.URLError("network is unreachable")

    monkeypatch.setattr(tv_utils, "download_url", offline)
    monkeypatch.setenv("EXPLORER_DATA_DIR", str(tmp_path / "no-data"))
    for method in ("softmax", "vc"):
        model = build_model(default_configs("mnist", method)[0], seed=0)
        save_checkpoint(tmp_path / "runs" / "trained" / f"mnist-{method}.pt", model,
                        {"dataset": "mnist", "class_names": [str(k) for k in range(10)], "metrics": {},
                         "history": []})
    app = start()
    app.session_state["dataset"] = "mnist"
    app.run()
    assert not app.exception and app.error  # Home's figure needs the test split
    for page in ("latent_space", "calibration", "adversarial", "shift"):
        app.switch_page(f"../pages/{page}.py")
        app.run()
        assert not app.exception, (page, app.exception)
        assert any("mnist" in e.value.lower() for e in app.error), page
