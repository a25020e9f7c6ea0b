"""A real browser visits every page: Debian's Chromium, driven by playwright, against a server this
test starts on a free localhost port, with the digits, the MNIST and the 20 Newsgroups models. Each
page must draw its main element and show no error (on a text set the Adversarial page draws, instead
of figures, the one line that says pixel attacks do not apply); the screenshots land in ``artifacts/screenshots/`` for a person to
look at.
"""

import json
from pathlib import Path

import pytest

from explorer.app import guide
from explorer.app.server import CHROMIUM, ERRORS, IDLE, running_app

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "artifacts" / "screenshots"
# url path -> the element that shows the page has drawn its content (Train: its form, nothing is drawn
# before a run is started)
PAGES = {page.name: page.main for page in (guide.HOME, *guide.PAGES)}
TEXT_MAIN = {"adversarial": '[data-testid="stAlertContentInfo"]'}

playwright = pytest.importorskip("playwright.sync_api")
if not Path(CHROMIUM).exists():
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory, data_copy):
    runs = tmp_path_factory.mktemp("runs")
    with running_app({"EXPLORER_RUNS_DIR": str(runs), "EXPLORER_CACHE_DIR": str(runs / "cache"),
                      "EXPLORER_DATA_DIR": str(data_copy)}) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield chromium
        chromium.close()


@pytest.mark.parametrize("dataset", ["digits", "mnist", "20newsgroups"])
@pytest.mark.parametrize("path", list(PAGES))
def test_page_draws_its_content_without_errors(server, browser, path, dataset):
    page = browser.new_page(viewport={"width": 1600, "height": 1200})
    page.goto(f"{server}/{path}?dataset={dataset}")
    main = TEXT_MAIN.get(path, PAGES[path]) if dataset == "20newsgroups" else PAGES[path]
    page.wait_for_selector(main, timeout=120_000)
    page.wait_for_function(IDLE, timeout=120_000)  # the page's run has ended: every element is drawn
    page.wait_for_timeout(500)  # let the figures finish drawing
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"{dataset}-{path or 'home'}.png", full_page=True)
    assert page.locator(ERRORS).count() == 0, page.locator(ERRORS).all_inner_texts()
    page.close()


def test_an_uploaded_bundle_is_drawn_beside_a_project_model(server, browser, tmp_path):
    """A user's bundle goes in through the sidebar's upload and becomes model A on every page."""
    from explorer.core.checkpoints import SHIPPED_DIR, load_checkpoint
    from explorer.core.data import DATASETS, load_dataset
    from explorer.measure.inference import export_bundle

    model, _ = load_checkpoint(SHIPPED_DIR / "digits-mlp-d16-softmax.pt")
    test = load_dataset("digits", "test")
    bundle = tmp_path / "theirs.npz"
    export_bundle(model, test.x, test.y, bundle, class_names=DATASETS["digits"].class_names, dataset="digits")
    page = browser.new_page(viewport={"width": 1600, "height": 1200})
    page.goto(f"{server}/?dataset=digits")
    page.wait_for_function(IDLE, timeout=120_000)
    page.set_input_files('section[data-testid="stSidebar"] input[type="file"]', str(bundle))
    page.get_by_text("Added theirs.npz as model A").wait_for(timeout=60_000)
    for title in ("Latent space", "Calibration"):
        page.locator('[data-testid="stSidebarNav"] a', has_text=title).first.click()
        page.wait_for_selector(PAGES[guide.PAGES[[p.title for p in guide.PAGES].index(title)].name],
                               timeout=120_000)
        page.wait_for_timeout(300)
        page.wait_for_function(IDLE, timeout=120_000)
        page.get_by_text("bundle theirs, d = 16").first.wait_for(timeout=120_000)  # the bundle is model A
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SHOTS / f"bundle-{title.replace(' ', '_').lower()}.png", full_page=True)
        assert page.locator(ERRORS).count() == 0, page.locator(ERRORS).all_inner_texts()
    page.close()


def _settled(page) -> None:
    """Wait until the app's run has ended and the figures have drawn."""
    page.wait_for_timeout(300)
    page.wait_for_function(IDLE, timeout=120_000)
    page.wait_for_timeout(700)


CHARTS = '[data-testid="stPlotlyChart"]'


def test_linked_a_clicked_reliability_bin_is_ringed_on_both_latent_maps(server, browser):
    """A mouse click on a bar of model B's reliability diagram rings that bin's test examples on both maps."""
    page = browser.new_page(viewport={"width": 1600, "height": 2400})  # tall: the maps in the screenshot
    page.goto(f"{server}/calibration?dataset=digits")
    page.wait_for_selector(guide.PLOT, timeout=120_000)
    _settled(page)
    # two diagrams, two smoothed ones, the confidence histogram, the risk-coverage curves, coverage and set sizes
    assert page.locator(CHARTS).count() == 8
    diagram = page.locator(CHARTS).nth(1)  # model B's
    bars = diagram.locator(".barlayer .trace").first.locator(".point path")  # the accuracy bars, by bin
    # Three bins below the top one: a handful of examples (the top bin holds most of the test split,
    # and ringing nearly every point would show nothing).
    bar = bars.nth(bars.count() - 3).bounding_box()
    page.mouse.click(bar["x"] + bar["width"] / 2, bar["y"] + bar["height"] / 2)
    page.get_by_text("Ringed on both maps").wait_for(timeout=120_000)
    _settled(page)
    assert page.locator(CHARTS).count() == 10  # the two maps are drawn under the diagrams
    legends = page.locator(CHARTS).nth(2).locator(".legend").text_content() + \
        page.locator(CHARTS).nth(3).locator(".legend").text_content()
    assert legends.count("test points") == 2  # both maps' ring traces, named after the bin
    assert page.get_by_text("Model B's predictions put in the bin").count() == 1  # the clicked diagram's bin
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / "linked-calibration.png", full_page=True)
    assert page.locator(ERRORS).count() == 0, page.locator(ERRORS).all_inner_texts()
    page.close()


