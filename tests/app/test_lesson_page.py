"""AppTest of the Lesson page (explorer/app/views/lesson/): six steps, numbers that are measured, the
link to the full page, the fallback to digits, and the lesson bundle."""

import io
import json
import re
import zipfile

import numpy as np
import pytest

from explorer.core.checkpoints import SHIPPED_DIR

pytestmark = pytest.mark.usefixtures("fresh_app")


def button(app, label):
    return next(b for b in app.button if b.label == label)


def step_text(app) -> str:
    return "\n".join(m.value for m in app.markdown if "**" in m.value)


def test_the_lesson_walks_six_steps_each_with_text_figures_and_a_link(open_page):
    app = open_page("lesson")
    assert app.title[0].value.startswith("Lesson") and not app.error
    assert "digits-mlp-d2-softmax" in app.caption[0].value and "digits-mlp-d2-vc`" in app.caption[0].value
    headings, links = [], []
    for number in range(1, 7):
        assert not app.exception and not app.error, (number, app.exception, app.error)
        headings.append(app.subheader[0].value)
        assert headings[-1].startswith(f"{number}. ")
        assert len(app.get("plotly_chart")) >= 2 and len(step_text(app)) > 200
        link = app.get("page_link")[0].proto
        links.append(link.page)
        assert "model_a=digits-mlp-d2-softmax" in link.query_string and "model_b=digits-mlp-d2-vc" in link.query_string
        if number < 6:
            button(app, "Next step →").click().run()
    assert button(app, "Next step →").disabled and len(set(headings)) == 6
    assert [link.rsplit("/", 1)[-1] for link in links] == [
        "train", "latent_space", "latent_space", "calibration", "adversarial", "shift"]
    button(app, "← Previous step").click().run()
    assert app.subheader[0].value == headings[4]


def test_the_texts_numbers_are_the_librarys(open_page):
    """Step 2's distances, and step 4's ECEs and the paired bootstrap of their difference, measured again
    with the library alone."""
    from explorer.core.checkpoints import load_checkpoint
    from explorer.core.data import load_dataset
    from explorer.measure.calibration import calibration_report
    from explorer.measure.inference import predict
    from explorer.measure.intervals import bootstrap_difference
    from explorer.core.checkpoints import checkpoint_validation_split
    from explorer.core.implied import fit_implied
    from explorer.measure.latents import fitted_reference, latent_fit

    model, meta = load_checkpoint(SHIPPED_DIR / "digits-mlp-d2-softmax.pt")
    test = load_dataset("digits", "test")
    val = checkpoint_validation_split(model, meta)
    fit = latent_fit(model, test.x, test.y, fitted_reference(model, val.x, val.y))  # fitted to validation latents
    convention = latent_fit(model, test.x, test.y, fit_implied(model.head, None, None, "identity"))
    logits, _ = predict(model, test.x)
    ece = calibration_report(np.exp(logits.double().log_softmax(1).numpy()), test.y.numpy())["ece"]
    logits_b, _ = predict(load_checkpoint(SHIPPED_DIR / "digits-mlp-d2-vc.pt")[0], test.x)

    app = open_page("lesson", state={"lesson_step": 1})
    text = step_text(app)
    assert f"**{np.median(np.sqrt(fit.r2)):.3g} σ**" in text and f"**{fit.mean_ks:.2f}**" in text
    assert f"median {np.median(np.sqrt(convention.r2)):.3g} σ from their class means" in text
    assert f"under about {fit.mean_ks_critical():.2f}" in text and f"median r² {fit.median_ratio:.2g} times" in text
    assert f"maximum likelihood to {len(val.y):,} validation latents" in text
    app.session_state["lesson_step"] = 3
    app.run()
    probs, probs_b = (np.exp(x.double().log_softmax(1).numpy()) for x in (logits, logits_b))
    difference = bootstrap_difference(probs, probs_b, test.y.numpy(), "ece", seed=0)
    assert f"ECE of model A: **{ece:.4f}**" in step_text(app)
    assert (f"ECE A − ECE B = {difference.mean:+.4f}, 95% interval [{difference.low:+.4f}, {difference.high:+.4f}]"
            in step_text(app))
    table = app.dataframe[0].value
    assert len(table) == 4 and np.isclose(table["ECE"].iloc[0], ece)


def test_step_six_quotes_the_results_report_with_its_losses(open_page):
    from explorer.core._io import SHIPPED_RESULTS
    from explorer.jobs.results import Results
    from explorer.jobs.report import verdict_rows

    app = open_page("lesson", state={"lesson_step": 5})
    results = Results.load(SHIPPED_RESULTS)
    losses = [row[0] for row in verdict_rows(results, results.suite_for("digits"))
              if row[-1] == "loses" and "corruption" in row[0]]
    assert losses and all(what in step_text(app) for what in losses)
    assert "verdict for VC" in app.dataframe[0].value.columns


