"""AppTest of the Latent space page (explorer/app/views/latent_space.py): maps, options, clicks, UMAP."""

import re
import shutil

import pytest

from explorer.core.checkpoints import SHIPPED_DIR
from figure_json import array, figure_json, keys, texts

pytestmark = pytest.mark.usefixtures("fresh_app")


def test_latent_page_draws_both_models_and_the_chi2_check(open_page):
    app = open_page("latent_space")
    assert app.title[0].value == "Latent space"
    assert len(app.get("plotly_chart")) == 6  # two latent maps, two χ² and two norm histograms
    assert len(app.metric) == 2 and not app.error


@pytest.mark.parametrize("color_by", ["prediction", "confidence", "correct", "miscalibration", "gaussian gap",
                                      "set size"])
def test_latent_page_colour_options(open_page, color_by):
    app = open_page("latent_space")
    app.radio[0].set_value(color_by).run()
    assert not app.exception and len(app.get("plotly_chart")) == 6


def test_latent_page_zooms_to_the_gaussians_and_says_how_far_the_latents_lie(open_page):
    app = open_page("latent_space")  # model A: softmax, d = 2
    figure = figure_json(app)
    note = texts(figure).replace("<br>", " ")
    assert "σ from its class mean" in note and "(fitted, diagonal Σ, on 136 validation latents)" in note
    fitted = float(re.search(r"median ([0-9.]+) σ from its class mean", note).group(1))
    assert "range" not in keys(figure)
    next(r for r in app.radio if r.label == "Axes when d = 2").set_value("the Gaussians").run()
    assert not app.exception and "range" in keys(figure_json(app))
    # the sidebar's Σ = I convention: the same latents, read against Gaussians of arbitrary scale
    next(s for s in app.sidebar.selectbox if s.label == "Softmax's Gaussians").set_value("identity").run()
    note = texts(figure_json(app)).replace("<br>", " ")
    assert not app.exception and "(Σ = I, a convention)" in note
    assert float(re.search(r"median ([0-9.]+) σ from its class mean", note).group(1)) > 10 * fitted


def test_the_projection_widgets_show_the_configs_help(open_page):
    from explorer.core.config import ProjectionConfig, help_of

    app = open_page("latent_space")
    helps = {w.label: w.help for w in [*app.radio, *app.slider]}
    assert helps["n_neighbors"] == help_of(ProjectionConfig, "n_neighbors")
    assert helps["min_dist"] == help_of(ProjectionConfig, "min_dist")
    assert helps["Projection when d > 2"].startswith(help_of(ProjectionConfig, "method"))


def test_umap_runs_in_a_worker_process_and_its_maps_are_cached(open_page, tmp_path):
    import os

    from explorer.app import cache
    from explorer.core.config import ProjectionConfig

    # A trained (not shipped) d = 16 model: its UMAP map is fitted by the worker, then kept on disk.
    mine = tmp_path / "runs" / "trained" / "mine.pt"
    mine.parent.mkdir(parents=True)
    shutil.copy(SHIPPED_DIR / "digits-mlp-d16-vc.pt", mine)
    app = open_page("latent_space")
    app.session_state["model_a"] = str(mine)
    app.run()
    next(r for r in app.radio if r.label == "Projection when d > 2").set_value("umap").run()
    assert not app.exception and not app.error and "UMAP" in texts(figure_json(app))
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 1
    assert cache.umap_pool().apply(os.getpid) != os.getpid()
    pca = cache.fit_projection_elsewhere([[0.0, 1.0, 2.0], [1.0, 0.0, 3.0], [2.0, 2.0, 0.0]],
                                         ProjectionConfig(method="pca"))
    assert pca.method == "pca" and pca.mean is not None  # PCA stays in this process, with its map


def test_latent_page_projects_d16_models_with_pca(open_page):
    # The model selectboxes format paths as labels, which AppTest cannot map back: set the key.
    app = open_page("latent_space", state={"model_a": str(SHIPPED_DIR / "digits-mlp-d16-softmax.pt")})
    assert "digits-mlp-d16-softmax" in app.sidebar.selectbox[1].value
    assert not app.exception and not app.error
    assert len(app.get("plotly_chart")) == 6