def test_linked_a_box_dragged_on_a_map_shows_the_region_reliability_of_both_models(server, browser):
    """Box Select from the first map's toolbar, a box dragged with the mouse: the region's section appears."""
    page = browser.new_page(viewport={"width": 1600, "height": 2400})  # tall: the region in the screenshot
    page.goto(f"{server}/latent_space?dataset=digits")
    page.wait_for_selector(guide.PLOT, timeout=120_000)
    _settled(page)
    first = page.locator(CHARTS).first
    area = first.locator(".nsewdrag").first.bounding_box()  # the plot area, where a drag selects
    page.mouse.move(area["x"] + area["width"] / 2, area["y"] + area["height"] / 2)  # shows the toolbar
    first.locator('[data-title="Box Select"]').click()
    # the middle of softmax's map: a few classes' worth of points, not all of them
    x0, y0 = area["x"] + 0.3 * area["width"], area["y"] + 0.3 * area["height"]
    x1, y1 = area["x"] + 0.6 * area["width"], area["y"] + 0.6 * area["height"]
    page.mouse.move(x0, y0)
    page.mouse.down()
    for step in range(1, 11):  # plotly draws the box from mouse moves, not from a jump
        page.mouse.move(x0 + (x1 - x0) * step / 10, y0 + (y1 - y0) * step / 10)
    page.mouse.up()
    page.get_by_text("The selected region").wait_for(timeout=120_000)
    _settled(page)
    titles = page.locator(".js-plotly-plot .gtitle").all_text_contents()  # SVG text: no inner text
    assert sum("on the region" in t for t in titles) == 2, titles  # both models' reliability diagrams
    assert page.get_by_text("drawn on Model A's map").count() == 1
    assert "Model A's region" in page.locator(CHARTS).nth(1).locator(".legend").text_content()  # ringed on B
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / "linked-region.png", full_page=True)
    assert page.locator(ERRORS).count() == 0, page.locator(ERRORS).all_inner_texts()
    page.get_by_role("button", name="Clear the selection").click()
    page.get_by_text("The selected region").wait_for(state="detached", timeout=120_000)
    _settled(page)
    assert page.locator(ERRORS).count() == 0, page.locator(ERRORS).all_inner_texts()
    page.close()


def test_a_teacher_clicks_through_the_lesson_and_opens_a_full_page(server, browser):
    """Six real clicks on "Next step", each step drawn without errors (screenshots lesson-step-N.png),
    then the last step's link opens the Shift page on the lesson's models (the sidebar had others)."""
    page = browser.new_page(viewport={"width": 1600, "height": 1200})
    # the sidebar on other models than the lesson's: its link must choose the lesson's pair
    page.goto(f"{server}/lesson?dataset=digits&model_a=digits-mlp-d16-softmax&model_b=digits-mlp-d16-lgm")
    headings = []
    for number in range(1, 7):
        heading = page.locator("h3", has_text=f"{number}. ")
        heading.first.wait_for(timeout=120_000)
        page.wait_for_selector(guide.PLOT, timeout=120_000)
        page.wait_for_function(IDLE, timeout=120_000)
        page.wait_for_timeout(500)
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SHOTS / f"lesson-step-{number}.png", full_page=True)
        assert page.locator(ERRORS).count() == 0, page.locator(ERRORS).all_inner_texts()
        headings.append(heading.first.inner_text())
        if number == 1:  # the replay plays in the browser: the first class's latents move
            before = page.evaluate("() => JSON.stringify(document.querySelector('.js-plotly-plot').data[0].x)")
            page.locator(".js-plotly-plot .updatemenu-button").first.click()
            page.wait_for_function(f"() => JSON.stringify(document.querySelector('.js-plotly-plot').data[0].x)"
                                   f" !== {json.dumps(before)}", timeout=30_000)
            page.wait_for_timeout(3000)
            page.screenshot(path=SHOTS / "lesson-step-1-replay.png", full_page=True)
        if number < 6:
            page.get_by_role("button", name="Next step →").click()
    assert len(set(headings)) == 6
    page.get_by_role("link", name="Open the Shift, low data and OOD page on these models").click()
    page.locator("h1", has_text="Shift, low data and out-of-distribution").wait_for(timeout=120_000)
    page.wait_for_function(IDLE, timeout=120_000)
    page.wait_for_selector(guide.PLOT, timeout=120_000)
    names = page.evaluate("() => document.querySelector('.js-plotly-plot').data.map(t => t.name)")
    assert names == ["A: softmax, d = 2", "B: vc, d = 2"], names  # the lesson's pair, not the sidebar's d = 16
    assert "model_a" not in page.url
    page.close()
