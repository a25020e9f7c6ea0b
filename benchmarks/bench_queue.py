"""Training on a shared server, printed (not asserted): what the training queue's defaults rest on.

    python benchmarks/bench_queue.py [--datasets digits mnist 20newsgroups] [--repeats 3] [--data-dir DIR]

1. **Runs at once × torch threads.** One-epoch ``vc`` runs at each dataset's defaults (on a part of
   its training split: ``FRACTIONS``), trained in threads of one process as the queue's workers
   train them: 1 or 2 runs at once, each with 1 or 2 torch threads (set in the run's own thread, as a
   worker does). Printed: seconds per run, the median over ``--repeats`` after one warm-up run. If
   two runs at once take twice as long per run as one, running them together gains nothing, and each
   student waits longer for a result than in turn.
2. **Seconds per training example through the queue** (:class:`explorer.jobs.training_queue.TrainingQueue`
   with one worker and its default threads): :attr:`JobStatus.seconds_per_example` of the same runs,
   the figure :data:`explorer.jobs.training_queue.PRIOR_SECONDS_PER_EXAMPLE` is set from.

MNIST and 20 Newsgroups need their files (``--data-dir`` or ``EXPLORER_DATA_DIR``); a dataset whose
files are missing is skipped with a line saying so. Keep the machine otherwise idle for figures that
describe it alone.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time

FRACTIONS = {"digits": 1.0, "mnist": 0.2, "fashion-mnist": 0.2, "cifar10": 0.1, "20newsgroups": 0.5, "reuters-r8": 1.0}
"""The part of each training split a benchmark run trains on (an epoch of it takes seconds on a CPU)."""
SETTINGS = ((1, 1), (1, 2), (2, 1), (2, 2))
"""(runs at once, torch threads each)."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["digits", "mnist", "20newsgroups"])
    parser.add_argument("--repeats", type=int, default=3, help="timings per setting (the median is printed)")
    parser.add_argument("--data-dir", help="where the datasets' files are (default: EXPLORER_DATA_DIR)")
    args = parser.parse_args()
    if args.data_dir:
        os.environ["EXPLORER_DATA_DIR"] = args.data_dir
    os.environ["EXPLORER_RUNS_DIR"] = tempfile.mkdtemp(prefix="bench-queue-")  # the queue's checkpoints

    import torch

    from explorer.core.config import default_configs
    from explorer.core.data import load_dataset
    from explorer.core.errors import DatasetUnavailableError
    from explorer.jobs.limits import Limits, cores
    from explorer.jobs.training import train
    from explorer.jobs.training_queue import TrainingQueue

    print(f"{cores()} cores; torch {torch.__version__}")
    queue = TrainingQueue(Limits(workers=1, max_per_session=len(args.datasets) * args.repeats))
    print(f"the queue's default threads per run with one worker: {queue.limits.threads}")
    for name in args.datasets:
        try:
            data, test = load_dataset(name, "train"), load_dataset(name, "test")
        except DatasetUnavailableError as error:
            print(f"{name}: skipped ({error})")
            continue
        model_config, train_config = default_configs(name, "vc", epochs=1, train_fraction=FRACTIONS.get(name, 1.0),
                                                     snapshot_points=0)

        def run(threads: int) -> None:
            torch.set_num_threads(threads)
            train(data, model_config, train_config)

        run(1)  # warm-up: the first run of a process pays for torch's start
        seconds: dict[tuple[int, int], list[float]] = {}
        for _ in range(args.repeats):
            for runs, threads in SETTINGS:
                workers = [threading.Thread(target=run, args=(threads,)) for _ in range(runs)]
                started = time.perf_counter()
                for worker in workers:
                    worker.start()
                for worker in workers:
                    worker.join()
                seconds.setdefault((runs, threads), []).append((time.perf_counter() - started) / runs)
        label = f"{name} ({model_config.encoder}, {FRACTIONS.get(name, 1.0):g} of the training split, 1 epoch)"
        for (runs, threads), values in seconds.items():
            print(f"{label}: {runs} run(s) at once x {threads} thread(s): {statistics.median(values):.2f} s per run "
                  f"({', '.join(f'{v:.2f}' for v in values)})")
        paces = []
        for _ in range(args.repeats):
            status = queue.wait(queue.submit("benchmark", data, test, model_config, train_config))
            paces.append(status.seconds_per_example)
        print(f"{label}: through the queue {statistics.median(paces):.2e} s per training example "
              f"({', '.join(f'{p:.2e}' for p in paces)})")


if __name__ == "__main__":
    main()