def test_a_clicked_example_is_shown_with_both_models_probabilities(open_page):
    app = open_page("latent_space")
    app.session_state["selected_index"] = 17  # what a click on a point stores
    app.run()
    assert not app.exception and not app.error
    assert len(app.get("plotly_chart")) == 6 + 2  # the example's image and its probability bars
    assert any("#17" in c.value for c in app.caption)


def test_a_clicked_example_is_forgotten_when_the_dataset_changes(open_page, data_copy, monkeypatch):
    from explorer.app import state
    from explorer.app.guide import page

    monkeypatch.setenv("EXPLORER_DATA_DIR", str(data_copy))
    app = open_page("latent_space", state={"selected_index": 41})  # digits' test example #41, clicked
    assert any("#41" in c.value for c in app.caption)
    app.sidebar.selectbox(key=state.DATASET).set_value("mnist").run()  # mnist's #41 is another example
    assert not app.exception and not app.error, [e.value for e in app.error]
    assert "mnist-cnn" in app.session_state[state.MODEL_A]
    assert not any(s.value == "The clicked example" for s in app.subheader)
    assert not any("#41" in c.value for c in app.caption)
    app.switch_page(page("adversarial").script_from_home)
    app.run()
    assert not app.exception and not app.error
    assert "Latent space page" not in app.caption[0].value and "seed 0" in app.caption[0].value
    app.sidebar.selectbox(key=state.DATASET).set_value("digits").run()  # forgotten, not hidden
    assert app.session_state[state.SELECTED_INDEX] is None
    assert "Latent space page" not in app.caption[0].value


def test_clicked_index_maps_a_chart_point_back_to_the_test_split():
    from types import SimpleNamespace

    import numpy as np

    from explorer.app.views.latent_space import clicked_index

    keep = np.array([4, 9, 30])
    event = SimpleNamespace(selection=SimpleNamespace(points=[{"customdata": [2]}]))
    assert clicked_index(event, keep) == 30
    assert clicked_index(SimpleNamespace(selection=SimpleNamespace(points=[{"x": 1.0}])), keep) is None
    assert clicked_index(None, keep) is None


def test_a_student_t_model_is_checked_against_its_own_law(open_page, tmp_path):
    from conftest import quick_configs
    from explorer.jobs.runs import train_and_save

    path = tmp_path / "runs" / "trained" / "digits-t.pt"
    # the default moment KL is for Gaussians: a Student-t prior needs a discriminator
    train_and_save("digits", *quick_configs("vc", prior="student_t", nu=5, kl_estimator="quadratic"), out=path)
    app = open_page("latent_space", state={"model_a": str(path)})
    assert not app.error
    assert "Student-t (ν = 5" in texts(figure_json(app, 0))  # the d = 2 map's note
    titles = [figure_json(app, i)["layout"]["title"]["text"] for i in range(len(app.get("plotly_chart")))]
    assert any("r² against 2·F(2, 5)" in t for t in titles) and any("r² against χ²(2)" in t for t in titles)


def test_a_clicked_document_shows_its_first_words_and_both_models_probabilities(open_page, data_copy, monkeypatch):
    from explorer.app import cache
    from explorer.app.views.latent_space import DOCUMENT_WORDS

    monkeypatch.setenv("EXPLORER_DATA_DIR", str(data_copy))
    app = open_page("latent_space", state={"dataset": "20newsgroups", "selected_index": 5})
    assert not app.exception and not app.error
    assert "20newsgroups-bag-d16-softmax" in app.sidebar.selectbox[1].value
    words = cache.test_split("20newsgroups").texts[5].split()
    quoted = next(m.value for m in app.markdown if m.value.startswith("> "))
    assert quoted.startswith("> " + " ".join(words[:DOCUMENT_WORDS]))
    assert len(app.get("plotly_chart")) == 2 + 1 + 4  # two maps, the probability bars, the χ² check
    assert any("#5" in c.value and "letters only" in c.value for c in app.caption)


