"""Seconds for the Calibration page (with its Abstention and Prediction sets sections) and the Shift page's
Out-of-distribution tab, on the shipped MNIST d = 16 pair and on a bundle of 100 000 test rows: the first
session (every cache cold) and a second session in the same process (warm: the server's shared caches).

    EXPLORER_DATA_DIR=... PYTHONPATH=. python benchmarks/bench_lab_pages.py [--rows 100000]

The bundle: 16-dimensional latents of 10 Gaussian classes and a last layer, with validation outputs (for
the recalibrations and the conformal sets) and out-of-distribution outputs (latents drawn nearer the
origin); models A and B are the same file.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

HOME = Path(__file__).resolve().parents[1] / "explorer" / "Home.py"
PAIR = ("mnist-cnn-d16-softmax.pt", "mnist-cnn-d16-vc.pt")


def opened(page: str, query: dict, state: dict, timeout: int = 1800):
    """One AppTest session as a browser opens it: Home with the URL's ``query``, the session's ``state``
    (models A and B, set after Home's first run), then ``page``. Returns the AppTest after the page's run."""
    from streamlit.testing.v1 import AppTest

    from explorer.app import guide

    app = AppTest.from_file(str(HOME), default_timeout=timeout)
    for key, value in query.items():
        app.query_params[key] = value
    app.run()
    for key, value in state.items():
        app.session_state[key] = value
    app.switch_page(guide.page(page).script_from_home)
    app.run()
    return app


def raise_shown(app) -> None:
    """Raise on any exception or error the session shows."""
    if app.exception or app.error:
        raise RuntimeError([e.value for e in [*app.exception, *app.error]])


def page_seconds(page: str, query: dict, state: dict, tab: str | None = None) -> float:
    """Seconds for one AppTest session: Home, then ``page`` (and its ``tab``), raising on any error shown."""
    started = time.perf_counter()
    app = opened(page, query, state)
    if tab is not None:
        app.session_state["shift_tab"] = tab  # what clicking the tab does: only the open tab runs
        app.run()
    raise_shown(app)
    return time.perf_counter() - started


def big_bundle(folder: Path, rows: int) -> dict:
    """A bundle of ``rows`` test rows (and 10 000 validation and out-of-distribution rows) as models A and B."""
    import numpy as np

    from explorer.core.bundles import save_bundle

    rng = np.random.default_rng(0)
    means = rng.normal(size=(10, 16)) * 1.5
    weight, bias = means / 2, np.zeros(10)

    def latents(n: int, scale: float = 1.0):
        labels = rng.integers(0, 10, n)
        return scale * (means[labels] + rng.normal(size=(n, 16))), labels

    z, labels = latents(rows)
    val_z, val_labels = latents(10_000)
    ood_z, _ = latents(10_000, scale=0.4)
    path = folder / "shared" / f"lab-{rows}.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    save_bundle(path, logits=z @ weight.T + bias, labels=labels, latents=z, weight=weight, bias=bias,
                val_logits=val_z @ weight.T + bias, val_labels=val_labels, val_latents=val_z,
                ood_logits=ood_z @ weight.T + bias, ood_latents=ood_z)
    return {"model_a": str(path), "model_b": str(path)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="test rows of the bundle")
    args = parser.parse_args()
    from explorer.core.checkpoints import SHIPPED_DIR

    scratch = Path(tempfile.mkdtemp(prefix="bench-lab-"))
    os.environ["EXPLORER_RUNS_DIR"] = str(scratch / "runs")
    os.environ["EXPLORER_CACHE_DIR"] = str(scratch / "cache")
    os.environ.pop("EXPLORER_SHARED_DIR", None)  # the bundle goes to the runs folder's shared/
    print(f"{os.cpu_count()} CPUs", flush=True)
    cases = {"MNIST d = 16 pair": ({"dataset": "mnist"}, {"model_a": str(SHIPPED_DIR / PAIR[0]),
                                                          "model_b": str(SHIPPED_DIR / PAIR[1])}),
             f"{args.rows:,}-row bundle": ({"dataset": "own data"}, big_bundle(scratch / "runs", args.rows))}
    for name, (query, state) in cases.items():
        for page, tab in (("calibration", None), ("shift", "Out-of-distribution")):
            cold = page_seconds(page, query, state, tab)
            warm = page_seconds(page, query, state, tab)
            print(f"{page}{'' if tab is None else ', ' + tab}, {name}: first session {cold:6.1f} s, "
                  f"warm {warm:5.2f} s", flush=True)


if __name__ == "__main__":
    main()
