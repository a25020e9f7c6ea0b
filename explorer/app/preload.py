"""What the app's pages need, imported once per server process, in one order, by one thread at a time.

Streamlit runs every session's script in a thread of its own, and on a fresh server the first runs of
several sessions import torch, pandas, scipy and the project at the same time. Two things then go
wrong: a library that looks a module up in ``sys.modules`` without importing it (plotly, for pandas
and numpy) finds it halfway through another thread's import; and when two threads import modules that
import each other in different orders, Python breaks the deadlock by handing one of them the module
half-initialised. Either way a student sees ``AttributeError: partially initialized module 'pandas'
has no attribute 'Series' (most likely due to a circular import)``. Home calls :func:`preload` before
its first figure (:data:`FIGURE`) and before its first heavy import (all of :data:`MODULES`): each
module is imported by one session while any other that needs it waits, and once they are all in
``sys.modules``, complete, no page imports them again.

Once all of them are imported, the objects they made (about half a million that the garbage collector
tracks: torch's, plotly's validators, ...) are moved out of its sight with ``gc.freeze()``: they live
as long as the process, and Streamlit runs a full collection after every script run, which would
otherwise walk all of them on every page a student opens (about 0.3 CPU-seconds each, on this
project's 2-core test machine).

This module imports nothing but the standard library, so Home can import it before it sends its text."""

from __future__ import annotations

import gc
import importlib
import threading

FIGURE = ("numpy", "pandas", "narwhals.stable.v1", "plotly.graph_objects", "plotly.tools", "plotly.offline")
"""What Home's first figure needs: plotly, and the libraries it looks up in ``sys.modules`` without
importing them (numpy, pandas) to recognise its input. Looked up while another session is halfway
through importing it, pandas has no ``Series`` yet and the figure fails; so they come first."""

MODULES = (
    *FIGURE,
    # The libraries, each after those it imports, so that no import below starts another chain.
    "pyarrow.pandas_compat", "scipy.stats", "scipy.linalg",
    "sklearn.datasets", "sklearn.metrics", "sklearn.decomposition",
    "torch",
    # torch imports it on first use, when a checkpoint's config is laid out on the meta device (the
    # sidebar's catalogue): sympy and the compiler stack, the largest chain a first run imports.
    "torch._dynamo",
    "torchvision", "torchvision.transforms.v2.functional",
    # The app: the sidebar and caches (the whole library behind them), then every page's view.
    "explorer.app.cache", "explorer.app.sidebar", "explorer.app.sources", "explorer.figures",
    "explorer.measure.corruptions",
    "explorer.app.views.latent_space", "explorer.app.views.calibration", "explorer.app.views.adversarial",
    "explorer.app.views.shift", "explorer.app.views.train",
    "explorer.app.views.lesson.choice", "explorer.app.views.lesson.steps", "explorer.app.views.lesson.quotes",
    "explorer.app.views.lesson.bundle",
)
"""Every module a page's run would otherwise import first, in the order :func:`preload` imports them:
the pages' own imports and those the library and its dependencies make on first use (deferred
imports, or modules the libraries load lazily). ``tests/app/test_preload.py`` runs the pages after
:func:`preload` in a fresh process and fails on any package outside the standard library that a run
still imports first."""

LOCK = threading.Lock()
_imported: set[str] = set()


def preload(modules: tuple[str, ...] = MODULES) -> None:
    """Import ``modules`` (a prefix of :data:`MODULES`: :data:`FIGURE`, or all of them) in order,
    each once per process and by one thread at a time, under :data:`LOCK`: a thread that needs a
    module another is importing waits for it, and no two imports of the list run at once, so no
    chain of them is entered from two ends. Returns at once when all are imported. The call that
    completes :data:`MODULES` also freezes what exists then (``gc.freeze()``, after a collection), so
    that later collections skip it."""
    for name in modules:
        if name in _imported:
            continue
        with LOCK:
            if name not in _imported:
                importlib.import_module(name)
                _imported.add(name)
                if len(_imported) == len(MODULES):  # the last one: the long-lived objects are all made
                    gc.collect()
                    gc.freeze()