def test_the_page_draws_as_many_points_as_asked_and_says_how_many_of_how_many(open_page, data_copy, monkeypatch):
    monkeypatch.setenv("EXPLORER_DATA_DIR", str(data_copy))
    app = open_page("latent_space", state={"dataset": "20newsgroups"})  # 7 528 test documents
    figure = figure_json(app)
    assert "2,000 of the 7,528 test points drawn (a random sample, seed 0)" in texts(figure).replace("<br>", " ")
    assert {t["type"] for t in figure["data"]} == {"scatter"}  # SVG below WEBGL_FROM points
    next(s for s in app.selectbox if s.label == "Points drawn (at most)").set_value(10_000).run()
    assert not app.exception and not app.error
    figure = figure_json(app)
    assert "All 7,528 test points drawn" in texts(figure).replace("<br>", " ")
    drawn = [t for t in figure["data"] if t.get("mode") == "markers" and t.get("name") != "prior samples"]
    assert {t["type"] for t in drawn} == {"scattergl"}
    assert sorted(i for t in drawn for i in array(t["customdata"])) == list(range(7528))


def test_more_points_than_markers_are_drawn_as_a_density_image_under_a_sample(open_page, tmp_path):
    import numpy as np

    from explorer.core.bundles import save_bundle
    from explorer.measure.latent_map import MAX_MARKERS

    n = MAX_MARKERS + 500
    rng = np.random.default_rng(0)
    latents, labels = rng.normal(size=(n, 2)), rng.integers(0, 3, n)
    folder = tmp_path / "runs" / "shared"
    folder.mkdir(parents=True)
    weight, bias = rng.normal(size=(3, 2)), np.zeros(3)  # the last layer: its Gaussians are drawn too
    save_bundle(folder / "many.npz", logits=latents @ weight.T + bias, labels=labels, latents=latents,
                weight=weight, bias=bias)
    app = open_page("latent_space", query={"dataset": "own data"})
    next(s for s in app.selectbox if s.label == "Points drawn (at most)").select_index(3).run()  # "all"
    assert not app.exception and not app.error, [e.value for e in app.error]
    figure = figure_json(app)
    note = figure["layout"]["annotations"][0]["text"].replace("<br>", " ")
    assert f"All {n:,} test points drawn" in note, note
    assert f"{MAX_MARKERS:,} of them, a random sample, are markers" in note
    image = figure["layout"]["images"][0]["source"]
    assert image.startswith("data:image/png;base64,")
    shown = sorted(i for t in figure["data"] if t.get("mode") == "markers" for i in array(t["customdata"]))
    assert len(shown) == MAX_MARKERS and len(set(shown)) == MAX_MARKERS
    # The image takes the colour of each point's local gap, and greys the abstentions, as the markers do.
    next(r for r in app.radio if r.label == "Colour by").set_value("miscalibration").run()
    next(s for s in app.slider if s.label == "Coverage (%)").set_value(90).run()
    next(s for s in app.selectbox if s.label == "Points drawn (at most)").select_index(3).run()  # AppTest forgot it
    assert not app.exception and not app.error, [e.value for e in app.error]
    figure = figure_json(app)
    note = figure["layout"]["annotations"][0]["text"].replace("<br>", " ")
    assert f"All {n:,} test points drawn" in note and "mean colour of the local miscalibration values" in note, note
    assert "local miscalibration" in note and f"2,000 are a random sample of the {n:,}" in note
    assert f"abstains on the {n - int(np.ceil(0.9 * n)):,} least confident" in note
    assert figure["layout"]["images"][0]["source"] != image, note


def test_the_density_image_draws_a_gap_not_told_apart_from_0_as_0(tmp_path, monkeypatch):
    import numpy as np
    import plotly.graph_objects as go

    from explorer.app import cache
    from explorer.app.views import latent_space
    from explorer.core.bundles import save_bundle
    from explorer.core.config import ProjectionConfig
    from explorer.measure.latent_map import MAX_MARKERS

    n = MAX_MARKERS + 500
    rng = np.random.default_rng(0)
    latents = rng.normal(size=(n, 2))
    logits = 3 * latents @ rng.normal(size=(3, 2)).T
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    labels = (rng.random((n, 1)) > probs.cumsum(1)).sum(1)  # drawn from the model's own probabilities
    labels[latents[:, 0] > 1] = 0  # and one region where it is wrong more often than it says
    path = tmp_path / "many.npz"
    save_bundle(path, logits=logits, labels=labels, latents=latents)
    drawn = {}
    monkeypatch.setattr(latent_space, "latent_scatter", lambda *args, **kwargs: drawn.update(kwargs) or go.Figure())
    latent_space.latent_figure(path, "miscalibration", ProjectionConfig(), 0, "A", points=None)
    local = cache.local_gap(path, "own data")
    faded = ~local.significant
    assert 0 < faded.sum() < n  # both kinds are drawn
    np.testing.assert_array_equal(drawn["density_values"], np.where(faded, 0.0, local.gap))  # every point, in order
    assert "0 (white) for a faded one" in drawn["note"]


