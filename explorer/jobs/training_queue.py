"""The server's training queue: runs wait their turn, then train in the queue's own worker threads.

One :class:`TrainingQueue` serves a whole process (the app keeps one per server). A run submitted to
it is a :class:`Job`: *queued* until a worker is free (first come, first served), then *running*,
saved after every epoch by :class:`~explorer.jobs.runs.EpochSaver`, and at last *done*, *failed*
(its :class:`~explorer.core.errors.ExplorerError` message kept, never a traceback) or *cancelled*
(a queued run leaves the queue; a running one stops at its next step and keeps the epochs it saved).
Nothing here depends on who submitted a run: it finishes and is saved whether or not anyone still
watches it.

Estimates: a run's duration is its training examples (epochs × the examples its split keeps) times
the seconds per example that finished runs of the same dataset and encoder took on this server (the
mean of the last :data:`RATE_MEMORY`), or :data:`PRIOR_SECONDS_PER_EXAMPLE` before any has finished.
A running run's remaining time follows its own pace once it has taken a step. A queued run's start is
found by handing the runs ahead of it, in order, to whichever worker frees first.

How many runs train at once, how many may wait, and what one run may ask for are :mod:`explorer.jobs.limits`.
"""

from __future__ import annotations

import atexit
import heapq
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from explorer.core.config import ModelConfig, TrainConfig
from explorer.core.data import Dataset, split_indices
from explorer.core.errors import ArgumentError, ExplorerError
from explorer.jobs.limits import Limits
from explorer.jobs.runs import EpochSaver, check_writable, checkpoint_path
from explorer.jobs.training import Progress, steps_per_epoch, train

logger = logging.getLogger(__name__)

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
FINISHED = (DONE, FAILED, CANCELLED)

PRIOR_SECONDS_PER_EXAMPLE = {"mlp": 3e-4, "bag": 2e-3, "cnn": 2e-3, "resnet18": 0.1}
"""Seconds per training example (each epoch's validation included) assumed for an encoder until a run
of the same dataset and encoder has finished here: what one-epoch ``vc`` runs at their datasets'
defaults took through this queue on a 2-core CPU busy with other work, rounded up (``python
benchmarks/bench_queue.py`` prints them; there, digits' MLP took 1.4–2.3·10⁻⁴ s, MNIST's CNN
1.2–2.0·10⁻³ s and 20 Newsgroups' bag 0.8–1.3·10⁻³ s). ResNet-18's is not measured here; 50 times the
CNN's is a guess."""
RATE_MEMORY = 5
"""How many finished runs of a dataset and encoder their estimate averages."""
KEEP_FINISHED = 200
"""Finished jobs the queue remembers (their files stay on disk either way); older ones are forgotten."""


class _Cancelled(Exception):
    """Raised by a job's callback at the step after its cancel: stops ``train`` there."""


@dataclass(eq=False)
class Job:
    """One run in the queue. Its fields change under the queue's lock; read it through :class:`JobStatus`."""

    id: str
    owner: str
    dataset: str
    model_config: ModelConfig
    train_config: TrainConfig
    path: Path
    examples: int
    """Training examples over the whole run: epochs × the examples the run's split keeps."""
    total_steps: int
    data: Dataset | None
    test: Dataset | None
    submitted: float
    state: str = QUEUED
    started: float | None = None
    finished: float | None = None
    epoch: int = 0
    step: int = 0
    steps: int = 0
    steps_done: int = 0
    summary: dict | None = None
    error: str | None = None
    cancel: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True)
class JobStatus:
    """What a job looks like at one moment: a copy, safe to read while the job goes on.

    ``place`` is 1 for the next run to start (None unless queued); ``wait`` is the estimated seconds
    until a queued run starts; ``remaining`` the estimated seconds until a running one ends (a queued
    one: its whole estimated duration). ``measured`` says whether the estimate rests on runs finished
    here (else on :data:`PRIOR_SECONDS_PER_EXAMPLE`). ``summary`` is
    :meth:`~explorer.jobs.runs.EpochSaver.summary` after the last saved epoch (None before the first);
    ``error`` the one-line reason of a failed run.
    """

    id: str
    owner: str
    dataset: str
    method: str
    encoder: str
    path: Path
    state: str
    epochs: int
    epoch: int
    step: int
    steps: int
    place: int | None
    wait: float | None
    remaining: float | None
    measured: bool
    summary: dict | None
    error: str | None
    seconds_per_example: float | None
    """Of a finished run that trained at least one step: its seconds per training example."""

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    @property
    def history(self) -> list[dict]:
        return self.summary["history"] if self.summary is not None else []


