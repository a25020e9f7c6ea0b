"""Page speed of the app in a real browser: time to content on every page, and redraw after a display option.

Starts ``streamlit run explorer/Home.py`` on a free port (fresh projection cache, UMAP warm-up on, as
a user gets it). First the fresh server's first visit: seconds from opening Home to its text, and to
its figure (the latent map, not the placeholder drawn while the server loads torch). Then for each
dataset, a fresh browser profile opens Home (``cold open``: it also fetches
and starts Streamlit's front end), then goes to every page through the sidebar's navigation, twice:
the first visit computes what the page needs (nothing of it is cached yet), the second finds it
cached; last, a new tab of the same browser opens Home (``new tab``: a new session, the front end
cached by the browser). For each visit it prints

- ``content``: seconds from the click to the page's main element (a figure; the form on Train);
- ``done``: seconds until the page's script run has finished (every element drawn).

Redraws: seconds from changing a display option (Latent space: colour, UMAP of a shipped d = 16
model; Calibration: bins) until the figure's data have changed in the browser. Targets: content
≤ 2 s, redraw ≤ 1 s. Choosing the d = 16 model is timed the same way and printed, but it is not a
display option (the server computes the model's test latents) and is left out of the target.

    python benchmarks/bench_app.py [--datasets digits mnist] [--data-dir DIR] [--json out.json]

MNIST needs its files (``--data-dir`` or ``EXPLORER_DATA_DIR``). Needs Chromium (``apt-get install
chromium``) and ``playwright`` (requirements-dev.txt).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path


from explorer.app.guide import HOME, PAGES as GUIDE, PLOT
from explorer.app.server import CHROMIUM, ERRORS, IDLE, first_visit, running_app

# url path -> (title, main element): every page, then Home
PAGES = {page.name: (page.heading, page.main) for page in (*GUIDE, HOME)}
CONTENT_TARGET, REDRAW_TARGET, FIRST_FIGURE_TARGET = 2.0, 1.0, 5.0


def shown(title: str, selector: str) -> str:
    """JavaScript: the page titled ``title`` shows a current (not stale) ``selector`` element."""
    current = f'[data-testid="stElementContainer"][data-stale="false"] {selector}'
    return (f"() => [...document.querySelectorAll('h1')].some(h => h.textContent.trim() === {json.dumps(title)})"
            f" && document.querySelector({json.dumps(current)}) !== null")


def timed(page, title: str, selector: str, action) -> dict[str, float]:
    """Seconds from ``action()`` to the page's main element, and to the end of its script run."""
    started = time.perf_counter()
    action()
    page.wait_for_function(shown(title, selector), timeout=300_000, polling=20)
    content = time.perf_counter() - started
    page.wait_for_function(IDLE, timeout=300_000, polling=20)
    done = time.perf_counter() - started
    if errors := page.locator(ERRORS).all_inner_texts():
        raise RuntimeError(f"{title} shows an error: {errors}")
    return {"content": content, "done": done}


def visits(browser, base: str, dataset: str) -> dict[str, dict[str, float]]:
    context = browser.new_context(viewport={"width": 1600, "height": 1200})  # one browser profile
    page = context.new_page()
    out = {"cold open of Home": timed(page, "vc-explorer", PLOT,
                                      lambda: page.goto(f"{base}/?dataset={dataset}", wait_until="commit"))}
    for round_no in (1, 2):
        for path, (title, selector) in PAGES.items():
            link = page.locator(f'[data-testid="stSidebarNav"] a[href="{base}/{path}"]')
            out[f"visit {round_no}: /{path}"] = timed(page, title, selector, link.click)
    page.close()
    # A new tab of the same browser: a new session, with the front end in the browser's cache.
    page = context.new_page()
    out["new tab on Home"] = timed(page, "vc-explorer", PLOT,
                                   lambda: page.goto(f"{base}/?dataset={dataset}", wait_until="commit"))
    context.close()
    return out


def redraw(page, action, chart: int = 0) -> float:
    """Seconds from ``action()`` until the data of the page's ``chart``-th figure have changed."""
    page.evaluate(f"() => window.__before = JSON.stringify(document.querySelectorAll('{PLOT}')[{chart}].data)")
    started = time.perf_counter()
    action()
    page.wait_for_function(
        f"() => {{ const g = document.querySelectorAll('{PLOT}')[{chart}];"
        f" return g && g.data && JSON.stringify(g.data) !== window.__before; }}", timeout=300_000, polling=20)
    seconds = time.perf_counter() - started
    page.wait_for_function(IDLE, timeout=300_000, polling=50)
    return seconds


