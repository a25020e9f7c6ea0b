"""A real browser visits every page: Debian's Chromium, driven by playwright, against a server this
test starts on a free localhost port, with the digits, the MNIST and the 20 Newsgroups models. Each
page must draw its main element and show no error (on a text set the Adversarial page draws, instead
of figures, the one line that says pixel attacks do not apply); the screenshots land in ``artifacts/screenshots/`` for a person to
look at.
"""

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
