"""Large latent maps, printed (not asserted): projecting 10⁵ and 10⁶ latents, and drawing them in Chromium.

    python benchmarks/bench_maps.py [--sizes 100000 1000000] [--skip-umap] [--skip-browser] [--json out.json]

1. **Projection.** For each size N, 16-dimensional latents of 10 Gaussian classes (seeded) are placed
   in 2-D by :func:`explorer.measure.projection.fit_projection`, each method in a fresh process: PCA
   on every point, and UMAP, which from ``UMAP_FIT_MAX`` points on is fitted on a random sample of
   that size and places the rest with its ``transform``. Printed: seconds, and the process's peak
   resident memory before the fit (Python, numpy, the latents, the imports) and after it.
2. **Drawing in the browser.** The figure the Latent space page draws
   (:func:`explorer.figures.latent_scatter`: WebGL from ``WEBGL_FROM`` points) is written with
   plotly.js to an HTML file and opened in headless Chromium: seconds from navigation to the drawn
   figure, and the file's size. Then the app itself, on a warm server: a bundle of N 2-D latents
   (own data) is the sidebar's model A and B, and the Latent space page is timed from choosing
   "Points drawn" = 100,000 to both redrawn maps, and for N > 100 000 from choosing "all": a density
   image of the N points rendered on the server under 100 000 markers.

Chromium here draws WebGL in software (SwiftShader) on the CPU; a browser with a GPU draws faster.
Needs Chromium (``apt-get install chromium``) and ``playwright`` (requirements-dev.txt).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


CLASSES = [f"class {k}" for k in range(10)]


def latents(n: int, d: int = 16, seed: int = 0):
    """n latents of 10 Gaussian classes in d dimensions, and their labels."""
    import numpy as np

    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(CLASSES), n)
    means = 4.0 * rng.normal(size=(len(CLASSES), d))
    return means[labels] + rng.normal(size=(n, d)), labels


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def child(n: int, method: str) -> None:
    """One projection in this (fresh) process; prints a JSON line."""
    from explorer.core.config import ProjectionConfig
    from explorer.measure.projection import fit_projection

    z, _ = latents(n)
    if method == "umap":  # the import, compiled code included, is not the fit's time
        importlib.import_module("umap")
    before = peak_mib()
    started = time.perf_counter()
    placed = fit_projection(z, ProjectionConfig(method=method))
    print(json.dumps({"seconds": time.perf_counter() - started, "peak_before_mib": before,
                      "peak_after_mib": peak_mib(), "note": placed.note}))


def projection(n: int, method: str) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child", str(n), method], capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def figure_html(n: int, folder: Path) -> Path:
    from explorer.figures import latent_scatter

    z, labels = latents(n, d=2)
    path = folder / f"map-{n}.html"
    latent_scatter(z, labels, CLASSES, title=f"{n:,} latents").write_html(path, include_plotlyjs=True)
    return path


def drawn(page) -> None:
    """Waits until plotly has drawn the page's figure (its full data exist, then two frames pass)."""
    page.wait_for_function("() => { const g = document.querySelector('.js-plotly-plot');"
                           " return g && g._fullData && g._fullData.length > 0; }", timeout=600_000, polling=20)
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def standalone(browser, path: Path) -> float:
    page = browser.new_page(viewport={"width": 1600, "height": 1200})
    started = time.perf_counter()
    page.goto(path.as_uri(), wait_until="commit")
    drawn(page)
    seconds = time.perf_counter() - started
    page.close()
    return seconds


def renoted(page, action, chart: int) -> float:
    """Seconds from ``action()`` until the note under the page's ``chart``-th map has changed: it says
    how many points are drawn (cheaper to watch than the data of 10⁵ points, which ``bench_app``
    compares)."""
    from explorer.app.server import IDLE

    note = f"document.querySelectorAll('.js-plotly-plot')[{chart}]?.layout?.annotations?.[0]?.text"
    page.evaluate(f"() => window.__note = {note}")
    started = time.perf_counter()
    action()
    page.wait_for_function(f"() => {{ const t = {note}; return t !== undefined && t !== window.__note; }}",
                           timeout=600_000, polling=20)
    drawn(page)
    seconds = time.perf_counter() - started
    page.wait_for_function(IDLE, timeout=600_000, polling=50)
    return seconds