def test_local_miscalibration_is_a_diverging_colour_with_its_rule_in_the_note(open_page):
    app = open_page("latent_space")  # the shipped d = 2 pair
    next(r for r in app.radio if r.label == "Colour by").set_value("miscalibration").run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    figure = figure_json(app)
    note = texts(figure).replace("<br>", " ")
    assert "Colour: local miscalibration" in note and "100 nearest of" in note and "no labels" in note
    coloured = next(t for t in figure["data"] if "colorscale" in t.get("marker", {}))
    marker = coloured["marker"]
    assert marker["cmin"] == pytest.approx(-marker["cmax"]) and marker["cmax"] > 0  # symmetric about 0
    assert marker["colorscale"][2][1] == "#F7F7F7"  # white at the middle: 0


def test_set_size_colours_each_point_by_its_conformal_set_calibrated_on_validation(open_page):
    import numpy as np

    from explorer.app import cache

    app = open_page("latent_space")  # the shipped digits d = 2 pair: every test point drawn
    next(r for r in app.radio if r.label == "Colour by").set_value("set size").run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    figure = figure_json(app)
    coloured = next(t for t in figure["data"] if "colorscale" in t.get("marker", {}))
    sizes = cache.set_sizes(SHIPPED_DIR / "digits-mlp-d2-softmax.pt", "digits", 0.1, "aps")
    np.testing.assert_array_equal(array(coloured["marker"]["color"]), sizes[array(coloured["customdata"])])
    assert "conformal prediction set holds at 90% coverage (APS" in texts(figure).replace("<br>", " ")


def test_the_gaussian_gap_of_a_bundle_without_a_last_layer_is_refused_in_words(open_page, tmp_path):
    import numpy as np

    from explorer.core.bundles import save_bundle

    rng = np.random.default_rng(0)
    folder = tmp_path / "runs" / "shared"
    folder.mkdir(parents=True)
    labels = rng.integers(0, 3, 300)
    latents = rng.normal(size=(300, 2)) + labels[:, None]
    weight = rng.normal(size=(3, 2))
    save_bundle(folder / "with.npz", logits=latents @ weight.T, labels=labels, latents=latents, weight=weight,
                bias=np.zeros(3))
    save_bundle(folder / "without.npz", logits=latents @ weight.T, labels=labels, latents=latents)
    app = open_page("latent_space", query={"dataset": "own data"},
                    state={"model_a": str(folder / "with.npz"), "model_b": str(folder / "without.npz")})
    chi2 = [e.value for e in app.error]  # the χ² check of model B says why it has none
    assert len(chi2) == 1 and "no class Gaussians to check them against" in chi2[0]
    colour = next(r for r in app.radio if r.label == "Colour by")
    colour.set_value("miscalibration").run()
    assert not app.exception and [e.value for e in app.error] == chi2  # both have latents
    colour.set_value("gaussian gap").run()
    assert not app.exception
    assert [e.value for e in app.error] == ["Model B: without.npz has no latents with the weight and bias of the "
                                            "layer they enter: no class Gaussians to compare its confidence with",
                                            *chi2]
    assert "confidence gap to the Gaussians" in texts(figure_json(app))


