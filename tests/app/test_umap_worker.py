"""The UMAP worker process: low priority, and deaf to Ctrl+C, which the app's own stop handles."""

import os
import signal
import time

from explorer.app import umap_worker


def test_the_worker_runs_niced_and_survives_ctrl_c():
    pool = umap_worker.start()  # the tests' conftest turns the warm-up off: nothing compiles here
    try:
        (worker,) = pool._pool
        assert pool.apply(os.getpid) == worker.pid  # started (its initializer has run) and serving
        assert os.getpriority(os.PRIO_PROCESS, worker.pid) == 19
        os.kill(worker.pid, signal.SIGINT)  # what a terminal's Ctrl+C sends the whole process group
        time.sleep(0.5)
        assert worker.is_alive() and pool.apply(os.getpid) == worker.pid  # the same process, still serving
    finally:
        pool.terminate()
        pool.join()
