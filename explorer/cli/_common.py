"""What several subcommands share: the parser that reports a bad argument in one line, the flags of
every model and training setting, the metrics table, the training progress bar, and the test split a
checkpoint reads."""

from __future__ import annotations

import argparse
import dataclasses
import sys

from explorer.core.config import (
    AMP_MODES, AUGMENTATIONS, DEVICES, ENCODERS, KL_ESTIMATORS, OBJECTIVE_DEFAULTS, OBJECTIVES, PRIORS, SCHEDULES,
    VARIANCES, ModelConfig, TrainConfig, help_of, value_type,
)
from explorer.core.errors import ArgumentError

CHOICES = {"amp": AMP_MODES, "augment": AUGMENTATIONS, "encoder": ENCODERS, "schedule": SCHEDULES,
           "variance": VARIANCES, "device": DEVICES, "objective": OBJECTIVES, "kl_estimator": KL_ESTIMATORS,
           "prior": PRIORS}
"""The allowed values of every setting that takes a name."""
NOT_FLAGS = {"method", "num_classes", "input_shape", "mean", "std", "vocab_size"}
"""Config fields without a flag: the method is a subcommand's own argument, the rest the dataset's."""


class Parser(argparse.ArgumentParser):
    """argparse, but a bad argument gives one line on stderr instead of the usage block."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def flag(name: str) -> str:
    """The command-line flag of a setting or parameter: ``lambda_kl`` -> ``--lambda-kl``."""
    return "--" + name.replace("_", "-")


def field_help(cls: type, name: str, default: object = dataclasses.MISSING) -> str:
    """The help of a flag of ``cls``'s field ``name``: the field's own (:func:`explorer.core.config.help_of`)
    and ``(default: ...)``, the field's default unless the flag has another."""
    default = {f.name: f for f in dataclasses.fields(cls)}[name].default if default is dataclasses.MISSING else default
    return f"{help_of(cls, name)} (default: {default})"


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per field of :class:`ModelConfig` and :class:`TrainConfig` (but :data:`NOT_FLAGS`), with
    the field's help (:func:`explorer.core.config.help_of`) and default; unset, a flag is None, and the
    dataset's default, then the dataclass's, applies (:func:`overrides`)."""
    from explorer.core.data import DATASETS

    dataset_keys = sorted({k for info in DATASETS.values() for k in info.defaults})
    for cls in (ModelConfig, TrainConfig):
        for f in dataclasses.fields(cls):
            if f.name in NOT_FLAGS:
                continue
            text = help_of(cls, f.name)
            if f.default is False:  # a switch: given or not
                parser.add_argument(flag(f.name), action="store_true", default=None, help=text)
                continue
            parser.add_argument(
                flag(f.name), default=None, type=value_type(f, cls), choices=CHOICES.get(f.name),
                # a None default depends on other settings: the help says how
                help=_unset_note(text, f.name, DATASETS) if f.default is None else
                field_help(cls, f.name, "dataset's" if f.name in dataset_keys else repr(f.default)),
            )


def _unset_note(text: str, name: str, datasets: dict) -> str:
    """``text`` plus what a setting whose default is None takes: each objective's own value
    (:data:`OBJECTIVE_DEFAULTS`), and the datasets whose paper-objective vc takes another
    (``DatasetInfo.paper_vc``). A setting the objectives do not choose keeps ``text`` alone: its help
    says what None takes."""
    if not all(name in own for own in OBJECTIVE_DEFAULTS.values()):
        return text
    paper, released = (_shown(OBJECTIVE_DEFAULTS[o][name]) for o in ("paper", "released"))
    text = f"{text}; default: {paper} with --objective paper, {released} with released"
    own = [f"{info.name}: {info.paper_vc[name]}" for info in datasets.values() if name in info.paper_vc]
    return f"{text}; {', '.join(own)} under paper" if own else text


def _shown(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def overrides(args: argparse.Namespace) -> dict[str, object]:
    """The config settings given as flags (those left unset are None and left out)."""
    names = {f.name for cls in (ModelConfig, TrainConfig) for f in dataclasses.fields(cls)} - NOT_FLAGS
    return {k: v for k, v in vars(args).items() if k in names and v is not None}


def progress_bar(label: str, quiet: bool):
    """A tqdm callback for :func:`explorer.jobs.training.train`, or None when quiet."""
    if quiet:
        return None
    from tqdm import tqdm

    bar = None

    def callback(p) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=p.epochs * p.steps, desc=label, unit="step", file=sys.stderr)
        bar.update(1)
        bar.set_postfix({k: f"{v:.3g}" for k, v in p.terms.items()}, refresh=False)
        if p.record is not None:
            r = p.record
            bar.write(f"{label} epoch {p.epoch}/{p.epochs}: val accuracy {r['val_accuracy']:.4f}, "
                      f"val ECE {r['val_ece']:.4f}", file=sys.stderr)
            if p.epoch == p.epochs:
                bar.close()

    return callback


def say(line: str) -> None:
    """Print one progress line at once (a slow step may follow)."""
    print(line, flush=True)


def table(metrics: dict[str, object]) -> str:
    """One ``name  value`` line per metric, floats to 4 decimals."""
    return "\n".join(f"{k:>14}  {v:.4f}" if isinstance(v, float) else f"{k:>14}  {v}"
                     for k, v in metrics.items())


def readable_test(meta: dict, dataset: str | None, model):
    """(name, data): the test split of ``dataset`` (default: the checkpoint's own), as ``model`` reads it;
    an error when its shape or classes do not fit the model."""
    from explorer.core.data import DATASETS, load_dataset, readable_by

    name = dataset or meta["dataset"]
    info = DATASETS[name]
    if tuple(info.input_shape) != tuple(model.config.input_shape) or info.num_classes != model.config.num_classes:
        raise ArgumentError(f"dataset {name!r} ({info.input_shape}, {info.num_classes} classes) does not fit "
                            f"this model ({tuple(model.config.input_shape)}, {model.config.num_classes} classes)")
    return name, readable_by(load_dataset(name, "test"), model)
