"""The training queue: concurrency held to its workers, first come first served, estimates from the runs
ahead and from finished runs' pace, cancel of queued and running runs, errors kept on the job, and runs
that finish and are saved with nobody watching.

Most tests replace ``train`` by a stand-in that takes one step per release of a gate, on a clock the
test moves, so that what the queue does at each moment is known; the others train small digits runs."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import pytest
import torch

from conftest import quick_configs, wait_for
from explorer.core.checkpoints import load_checkpoint
from explorer.core.data import load_dataset, split_indices
from explorer.core.errors import ArgumentError
from explorer.jobs import training_queue
from explorer.jobs.limits import Limits
from explorer.jobs.training import Progress, steps_per_epoch
from explorer.jobs.training_queue import (
    CANCELLED, DONE, FAILED, PRIOR_SECONDS_PER_EXAMPLE, QUEUED, RUNNING, TrainingQueue,
)

WAIT = 60  # seconds: a bound on waits that never take it unless the queue is broken


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", "train"), load_dataset("digits", "test")


@pytest.fixture(autouse=True)
def runs_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_RUNS_DIR", str(tmp_path / "runs"))


@dataclass
class Clock:
    """A clock the test moves: the stand-in training advances it by ``per_step`` at every step."""

    time: float = 0.0
    per_step: float = 1.0

    def __call__(self) -> float:
        return self.time


@dataclass
class FakeTraining:
    """``train`` stand-in: each step waits for a release (:meth:`step`), moves the clock and calls back;
    records how many runs were inside it at once."""

    clock: Clock
    inside: int = 0
    most_inside: int = 0
    releases: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(0))
    lock: threading.Lock = field(default_factory=threading.Lock)
    fail_with: Exception | None = None

    def __call__(self, data, model_config, config, callback):
        with self.lock:
            self.inside += 1
            self.most_inside = max(self.most_inside, self.inside)
        try:
            if self.fail_with is not None:
                raise self.fail_with
            steps = steps_per_epoch(len(split_indices(data.y, config)[0]), config.batch_size)
            for epoch in range(1, config.epochs + 1):
                for step in range(1, steps + 1):
                    assert self.releases.acquire(timeout=WAIT), "the test never released this step"
                    with self.lock:
                        self.clock.time += self.clock.per_step
                    callback(Progress(epoch, config.epochs, step, steps, {}))
        finally:
            with self.lock:
                self.inside -= 1

    def step(self, n: int = 1) -> None:
        for _ in range(n):
            self.releases.release()


@pytest.fixture
def fake(monkeypatch):
    clock = Clock()
    training = FakeTraining(clock)
    monkeypatch.setattr(training_queue, "train", training)
    return training


def tiny(epochs: int = 1, batch_size: int = 512, **overrides):
    """Digits configs with few steps: 3 per epoch at batch 512."""
    return quick_configs("softmax", epochs=epochs, batch_size=batch_size, **overrides)


def test_no_more_runs_train_at_once_than_workers(fake, digits):
    queue = TrainingQueue(Limits(workers=2, max_per_session=5), now=fake.clock)
    ids = [queue.submit("a", *digits, *tiny()) for _ in range(4)]
    wait_for(lambda: fake.inside == 2, "two runs started")
    assert [queue.status(i).state for i in ids] == [RUNNING, RUNNING, QUEUED, QUEUED]
    fake.step(4 * 3)
    for job_id in ids:
        assert queue.wait(job_id, WAIT).state == DONE
    assert fake.most_inside == 2


def test_the_queue_is_first_come_first_served_and_estimates_each_start(fake, digits):
    queue = TrainingQueue(Limits(workers=1, max_per_session=5), now=fake.clock)
    configs = [tiny(epochs=2), tiny(epochs=1), tiny(epochs=3)]
    ids = [queue.submit("a", *digits, *c) for c in configs]
    wait_for(lambda: queue.status(ids[0]).state == RUNNING, "the first run started")
    kept = len(split_indices(digits[0].y, configs[0][1])[0])
    prior = PRIOR_SECONDS_PER_EXAMPLE["mlp"]
    first, second, third = (queue.status(i) for i in ids)
    assert (first.place, second.place, third.place) == (None, 1, 2)
    # before any step, a run's duration is its examples at the prior's pace; the starts add up the runs ahead
    assert first.remaining == pytest.approx(2 * kept * prior)
    assert second.wait == pytest.approx(2 * kept * prior) and not second.measured
    assert third.wait == pytest.approx(3 * kept * prior)
    assert second.remaining == pytest.approx(kept * prior)

    fake.step(2)  # two of the first run's six steps, one clock second each: four seconds left at that pace
    wait_for(lambda: queue.status(ids[0]).step == 2, "two steps taken")
    assert queue.status(ids[0]).remaining == pytest.approx(4.0)
    assert queue.status(ids[1]).wait == pytest.approx(4.0)

    fake.step(4)
    assert queue.wait(ids[0], WAIT).state == DONE
    # the finished run's pace (6 s over 2·kept examples) now estimates the others, of the same dataset and encoder
    wait_for(lambda: queue.status(ids[1]).state == RUNNING, "the second run started")
    second, third = queue.status(ids[1]), queue.status(ids[2])
    assert queue.status(ids[0]).seconds_per_example == pytest.approx(6 / (2 * kept))
    assert second.measured and second.remaining == pytest.approx(3.0)
    assert third.place == 1 and third.wait == pytest.approx(3.0) and third.remaining == pytest.approx(9.0)
    assert queue.estimate("digits", "cnn", 100) == (pytest.approx(100 * PRIOR_SECONDS_PER_EXAMPLE["cnn"]), False)
    fake.step(3 + 9)
    assert [queue.wait(i, WAIT).state for i in ids] == [DONE, DONE, DONE]


def test_a_queued_run_cancelled_leaves_the_queue(fake, digits):
    queue = TrainingQueue(Limits(workers=1, max_per_session=5), now=fake.clock)
    ids = [queue.submit("a", *digits, *tiny()) for _ in range(3)]
    wait_for(lambda: queue.status(ids[0]).state == RUNNING, "the first run started")
    queue.cancel(ids[1])
    assert queue.status(ids[1]).state == CANCELLED and queue.status(ids[1]).place is None
    assert queue.status(ids[2]).place == 1  # the run behind moved up
    fake.step(2 * 3)
    assert queue.wait(ids[2], WAIT).state == DONE
    assert queue.status(ids[1]).state == CANCELLED and fake.most_inside == 1


def test_closing_the_queue_stops_every_run_and_takes_no_more(fake, digits):
    """What happens when the server stops: nothing is left inside torch as the process exits."""
    queue = TrainingQueue(Limits(workers=1, max_per_session=5), now=fake.clock)
    ids = [queue.submit("a", *digits, *tiny()) for _ in range(2)]
    wait_for(lambda: queue.status(ids[0]).state == RUNNING, "the first run started")
    closing = threading.Thread(target=queue.close, kwargs={"timeout": WAIT})
    closing.start()
    wait_for(lambda: queue.status(ids[1]).state == CANCELLED, "the queued run cancelled")  # and the running one told
    fake.step()  # the running run's next step sees its cancel
    closing.join(WAIT)
    assert [queue.status(i).state for i in ids] == [CANCELLED, CANCELLED] and fake.inside == 0
    with pytest.raises(ArgumentError, match="the server is stopping"):
        queue.submit("a", *digits, *tiny())


def test_a_failing_run_keeps_its_message_and_the_queue_goes_on(fake, digits):
    queue = TrainingQueue(Limits(workers=1, max_per_session=5), now=fake.clock)
    fake.fail_with = ZeroDivisionError("a bug")  # not an ExplorerError: no traceback, a line for the student
    failed = queue.wait(queue.submit("a", *digits, *tiny()), WAIT)
    assert failed.state == FAILED and "unexpected error (ZeroDivisionError)" in failed.error
    assert "Traceback" not in failed.error
    fake.fail_with = None
    later = queue.submit("a", *digits, *tiny())
    fake.step(3)
    assert queue.wait(later, WAIT).state == DONE


def test_the_limits_refuse_a_run_before_it_is_queued(fake, digits):
    queue = TrainingQueue(Limits(workers=1, max_epochs=5, max_per_session=2, max_runs=3), now=fake.clock)
    with pytest.raises(ArgumentError, match="6 epochs is more than this server's limit of 5.*EXPLORER_MAX_EPOCHS"):
        queue.submit("a", *digits, *tiny(epochs=6))
    with pytest.raises(ArgumentError, match="resnet18 encoder is not trained on this server.*EXPLORER_TRAIN_ENCODERS"):
        queue.submit("a", *digits, *tiny(encoder="resnet18"))
    queue.submit("a", *digits, *tiny())
    queue.submit("a", *digits, *tiny())
    with pytest.raises(ArgumentError, match="you have 2 runs queued or running.*EXPLORER_MAX_RUNS_PER_SESSION"):
        queue.submit("a", *digits, *tiny())
    queue.submit("b", *digits, *tiny())
    with pytest.raises(ArgumentError, match="queue is full \\(3 runs.*EXPLORER_MAX_RUNS"):
        queue.submit("c", *digits, *tiny())
    assert len(queue.statuses()) == 3  # nothing refused was queued
    assert [s.owner for s in queue.statuses("a")] == ["a", "a"]
    fake.step(3 * 3)
    for status in queue.statuses():
        assert queue.wait(status.id, WAIT).state == DONE
    queue.submit("a", *digits, *tiny())  # finished runs no longer count
    fake.step(3)


# -- real runs on digits -------------------------------------------------------------------------------


def test_a_run_finishes_and_is_saved_with_nobody_watching(digits, tmp_path):
    queue = TrainingQueue(Limits(workers=1))
    job_id = queue.submit("a session that has gone", *digits, *quick_configs("vc", epochs=3))
    done = queue.wait(job_id, WAIT * 5)  # nobody reads its status while it trains
    assert done.state == DONE and done.error is None
    assert done.path.parent == tmp_path / "runs" / "trained" and done.path.name.startswith("digits-mlp-d2-vc-seed0-")
    _, meta = load_checkpoint(done.path)
    assert meta["epochs_done"] == 3 and meta["metrics_split"] == "test"
    assert done.summary["complete"] and done.summary["path"] == str(done.path)
    assert [r["epoch"] for r in done.history] == [1, 2, 3] and done.seconds_per_example > 0


def test_a_running_run_cancelled_stops_and_keeps_its_saved_epochs(digits):
    queue = TrainingQueue(Limits(workers=1))
    job_id = queue.submit("a", *digits, *quick_configs("vc", epochs=100, batch_size=16))
    wait_for(lambda: queue.status(job_id).summary is not None, "an epoch saved")
    queue.cancel(job_id)
    stopped = queue.wait(job_id, WAIT)
    assert stopped.state == CANCELLED and stopped.error is None
    _, meta = load_checkpoint(stopped.path)
    assert 1 <= meta["epochs_done"] < 100 and meta["epochs_done"] == stopped.summary["epochs_done"]
    assert meta["metrics_split"] == "validation" and not stopped.summary["complete"]


def test_an_error_of_the_settings_is_kept_on_the_job(digits):
    queue = TrainingQueue(Limits(workers=1))
    failed = queue.wait(queue.submit("a", *digits, *quick_configs("vc", prior="student_t", kl_estimator="moment")),
                        WAIT)
    assert failed.state == FAILED and "moment estimator's closed form needs a Gaussian prior" in failed.error
    assert failed.summary is None and not failed.path.exists()


def test_two_sessions_runs_at_once_do_not_disturb_each_other(digits):
    """Two runs with the same settings, submitted by two sessions in the same second and trained at once
    by two workers, write two files and build the very same model."""
    queue = TrainingQueue(Limits(workers=2))
    configs = quick_configs("vc", epochs=3)
    ids = [queue.submit(owner, *digits, *configs) for owner in ("first", "second")]
    wait_for(lambda: all(queue.status(i).state != QUEUED for i in ids), "both runs started")
    runs = [queue.wait(i, WAIT * 5) for i in ids]
    assert all(run.state == DONE for run in runs) and runs[0].path != runs[1].path
    (net_a, meta_a), (net_b, meta_b) = (load_checkpoint(run.path) for run in runs)
    assert meta_a["epochs_done"] == meta_b["epochs_done"] == 3
    # Same seed and settings: undisturbed runs agree (a shared generator would part them by far more).
    for name, value in net_a.state_dict().items():
        assert torch.allclose(value.float(), net_b.state_dict()[name].float(), rtol=1e-5, atol=1e-6), name