def test_the_lesson_falls_back_to_digits_on_a_dataset_without_d2_models(open_page, data_copy, monkeypatch):
    monkeypatch.setenv("EXPLORER_DATA_DIR", str(data_copy))
    app = open_page("lesson", query={"dataset": "20newsgroups"})
    assert not app.error and "so the lesson uses digits" in app.caption[0].value


def test_a_link_from_the_lesson_opens_a_page_on_its_models(open_page):
    """The sidebar follows ``model_a``/``model_b`` in the address, then drops them."""
    app = open_page(query={"dataset": "digits", "model_a": "digits-mlp-d16-softmax", "model_b": "digits-mlp-d16-lgm"})
    assert app.session_state["model_a"].endswith("digits-mlp-d16-softmax.pt")
    assert app.session_state["model_b"].endswith("digits-mlp-d16-lgm.pt")
    assert "model_a" not in app.query_params and "model_b" not in app.query_params
    app.run()  # the selectboxes rule again
    assert app.session_state["model_b"].endswith("digits-mlp-d16-lgm.pt")


def test_the_lesson_bundle_is_prepared_on_a_click_and_a_failure_is_a_message(open_page, monkeypatch):
    app = open_page("lesson")
    prepare = next(b for b in app.button if b.label.startswith("Prepare the lesson bundle"))
    assert not app.get("download_button")
    prepare.click().run()
    assert not app.exception and not app.error and len(app.get("download_button")) == 1

    from explorer.app.views.lesson import bundle
    from explorer.core.errors import DatasetUnavailableError

    def unavailable(lesson):
        raise DatasetUnavailableError("digits' files are missing")

    monkeypatch.setattr(bundle, "steps", unavailable)  # what bundle() measures every step with
    app.session_state["lesson_bundle"] = None
    next(b for b in app.button if b.label.startswith("Prepare the lesson bundle")).click().run()
    assert not app.exception and not app.get("download_button")
    assert [e.value for e in app.error] == ["The lesson bundle could not be made: digits' files are missing"]


def test_the_lesson_bundle_holds_metrics_offline_figures_and_a_summary(open_page):
    from explorer.app.views.lesson.bundle import bundle
    from explorer.app.views.lesson.choice import lesson_for

    open_page()
    lesson = lesson_for("digits", 0)
    zipped = zipfile.ZipFile(io.BytesIO(bundle(lesson)))
    names = zipped.namelist()
    assert {"metrics.csv", "summary.md"} <= set(names)
    figures = [n for n in names if n.startswith("figures/") and n.endswith(".html")]
    assert len(figures) == 14  # 2 + 2 + 2 + 4 + 2 + 2
    metrics = zipped.read("metrics.csv").decode().splitlines()
    assert len(metrics) == 5 and "ECE" in metrics[0] and "mean KS (χ² check)" in metrics[0]
    summary = zipped.read("summary.md").decode()
    assert summary.count("\n## ") == 7 and "digits-mlp-d2-vc.pt" in summary
    html = zipped.read(figures[0]).decode()
    assert not re.search(r"<script[^>]+src=", html)  # plotly.js is inside: it opens offline
    spec = re.search(r"Plotly\.newPlot\(\s*\"[^\"]+\",\s*(\[.*?\]),\s*\{", html, re.S)
    assert spec and json.loads(spec.group(1))  # the figure's data is there too


def test_the_lesson_keeps_its_step_while_another_page_is_open(open_page):
    from explorer.app import guide

    app = open_page("lesson", state={"lesson_step": 3})
    app.switch_page(guide.page("calibration").script_from_home).run()
    app.switch_page(guide.page("lesson").script_from_home).run()
    assert not app.exception and app.subheader[0].value.startswith("4. ")


@pytest.fixture
def lesson(open_page):
    from explorer.app.views.lesson.choice import lesson_for

    open_page()
    return lesson_for("digits", 0)


@pytest.mark.parametrize("ratio, beyond, said, unsaid", [
    (6.0, 10, ["spread wider", "in 10 of the 10 classes"], ["no class's"]),
    (1.0, 0, ["spread about as", "no class's r² differs"], ["spread wider", "of the 10 classes"]),
    (0.2, 3, ["gather inside", "in 3 of the 10 classes"], ["spread about"])])