@pytest.mark.parametrize("color_by", ["class", "miscalibration"])
def test_the_coverage_slider_greys_out_the_abstentions_and_gives_the_answered_accuracy(open_page, color_by):
    import numpy as np

    from explorer.measure.selective import answered

    app = open_page("latent_space")
    next(r for r in app.radio if r.label == "Colour by").set_value(color_by).run()
    next(s for s in app.slider if s.label == "Coverage (%)").set_value(90).run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    figure = figure_json(app)
    probs, labels = probs_and_labels(app.session_state["model_a"])  # the default pair's softmax model
    answers = answered(probs.max(1), 0.9)
    grey = next(t for t in figure["data"] if t.get("name", "").startswith("abstained"))
    assert grey["name"] == f"abstained ({(~answers).sum():,} drawn)"  # all 360 are drawn
    assert sorted(array(grey["customdata"])) == np.flatnonzero(~answers).tolist()  # every test point is drawn
    note = texts(figure).replace("<br>", " ")
    right = probs.argmax(1) == labels
    assert f"abstains on the {(~answers).sum():,} least confident" in note
    assert f"accuracy on the {answers.sum():,} answered {right[answers].mean():.3f}" in note


# ---------------------------------------------------------------------------------------------------
# A region drawn on a map, measured on both models

def probs_and_labels(path):
    """(N, K) float64 clean test probabilities of a checkpoint, computed here as the page should, and (N,) labels."""
    import torch

    from explorer.core.checkpoints import load_checkpoint
    from explorer.core.data import load_dataset
    from explorer.measure.inference import predict

    model, meta = load_checkpoint(path)
    test = load_dataset(meta["dataset"], "test")
    logits, _ = predict(model, test.x)
    return torch.softmax(logits.double(), dim=1).numpy(), test.y.numpy()


