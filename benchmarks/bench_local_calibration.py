"""The local miscalibration map's costs, printed (not asserted): the local gap on large latent sets, and the
Latent space page with the new colours, cold (the first session) and warm (a second AppTest session in the
same process, everything cached).

    EXPLORER_DATA_DIR=... python benchmarks/bench_local_calibration.py [--sizes 10000 100000] [--fields 20] [--skip-pages]

1. :func:`explorer.measure.local_calibration.local_miscalibration` on N 16-dimensional latents of 10
   Gaussian classes (``bench_maps.latents``), seconds.
   Also the shares of the points it flags as over- and under-confident under calibrated models
   (correct ~ Bernoulli(confidence), ``--fields`` seeded fields of 5 000 standard normal latents, confidence
   U(0.5, 1) and U(0.98, 1)), by its simulated null and by the normal approximation |gap| > 2 se.
2. The page (AppTest, Home then Latent space, the colour chosen, the coverage slider moved) on the shipped
   MNIST pairs at d = 2 and d = 16 (PCA), and on a bundle of 100 000 such latents with a last layer as
   models A and B ("own data", at most 100 000 points drawn). Each is timed twice: the first session
   fills the caches; the second is what every later visitor waits for.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # bench_maps and bench_lab_pages beside this script
PAIRS = {"MNIST d = 2": ("mnist-cnn-d2-softmax.pt", "mnist-cnn-d2-vc.pt"),
         "MNIST d = 16": ("mnist-cnn-d16-softmax.pt", "mnist-cnn-d16-vc.pt")}
SETTINGS = {"local miscalibration": ("miscalibration", 100), "confidence gap to the Gaussians": ("gaussian gap", 100),
            "local miscalibration at 90 % coverage": ("miscalibration", 90)}


def latents(n: int):
    from bench_maps import latents as gaussian_classes

    return gaussian_classes(n, d=16)


def local_gap_seconds(n: int) -> tuple[float, float, str]:
    """Wall and CPU seconds of one local gap on n latents (CPU time: less moved by other work on the
    machine), and its rule."""
    import numpy as np

    from explorer.measure.local_calibration import local_miscalibration

    z, labels = latents(n)
    rng = np.random.default_rng(1)
    confidence = rng.uniform(0.5, 1.0, n)
    started, cpu = time.perf_counter(), time.process_time()
    local = local_miscalibration(z, confidence, rng.random(n) < confidence)
    return time.perf_counter() - started, time.process_time() - cpu, local.rule


def flagged_shares(low: float, fields: int, n: int = 5000) -> str:
    """Mean shares of n calibrated latents flagged over- and under-confident, over ``fields`` seeded fields."""
    import numpy as np

    from explorer.measure.local_calibration import local_miscalibration

    shares = []
    for seed in range(fields):
        rng = np.random.default_rng(100 + seed)
        z = rng.normal(size=(n, 16))
        confidence = rng.uniform(low, 1.0, n)
        local = local_miscalibration(z, confidence, rng.random(n) < confidence, seed=seed)
        normal = np.abs(local.gap) > 2 * local.se
        shares.append([(flags & side).mean() for flags in (local.significant, normal)
                       for side in (local.gap > 0, local.gap < 0)])
    over, under, normal_over, normal_under = np.mean(shares, axis=0)
    return (f"simulated null {over:.2%} over, {under:.2%} under; |gap| > 2 se {normal_over:.2%} over, "
            f"{normal_under:.2%} under")


def page_seconds(query: dict, state: dict, color_by: str, coverage: int, points: int | None = None) -> float:
    """Seconds for one AppTest session: Home, the Latent space page, the colour and the coverage set."""
    from bench_lab_pages import opened, raise_shown

    started = time.perf_counter()
    app = opened("latent_space", query, state, timeout=1200)
    if points is not None:
        next(s for s in app.selectbox if s.label == "Points drawn (at most)").set_value(points).run()
    next(r for r in app.radio if r.label == "Colour by").set_value(color_by).run()
    if coverage != 100:
        next(s for s in app.slider if s.label == "Coverage (%)").set_value(coverage).run()
    raise_shown(app)
    return time.perf_counter() - started


def big_bundle(folder: Path, n: int) -> dict:
    """A bundle of n 16-dimensional latents with a last layer, in the shared folder, as models A and B."""
    import numpy as np

    from explorer.core.bundles import save_bundle

    z, labels = latents(n)
    rng = np.random.default_rng(2)
    weight, bias = rng.normal(size=(10, 16)) / 4, np.zeros(10)
    path = folder / "shared" / f"latents-{n}.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    save_bundle(path, logits=z @ weight.T + bias, labels=labels, latents=z, weight=weight, bias=bias)
    return {"model_a": str(path), "model_b": str(path)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[10_000, 100_000])
    parser.add_argument("--fields", type=int, default=20, help="calibrated fields behind the flagged shares")
    parser.add_argument("--skip-pages", action="store_true")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs", flush=True)
    for n in args.sizes:
        seconds, cpu, rule = local_gap_seconds(n)
        print(f"local gap, {n:>7,} latents (d = 16): {seconds:6.2f} s, CPU {cpu:6.2f} s  ({rule})", flush=True)
    for low in (0.5, 0.98):
        print(f"calibrated, confidence ~ U({low}, 1), {args.fields} fields of 5,000 (d = 16) flagged: "
              f"{flagged_shares(low, args.fields)}", flush=True)
    if args.skip_pages:
        return
    from explorer.core.checkpoints import SHIPPED_DIR

    scratch = Path(tempfile.mkdtemp(prefix="bench-local-"))
    os.environ["EXPLORER_RUNS_DIR"] = str(scratch / "runs")
    os.environ["EXPLORER_CACHE_DIR"] = str(scratch / "cache")
    os.environ.pop("EXPLORER_SHARED_DIR", None)  # the bundle goes to the runs folder's shared/
    for pair, (a, b) in PAIRS.items():
        state = {"model_a": str(SHIPPED_DIR / a), "model_b": str(SHIPPED_DIR / b)}
        for what, (color_by, coverage) in SETTINGS.items():
            cold = page_seconds({"dataset": "mnist"}, state, color_by, coverage)
            warm = page_seconds({"dataset": "mnist"}, state, color_by, coverage)
            print(f"page, {pair}, {what}: first session {cold:6.1f} s, warm {warm:5.2f} s", flush=True)
    n = max(args.sizes)
    state = big_bundle(scratch / "runs", n)
    for what, (color_by, coverage) in SETTINGS.items():
        cold = page_seconds({"dataset": "own data"}, state, color_by, coverage, points=100_000)
        warm = page_seconds({"dataset": "own data"}, state, color_by, coverage, points=100_000)
        print(f"page, {n:,}-latent bundle (d = 16, PCA, 100,000 drawn), {what}: first session {cold:6.1f} s, "
              f"warm {warm:5.2f} s", flush=True)


if __name__ == "__main__":
    main()
