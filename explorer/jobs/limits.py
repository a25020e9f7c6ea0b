"""What a teacher bounds on a shared server's training queue, read from the environment here alone.

One Streamlit server trains every student's runs in its own process (:mod:`explorer.jobs.training_queue`),
so what one student may ask for is bounded. Each bound is an environment variable, read when the
server's queue is made (the first visit to the Train page); ``vc-explorer app`` also takes each as an
option named after it (:func:`option`: ``--max-epochs 200`` sets ``EXPLORER_MAX_EPOCHS``):

=================================  ==========================  ==================================================
variable                           default                     what it bounds
=================================  ==========================  ==================================================
``EXPLORER_TRAIN_WORKERS``         max(1, cores // 2)          runs trained at once
``EXPLORER_MAX_EPOCHS``            100                         epochs of one run
``EXPLORER_MAX_BATCH_SIZE``        512                         mini-batch size of one run
``EXPLORER_TRAIN_ENCODERS``        mlp,cnn,bag                 encoders a run may train (comma-separated;
                                                               ``resnet18``: 11 million parameters, not allowed)
``EXPLORER_MAX_RUNS_PER_SESSION``  2                           runs of one browser session queued or running
``EXPLORER_MAX_RUNS``              30                          runs queued or running in all
=================================  ==========================  ==================================================

The defaults keep a 2-core server usable by a class: one run at a time, with its torch threads
(:attr:`Limits.threads`) on one core, leaves the other core to the pages; every dataset's default
settings fit them (digits: 60 epochs at batch 64; the text sets: batch 256) but CIFAR-10's ResNet-18,
for which the Train page offers the CNN. A request over a bound is
refused with an :class:`~explorer.core.errors.ArgumentError` that names the bound and its variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from explorer.core.config import ENCODERS, ModelConfig, TrainConfig
from explorer.core.errors import ArgumentError

VARIABLES = {
    "workers": "EXPLORER_TRAIN_WORKERS",
    "max_epochs": "EXPLORER_MAX_EPOCHS",
    "max_batch_size": "EXPLORER_MAX_BATCH_SIZE",
    "encoders": "EXPLORER_TRAIN_ENCODERS",
    "max_per_session": "EXPLORER_MAX_RUNS_PER_SESSION",
    "max_runs": "EXPLORER_MAX_RUNS",
}
"""Each field of :class:`Limits` -> the environment variable that sets it."""
HELP = {
    "workers": "training runs the server trains at once (by default half the cores, at least 1)",
    "max_epochs": "most epochs of one training run",
    "max_batch_size": "largest mini-batch of one training run",
    "encoders": "encoders a training run may use, comma-separated",
    "max_per_session": "training runs one browser session may have queued or running",
    "max_runs": "training runs queued or running in all",
}
"""Each field of :class:`Limits` -> its one-line help (``vc-explorer app --help`` adds the default)."""


def option(name: str) -> str:
    """The ``vc-explorer app`` option of field ``name``: its variable's name, ``--max-epochs`` for
    ``EXPLORER_MAX_EPOCHS``."""
    return "--" + VARIABLES[name].removeprefix("EXPLORER_").lower().replace("_", "-")


def cores() -> int:
    """CPU cores this process may run on (its affinity where the system says, else all of them)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on every system (macOS, Windows)
        return os.cpu_count() or 1


@dataclass(frozen=True)
class Limits:
    """Bounds on the training queue and on each run it accepts (see the module's table)."""

    workers: int = max(1, cores() // 2)
    max_epochs: int = 100
    max_batch_size: int = 512
    encoders: tuple[str, ...] = ("mlp", "cnn", "bag")
    max_per_session: int = 2
    max_runs: int = 30

    def __post_init__(self) -> None:
        for name in ("workers", "max_epochs", "max_batch_size", "max_per_session", "max_runs"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ArgumentError(f"{VARIABLES[name]} must be a whole number ≥ 1, not {value!r}")
        unknown = [e for e in self.encoders if e not in ENCODERS]
        if unknown or not self.encoders:
            raise ArgumentError(f"{VARIABLES['encoders']} must name encoders among {', '.join(ENCODERS)}, "
                                f"not {','.join(self.encoders)!r}")

    @property
    def threads(self) -> int:
        """Torch's intra-op threads of each run: the cores shared out among the runs trained at once.

        Each worker thread sets its own (torch's OpenMP setting is per thread), so N runs use about N
        times this many cores together and the pages' script threads keep torch's setting. One run on
        2 cores gets one thread: the other core serves the pages. The project's models gain little
        from a second thread, and two runs at once take as long per run as one run after the other
        on such a machine (``python benchmarks/bench_queue.py`` measures both), so running them in
        turn gives each student a result sooner.
        """
        return max(1, (cores() - 1) // self.workers) if cores() > 1 else 1

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Limits:
        """The limits the environment sets (``os.environ`` by default), the defaults for the rest."""
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for name, variable in VARIABLES.items():
            text = environ.get(variable, "").strip()
            if not text:
                continue
            if name == "encoders":
                values[name] = tuple(e.strip() for e in text.split(",") if e.strip())
                continue
            try:
                values[name] = int(text)
            except ValueError:
                raise ArgumentError(f"{variable} must be a whole number ≥ 1, not {text!r}") from None
        return cls(**values)

    def check(self, model_config: ModelConfig, train_config: TrainConfig) -> None:
        """Raise :class:`~explorer.core.errors.ArgumentError` naming the first bound the run exceeds."""
        if model_config.encoder not in self.encoders:
            raise ArgumentError(f"the {model_config.encoder} encoder is not trained on this server (allowed: "
                                f"{', '.join(self.encoders)}); {_raise('encoders')}")
        if train_config.epochs > self.max_epochs:
            raise ArgumentError(f"{train_config.epochs} epochs is more than this server's limit of "
                                f"{self.max_epochs}; {_raise('max_epochs')}")
        if train_config.batch_size > self.max_batch_size:
            raise ArgumentError(f"batch size {train_config.batch_size} is more than this server's limit of "
                                f"{self.max_batch_size}; {_raise('max_batch_size')}")


def _raise(name: str) -> str:
    """How the teacher raises bound ``name``: the sentence every refusal ends with."""
    return f"the teacher who runs it can raise the limit with {VARIABLES[name]}"