class TrainingQueue:
    """Runs trained ``limits.workers`` at a time in worker threads of this process, first come first served.

    ``saved(path)`` is called in the worker after each epoch a run saves to ``path`` (the app reads its
    list of files again). ``now`` is the clock (seconds, monotonic), replaceable in tests. The workers
    start with the first run submitted and live as long as the process (daemon threads); when it exits,
    :meth:`close` stops the runs, so that none is cut off inside torch.
    """

    def __init__(self, limits: Limits | None = None, saved: Callable[[Path], None] | None = None,
                 now: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits or Limits()
        self.saved, self.now = saved, now
        self._lock = threading.Condition()
        self._jobs: dict[str, Job] = {}
        self._pending: deque[Job] = deque()
        self._rates: dict[tuple[str, str], deque[float]] = {}
        self._ids = itertools.count(1)
        self._workers: list[threading.Thread] = []
        self._closed = False
        atexit.register(self.close)

    # -- submitting and cancelling -----------------------------------------------------------------

    def submit(self, owner: str, data: Dataset, test: Dataset, model_config: ModelConfig,
               train_config: TrainConfig, path: Path | None = None) -> str:
        """Queue a run of ``model_config`` and ``train_config`` on ``data`` (a training split; ``test``
        its test split) for ``owner`` (any string naming who asked: a browser session); returns its id.

        The checkpoint goes to ``path`` (default :func:`~explorer.jobs.runs.checkpoint_path`). Raises
        :class:`~explorer.core.errors.ArgumentError`, and queues nothing, for a run over the limits,
        an owner or a queue already full, or a folder that cannot be written.
        """
        self.limits.check(model_config, train_config)
        path = Path(path) if path is not None else checkpoint_path(data.name, model_config, train_config)
        check_writable(path)
        kept = len(split_indices(data.y, train_config)[0])
        with self._lock:
            if self._closed:
                raise ArgumentError("the server is stopping: no more runs are taken")
            active = [j for j in self._jobs.values() if j.state in (QUEUED, RUNNING)]
            own = sum(j.owner == owner for j in active)
            if own >= self.limits.max_per_session:
                raise ArgumentError(f"you have {own} runs queued or running, this server's limit per session: "
                                    "wait for one to finish or cancel one (the teacher who runs it can raise the "
                                    "limit with EXPLORER_MAX_RUNS_PER_SESSION)")
            if len(active) >= self.limits.max_runs:
                raise ArgumentError(f"the server's queue is full ({len(active)} runs queued or running): try "
                                    "again when some have finished (the teacher who runs it can raise the limit "
                                    "with EXPLORER_MAX_RUNS)")
            job = Job(f"run-{next(self._ids)}", owner, data.name, model_config, train_config, path,
                      examples=train_config.epochs * kept,
                      total_steps=train_config.epochs * steps_per_epoch(kept, train_config.batch_size),
                      data=data, test=test, submitted=self.now())
            self._jobs[job.id] = job
            self._pending.append(job)
            self._start_workers()
            self._lock.notify_all()
        return job.id

    def cancel(self, job_id: str) -> None:
        """A queued run leaves the queue; a running one stops at its next step, keeping its saved
        epochs; a finished one stays as it is."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.state in FINISHED:
                return
            if job.state == QUEUED:
                self._pending.remove(job)
                self._finish(job, CANCELLED)
            else:
                job.cancel.set()

    def close(self, timeout: float = 10.0) -> None:
        """Take no more runs, cancel the queued ones and stop the running ones at their next step (their
        saved epochs stay); wait up to ``timeout`` seconds for them to stop."""
        with self._lock:
            self._closed = True
            for job in list(self._pending):
                self._pending.remove(job)
                self._finish(job, CANCELLED)
            for job in self._jobs.values():
                job.cancel.set()
            self._lock.wait_for(lambda: all(j.state != RUNNING for j in self._jobs.values()), timeout)

    # -- reading -----------------------------------------------------------------------------------

    def status(self, job_id: str) -> JobStatus | None:
        """The job's status now; None for an id this queue does not know (or has forgotten)."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return None
            return self._status(job, self._waits().get(job.id))

    def statuses(self, owner: str | None = None) -> list[JobStatus]:
        """Every known job's status (``owner``'s alone if given), in the order they were submitted."""
        with self._lock:
            waits = self._waits()
            return [self._status(j, waits.get(j.id)) for j in self._jobs.values() if owner in (None, j.owner)]

    def wait(self, job_id: str, timeout: float | None = None) -> JobStatus | None:
        """Block until the job has finished (or ``timeout`` seconds pass); its status then."""
        with self._lock:
            self._lock.wait_for(lambda: self._jobs.get(job_id) is None or self._jobs[job_id].state in FINISHED,
                                timeout)
        return self.status(job_id)

    def estimate(self, dataset: str, encoder: str, examples: int) -> tuple[float, bool]:
        """Estimated seconds of a run of ``examples`` training examples, and whether the rate behind it
        was measured here (else :data:`PRIOR_SECONDS_PER_EXAMPLE`)."""
        with self._lock:
            return self._estimate(dataset, encoder, examples)

    def _estimate(self, dataset: str, encoder: str, examples: int) -> tuple[float, bool]:
        rates = self._rates.get((dataset, encoder))
        if rates:
            return examples * sum(rates) / len(rates), True
        return examples * PRIOR_SECONDS_PER_EXAMPLE[encoder], False

    def _remaining(self, job: Job) -> float:
        """Estimated seconds until ``job`` ends: a queued one's whole duration."""
        if job.state == RUNNING and job.steps_done:
            elapsed = self.now() - job.started
            return elapsed / job.steps_done * (job.total_steps - job.steps_done)
        duration, _ = self._estimate(job.dataset, job.model_config.encoder, job.examples)
        if job.state == RUNNING:
            return max(0.0, duration - (self.now() - job.started))
        return duration

    def _waits(self) -> dict[str, float]:
        """Estimated seconds until each queued job starts: the runs ahead of it, in order, go to
        whichever worker frees first."""
        free = [self._remaining(j) for j in self._jobs.values() if j.state == RUNNING]
        free += [0.0] * max(0, self.limits.workers - len(free))
        heapq.heapify(free)
        waits = {}
        for job in self._pending:
            start = heapq.heappop(free)
            waits[job.id] = start
            heapq.heappush(free, start + self._remaining(job))
        return waits

    def _status(self, job: Job, wait: float | None) -> JobStatus:
        place = next((i for i, j in enumerate(self._pending, 1) if j is job), None)
        _, measured = self._estimate(job.dataset, job.model_config.encoder, job.examples)
        pace = None
        if job.state in FINISHED and job.steps_done:
            pace = (job.finished - job.started) / (job.examples * job.steps_done / job.total_steps)
        return JobStatus(
            job.id, job.owner, job.dataset, job.model_config.method, job.model_config.encoder, job.path, job.state,
            job.train_config.epochs, job.epoch, job.step, job.steps, place, wait,
            None if job.state in FINISHED else self._remaining(job), measured, job.summary, job.error, pace)

    # -- the workers -------------------------------------------------------------------------------

    def _start_workers(self) -> None:
        while len(self._workers) < self.limits.workers:
            worker = threading.Thread(target=self._work, name=f"training-{len(self._workers) + 1}", daemon=True)
            self._workers.append(worker)
            worker.start()

    def _work(self) -> None:
        torch.set_num_threads(self.limits.threads)  # this thread's own setting (OpenMP's is per thread)
        while True:
            with self._lock:
                self._lock.wait_for(lambda: self._pending)
                job = self._pending.popleft()
                job.state, job.started = RUNNING, self.now()
                self._lock.notify_all()
            self._run(job)

    def _run(self, job: Job) -> None:
        saver = EpochSaver(job.path, job.test, job.train_config)

        def callback(progress: Progress) -> None:
            saved = saver(progress)  # first: a cancel at an epoch's last step keeps that epoch
            summary = saver.summary() if saved else None
            with self._lock:
                job.epoch, job.step, job.steps = progress.epoch, progress.step, progress.steps
                job.steps_done += 1
                if saved:
                    job.summary = summary
            if saved and self.saved is not None:
                self.saved(job.path)
            if job.cancel.is_set():
                raise _Cancelled

        try:
            train(job.data, job.model_config, job.train_config, callback)
        except _Cancelled:
            outcome, error = CANCELLED, None
        except ExplorerError as failure:
            outcome, error = FAILED, " ".join(str(failure).split())
        except Exception as failure:  # a bug: its traceback goes to the server's log, not to the student
            logger.exception("training run %s failed", job.id)
            outcome, error = FAILED, (f"the run stopped on an unexpected error ({type(failure).__name__}); "
                                      "the server's log has the details")
        else:
            outcome, error = DONE, None
        with self._lock:
            job.error = error
            self._finish(job, outcome)

    def _finish(self, job: Job, outcome: str) -> None:
        """Mark ``job`` finished (under the lock): learn its pace, drop its data, forget the oldest jobs."""
        job.state, job.finished, job.data, job.test = outcome, self.now(), None, None
        if outcome == DONE and job.steps_done:
            rates = self._rates.setdefault((job.dataset, job.model_config.encoder), deque(maxlen=RATE_MEMORY))
            rates.append((job.finished - job.started) / job.examples)
        finished = [j for j in self._jobs.values() if j.state in FINISHED]
        for old in finished[: max(0, len(finished) - KEEP_FINISHED)]:
            del self._jobs[old.id]
        self._lock.notify_all()