def open_idle(browser, url: str):
    page = browser.new_page(viewport={"width": 1600, "height": 1200})
    page.goto(url)
    page.wait_for_selector(PLOT, timeout=300_000)
    page.wait_for_function(IDLE, timeout=300_000, polling=20)
    return page


def choose_model(page, which: int, stem: str) -> float:
    """Pick a checkpoint in the sidebar's model A (which=1) or B (2) box by typing its file name;
    seconds until the page's first figure shows it (waiting for that, not only for the script to be
    idle: the rerun may not have started yet when the key is pressed)."""
    def pick() -> None:
        page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').nth(which).click()
        page.keyboard.type(stem)
        page.keyboard.press("Enter")

    return redraw(page, pick, chart=which - 1)


def redraws(browser, base: str, dataset: str) -> dict[str, float]:
    out = {}
    page = open_idle(browser, f"{base}/latent_space?dataset={dataset}")
    out["latent: colour by correctness"] = redraw(page, lambda: page.get_by_text("correctness").click())
    out["latent: colour by confidence"] = redraw(page, lambda: page.get_by_text("confidence", exact=True).click())
    d16 = f"{dataset}-{'mlp' if dataset == 'digits' else 'cnn'}-d16-softmax"
    out["latent: model A to a d = 16 model (not a display option: computes its test latents)"] = \
        choose_model(page, 1, d16)
    out["latent: UMAP of a shipped d = 16 model"] = redraw(page, lambda: page.get_by_text("umap", exact=True).click())
    page.close()
    page = open_idle(browser, f"{base}/calibration?dataset={dataset}")

    def more_bins() -> None:
        page.get_by_role("slider").first.focus()
        page.keyboard.press("ArrowRight")

    out["calibration: bins 15 -> 16"] = redraw(page, more_bins)
    page.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["digits", "mnist"])
    parser.add_argument("--data-dir", default=os.environ.get("EXPLORER_DATA_DIR"))
    parser.add_argument("--json", help="also write the figures here")
    parser.add_argument("--no-umap-warm-up", action="store_true",
                        help="do not compile UMAP in the background at start (to measure its cost)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    import torch

    scratch = Path(tempfile.mkdtemp(prefix="bench-app-"))
    env = {"EXPLORER_RUNS_DIR": str(scratch / "runs"), "EXPLORER_CACHE_DIR": str(scratch / "cache"),
           "EXPLORER_UMAP_WARM_UP": "0" if args.no_umap_warm_up else "1"}
    if args.data_dir:
        env["EXPLORER_DATA_DIR"] = args.data_dir
    results: dict[str, object] = {"machine": {"cpus": os.cpu_count(), "torch": torch.__version__,
                                              "python": platform.python_version()}}
    try:
        with running_app(env) as base, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            first = results["fresh server, first page: Home"] = first_visit(browser, base)
            print(f"fresh server, first visit of Home: text {first['text']:5.2f} s, figure {first['figure']:5.2f} s "
                  f"(targets: at once, {FIRST_FIGURE_TARGET} s)", flush=True)
            for dataset in args.datasets:
                for what, t in visits(browser, base, dataset).items():
                    results[f"{dataset} {what}"] = t
                    print(f"{dataset:<8} {what:<24} content {t['content']:5.2f} s   done {t['done']:5.2f} s",
                          flush=True)
                for what, seconds in redraws(browser, base, dataset).items():
                    results[f"{dataset} redraw: {what}"] = seconds
                    print(f"{dataset:<8} redraw: {what:<48} {seconds:5.2f} s", flush=True)
            browser.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    firsts = [v["content"] for k, v in results.items() if " visit " in k]
    draws = [v for k, v in results.items() if "redraw" in k and "not a display option" not in k]
    print(f"\nslowest page visit: content {max(firsts):.2f} s (target {CONTENT_TARGET} s); slowest redraw "
          f"{max(draws):.2f} s (target {REDRAW_TARGET} s); {os.cpu_count()} CPUs, torch {torch.__version__}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