def test_step_two_says_what_the_fitted_gaussians_show(lesson, monkeypatch, ratio, beyond, said, unsaid):
    """The verdict follows the spread (median r² ratio) and how many classes' KS exceed their critical
    value at their size, not fixed KS thresholds; where softmax latents fit, it says so."""
    from explorer.app.views.lesson import steps as view

    measured = view.fit_numbers
    monkeypatch.setattr(view, "fit_numbers", lambda *a: {**measured(*a), "ratio": ratio, "beyond": beyond,
                                                         "classes": 10})
    text = view.mismatch(lesson).text
    assert all(s in text for s in said) and not any(s in text for s in unsaid)


@pytest.mark.parametrize("low, high, said", [
    (-0.02, -0.005, "model A (softmax) has the lower ECE"), (0.005, 0.02, "model B (VC) has the lower ECE"),
    (-0.01, 0.02, "not told apart")])
def test_step_four_names_a_lower_ece_only_where_the_paired_interval_excludes_zero(lesson, monkeypatch, low, high,
                                                                                  said):
    from explorer.app.views.lesson import steps as view
    from explorer.measure.intervals import Interval

    monkeypatch.setattr(view, "bootstrap_difference", lambda *a, **k: Interval((low + high) / 2, low, high, 0.95))
    text = view.reliability(lesson).text
    assert text.count(said) == 2 and text.count("has the lower ECE") == 2 * ("lower" in said)  # before and after


def test_step_five_says_the_path_leaves_its_class_only_when_a_prediction_flipped(lesson, monkeypatch):
    import dataclasses

    from explorer.app.views import adversarial
    from explorer.app.views.lesson import steps as view

    attack = adversarial.attack_example
    monkeypatch.setattr(adversarial, "attack_example",
                        lambda *a: dataclasses.replace(r := attack(*a), probs_adv=r.probs, path=r.path[:1]))
    text = view.attack(lesson).text
    assert "(held)" in text and "(flipped)" not in text and "walks it out" not in text
    assert "stays in its class's region" in text


def test_the_bundles_metrics_are_step_fours_table_beside_the_chi2_check(lesson):
    """The bundle asks for its table by name (bundle.metrics_table), not by looking for a step's page."""
    import pandas as pd

    from explorer.app.views.lesson import bundle, steps

    shown = steps.reliability(lesson).table
    metrics = bundle.metrics_table(lesson)
    pd.testing.assert_frame_equal(metrics[list(shown.columns)], shown)
    assert list(metrics.columns) == [*shown.columns, *bundle.FIT_COLUMNS.values()]
    for row, (_, path) in zip((0, 2), lesson.models):  # two rows a model: before and after scaling
        fit = steps.fit_numbers(path, lesson.dataset)
        assert metrics["mean KS (χ² check)"].iloc[row: row + 2].tolist() == [fit["mean_ks"]] * 2
        assert metrics["median distance (σ)"].iloc[row: row + 2].tolist() == [fit["median_sigma"]] * 2


def test_step_six_says_where_the_ood_latents_land_and_why_log_p_z_ranks_them_so(lesson, monkeypatch):
    import dataclasses

    from explorer.app.views.lesson import steps as view
    from explorer.measure import ood

    text = view.shift(lesson).text
    assert "Out of distribution (uniform-noise images (seed 0))" in text
    assert text.count("log p(z) ranks the OOD latents") == 2 and "For Model A (softmax, d = 2), log p(z)" in text
    measured = ood.latent_placement
    # below chance with the OOD latents nearer a mean: the cause is said; above chance: no cause
    monkeypatch.setattr(view, "latent_placement", lambda *a: dataclasses.replace(
        m := measured(*a), outside={**m.outside, "r2_nearest": m.inside["r2_nearest"] / 2},
        auroc={**m.auroc, "log_density": 0.2}))
    text = view.ood_text(lesson)
    assert text.count("above the test latents (AUROC 0.200): they land nearer a class mean") == 2
    monkeypatch.setattr(view, "latent_placement", lambda *a: dataclasses.replace(
        m := measured(*a), outside={**m.outside, "r2_nearest": m.inside["r2_nearest"] / 2},
        auroc={**m.auroc, "log_density": 0.7}))
    text = view.ood_text(lesson)
    assert text.count("below the test latents (AUROC 0.700).") == 2 and "nearer" not in text


def test_step_six_stands_without_the_ood_sets_files(lesson, monkeypatch):
    from explorer.app import cache
    from explorer.app.views.lesson import steps as view
    from explorer.core.errors import DatasetUnavailableError

    def missing(*args):
        raise DatasetUnavailableError("dataset 'fashion-mnist' not found")

    monkeypatch.setattr(cache, "ood_latents", missing)
    text = view.shift(lesson).text
    assert "Out of distribution: the uniform-noise images (seed 0) are unavailable here" in text
    assert "severity 5" in text
