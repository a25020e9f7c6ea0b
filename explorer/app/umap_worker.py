"""One low-priority worker process that fits every UMAP the app needs.

numba compiles UMAP for about 50 s at its first use in a process, holding the GIL most of that time:
in the app's own process that slowed every page two- to threefold. In a worker, at the lowest
priority, it takes only CPU time the pages leave. The worker compiles as soon as it starts (at the
app's first run) unless ``EXPLORER_UMAP_WARM_UP=0``; it is a daemon, stopped with the app. The app
keeps one pool for the whole server (:func:`explorer.app.cache.umap_pool`).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.pool
import os
import signal
import sys
from collections.abc import Callable, Iterator

from explorer.core.config import ProjectionConfig
from explorer.core.errors import ExplorerError
from explorer.measure.projection import Projection, fit_projection, fit_without_model, warm_up_umap

TIMEOUT = 900
"""Seconds a UMAP fit may take in the worker (compilation included) before the page gives up."""


class WorkerLost(ExplorerError):
    """The worker did not answer in time; a fresh one is started on the next fit."""


@contextlib.contextmanager
def _main_module(name: str) -> Iterator[None]:
    """Make module ``name`` pose as ``__main__`` for a moment.

    Streamlit runs each page as the module ``__main__``, and a spawned process first imports
    ``__main__`` again: the worker would run the page, which would start a worker... Posing as a
    plain library module, the parent tells the child to import that instead.
    """
    real = sys.modules["__main__"]
    sys.modules["__main__"] = sys.modules[name]
    try:
        yield
    finally:
        sys.modules["__main__"] = real


def _worker_init() -> None:
    """The worker runs at the lowest CPU priority, and leaves Ctrl+C to the app: a terminal sends it to
    the whole process group, and the app, stopping, ends its daemon worker itself (without this, the
    worker would print a KeyboardInterrupt traceback under the app's last lines)."""
    os.nice(19)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def start() -> multiprocessing.pool.Pool | None:
    """A pool of one worker process, compiling UMAP at once; None inside a worker (it never starts one)."""
    if multiprocessing.parent_process() is not None:
        return None
    with _main_module("explorer.measure.projection"):
        # The worker starts here, inside the pose, at the lowest CPU priority: it uses the cores the
        # pages leave idle, and a page computing with torch's threads meanwhile keeps its speed.
        pool = multiprocessing.get_context("spawn").Pool(1, initializer=_worker_init)
    if os.environ.get("EXPLORER_UMAP_WARM_UP", "1") != "0":
        pool.apply_async(warm_up_umap)
    return pool


def fit(pool: Callable[[], multiprocessing.pool.Pool | None], latents, config: ProjectionConfig, extra=None,
        extra_name: str = "extra points") -> Projection:
    """:func:`explorer.measure.projection.fit_projection`, with UMAP run in the pool that ``pool()``
    gives. PCA and the identity stay in this process, and never ask for the pool (nor start it).

    Raises :class:`WorkerLost` when the worker does not answer within :data:`TIMEOUT` seconds.
    """
    if config.method != "umap":
        return fit_projection(latents, config, extra, extra_name)
    pool = pool()
    if pool is None:
        return fit_without_model(latents, config, extra, extra_name)
    task = pool.apply_async(fit_without_model, (latents, config, extra, extra_name))
    try:
        return task.get(timeout=TIMEOUT)
    except multiprocessing.TimeoutError:
        raise WorkerLost(f"UMAP did not finish within {TIMEOUT} s; try PCA, or fewer points") from None