def in_app(browser, n: int, scratch: Path) -> dict[str, float]:
    """The Latent space page on a warm server with a bundle of n 2-D latents as models A and B."""
    from explorer.app.server import IDLE, running_app
    from explorer.core.bundles import save_bundle
    from explorer.measure.latent_map import MAX_MARKERS

    z, labels = latents(n, d=2)
    runs = scratch / f"runs-{n}"
    (runs / "uploaded").mkdir(parents=True)
    save_bundle(runs / "uploaded" / f"latents-{n}.npz", logits=z @ latents(10, d=2, seed=1)[0].T, labels=labels,
                latents=z)
    env = {"EXPLORER_RUNS_DIR": str(runs), "EXPLORER_CACHE_DIR": str(scratch / "cache"), "EXPLORER_UMAP_WARM_UP": "0"}
    out = {}
    with running_app(env) as base:
        url = f"{base}/latent_space?dataset=own%20data"
        page = browser.new_page(viewport={"width": 1600, "height": 1200})
        started = time.perf_counter()
        page.goto(url)
        page.wait_for_selector(".js-plotly-plot", timeout=600_000)
        page.wait_for_function(IDLE, timeout=600_000, polling=50)
        out["first visit, 2,000 points (the server loads the bundle)"] = time.perf_counter() - started
        page.reload()
        started = time.perf_counter()
        page.wait_for_selector(".js-plotly-plot", timeout=600_000)
        page.wait_for_function(IDLE, timeout=600_000, polling=50)
        out["warm visit, 2,000 points"] = time.perf_counter() - started

        def choose(option: str):
            def action() -> None:
                page.locator('[data-testid="stMain"] [data-testid="stSelectbox"]').first.click()
                page.get_by_role("option", name=option, exact=True).click()
            return action

        out["points drawn 2,000 -> 100,000 (both maps)"] = renoted(page, choose("100,000"), chart=1)
        if n > MAX_MARKERS:
            out[f"points drawn 100,000 -> all (a density image of {n:,} under 100,000 markers, both maps)"] = \
                renoted(page, choose("all"), chart=1)
        page.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[100_000, 1_000_000])
    parser.add_argument("--skip-umap", action="store_true", help="PCA only (UMAP on 10⁶ points takes minutes)")
    parser.add_argument("--skip-browser", action="store_true")
    parser.add_argument("--json", help="also write every figure here")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(int(args.child[0]), args.child[1])

    results: dict[str, object] = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version()}}
    print(f"{os.cpu_count()} CPUs, Python {platform.python_version()}", flush=True)
    for n in args.sizes:
        for method in ("pca",) if args.skip_umap else ("pca", "umap"):
            r = projection(n, method)
            results[f"project {n} {method}"] = r
            print(f"project {n:>9,} latents, {method:<4}: {r['seconds']:7.1f} s, peak memory {r['peak_before_mib']:,.0f} "
                  f"-> {r['peak_after_mib']:,.0f} MiB  ({r['note']})", flush=True)
    if not args.skip_browser:
        from playwright.sync_api import sync_playwright

        from explorer.app.server import CHROMIUM

        scratch = Path(tempfile.mkdtemp(prefix="bench-maps-"))
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
                for n in args.sizes:
                    path = figure_html(n, scratch)
                    seconds = standalone(browser, path)
                    results[f"draw {n} standalone"] = seconds
                    print(f"draw    {n:>9,} points, figure alone (HTML of {path.stat().st_size / 2**20:.0f} MiB): "
                          f"{seconds:6.1f} s", flush=True)
                for n in args.sizes:
                    for what, seconds in in_app(browser, n, scratch).items():
                        results[f"app {n} {what}"] = seconds
                        print(f"app     {n:>9,}-latent bundle, {what}: {seconds:6.1f} s", flush=True)
                browser.close()
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