def test_a_region_shows_both_models_reliability_accuracy_and_ece_on_exactly_its_examples(open_page):
    from explorer.measure.calibration import accuracy, expected_calibration_error

    app = open_page("latent_space")
    assert not any(s.value == "The selected region" for s in app.subheader)
    indices = list(range(5, 450, 4))  # what a box on model A's map stores (test-split indices)
    app.session_state["latent_region"] = {**drawn_on(app), "map": "Model A", "how": "box", "indices": indices}
    app.run()
    assert not app.exception and not app.error
    assert any(s.value == "The selected region" for s in app.subheader)
    titles = [figure_json(app, i)["layout"]["title"]["text"] for i in range(len(app.get("plotly_chart")))]
    region = [i for i, t in enumerate(titles) if "on the region" in t]
    assert len(region) == 2 and len(titles) == 6 + 2
    metrics = {(m.label, i // 3): m for i, m in enumerate(app.metric[:6])}
    for side, key in ((0, "model_a"), (1, "model_b")):
        probs, labels = probs_and_labels(app.session_state[key])
        part, y = probs[indices], labels[indices]
        assert metrics["points", side].value == f"{len(indices):,}"
        assert metrics["accuracy", side].value == f"{accuracy(part, y):.3f}"
        assert metrics["ECE", side].value == f"{expected_calibration_error(part, y, 15):.3f}"
        assert metrics["accuracy", side].proto.delta == f"{accuracy(part, y) - accuracy(probs, labels):+.3f}"
        counts = figure_json(app, region[side])["data"][-1]  # the diagram's samples-per-bin bars
        assert sum(array(counts["y"])) == len(indices)
        assert f"{len(indices):,} points" in titles[region[side]]
    caption = next(c.value for c in app.caption if c.value.startswith(f"{len(indices)} of the 450"))
    assert "box drawn on Model A's map" in caption
    clear = next(b for b in app.button if b.label == "Clear the selection")
    clear.click().run()
    assert not app.exception and app.session_state["latent_region"] is None
    assert app.session_state["latent_map_clears"] == 1  # new chart keys: the box leaves the charts
    assert "latents_Model A:1" in app.session_state and len(app.get("plotly_chart")) == 6


def test_a_region_of_one_point_or_none_still_works_and_a_stale_one_is_ignored(open_page):
    app = open_page("latent_space")
    app.session_state["latent_region"] = {**drawn_on(app), "map": "Model B", "how": "lasso", "indices": [17]}
    app.run()
    assert not app.exception and not app.error and len(app.get("plotly_chart")) == 6 + 2
    assert [m.value for m in app.metric if m.label == "points"] == ["1", "1"]
    app.session_state["latent_region"] = {**drawn_on(app), "map": "Model B", "how": "lasso", "indices": []}
    app.run()
    assert not app.exception and not app.error
    assert sum("the region holds no test points" in i.value for i in app.info) == 2
    app.session_state["latent_region"] = {**drawn_on(app), "map": "Model A", "how": "box", "indices": [10_000]}  # another dataset's
    app.run()
    assert not app.exception and not app.error and len(app.get("plotly_chart")) == 6
    assert not any(s.value == "The selected region" for s in app.subheader)


def test_a_region_is_not_measured_on_a_bundle_whose_rows_are_other_examples(open_page, tmp_path):
    import numpy as np

    from explorer.core.bundles import save_bundle

    rng = np.random.default_rng(0)
    folder = tmp_path / "runs" / "shared"
    folder.mkdir(parents=True)
    for name, seed in (("first.npz", 1), ("second.npz", 2)):  # two bundles of other data, other labels
        labels = np.random.default_rng(seed).integers(0, 3, 200)
        latents, weight, bias = rng.normal(size=(200, 2)) + labels[:, None], rng.normal(size=(3, 2)), np.zeros(3)
        save_bundle(folder / name, logits=latents @ weight.T + bias, labels=labels, latents=latents, weight=weight,
                    bias=bias)
    app = open_page("latent_space", query={"dataset": "own data"},
                    state={"model_a": str(folder / "first.npz"), "model_b": str(folder / "second.npz")})
    app.session_state["latent_region"] = {**drawn_on(app), "map": "Model A", "how": "box", "indices": list(range(50))}
    app.run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    assert [m.value for m in app.metric if m.label == "points"] == ["50"]  # model A alone
    assert any("Model B" in i.value and "other examples" in i.value for i in app.info)


def test_a_box_or_lasso_selection_is_a_region_and_a_click_is_an_example(monkeypatch):
    import numpy as np

    from explorer.app import state
    from explorer.app.views import latent_space as views

    keep = np.array([4, 9, 30, 41])
    points = [{"customdata": [2]}, {"customdata": 0}, {"x": 1.0}, {"customdata": [2]}]  # {"x"}: a prior sample
    box = {"points": points, "box": [{"x": [0, 1], "y": [0, 1]}], "lasso": []}
    assert views.region_of(box, keep, "Model B") == {"map": "Model B", "how": "box", "indices": [4, 30]}
    lasso = {"points": [], "box": [], "lasso": [{"x": [0, 1, 1], "y": [0, 0, 1]}]}
    assert views.region_of(lasso, keep, "Model A") == {"map": "Model A", "how": "lasso", "indices": []}
    assert views.region_of({"points": points[:1], "box": [], "lasso": []}, keep, "Model A") is None  # a click
    assert views.region_of(None, keep, "Model A") is None

    session = {"selected_index": 3}
    monkeypatch.setattr(views.st, "session_state", session)
    session[state.latent_map_key("Model A")] = {"selection": box}
    views.on_map_select("Model A", keep)
    assert session["latent_region"]["indices"] == [4, 30] and session["selected_index"] == 3
    session[state.latent_map_key("Model A")] = {"selection": {"points": [{"customdata": [3]}], "box": [], "lasso": []}}
    views.on_map_select("Model A", keep)
    assert session["selected_index"] == 41 and session["latent_region"]["indices"] == [4, 30]
    views.on_map_select("Model A", keep, ("a.pt", "b.pt"), "digits")
    assert state.chosen_example("digits") == 41 and state.chosen_example("mnist") is None
    state.clear_region()
    assert session["latent_region"] is None and state.latent_map_key("Model A") == "latents_Model A:1"


def drawn_on(app) -> dict:
    """The part of a stored region that ties it to the models it was drawn on: the current A and B."""
    return {"models": (app.session_state["model_a"], app.session_state["model_b"])}


def test_a_region_drawn_on_other_models_is_not_measured_on_these(open_page):
    app = open_page("latent_space")
    app.session_state["latent_region"] = {**drawn_on(app), "map": "Model A", "how": "box", "indices": list(range(40))}
    app.run()
    assert any(s.value == "The selected region" for s in app.subheader)
    app.session_state["model_b"] = app.session_state["model_b"].replace("d2-vc", "d2-lgm")
    app.run()
    assert not app.exception and not any(s.value == "The selected region" for s in app.subheader)
