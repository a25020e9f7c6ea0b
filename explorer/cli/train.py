"""``train``: train one model and save it as a checkpoint."""

from __future__ import annotations

import argparse
import sys

from explorer.cli._common import add_config_flags, overrides, progress_bar, table
from explorer.core.config import METHODS, ModelConfig, default_configs, help_of


def add_parser(subparsers) -> None:
    from explorer.core.data import DATASETS

    p = subparsers.add_parser("train", help="train one model and save it as a checkpoint")
    p.add_argument("--dataset", required=True, choices=tuple(DATASETS))
    p.add_argument("--method", required=True, choices=METHODS, help=help_of(ModelConfig, "method"))
    p.add_argument("--out", required=True, help="checkpoint file to write")
    p.add_argument("--dry-run", action="store_true",
                   help="one epoch on a few hundred images, to check the set-up; writes nothing")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_config_flags(p)


def run(args: argparse.Namespace) -> None:
    """Train and save one model; under ``torchrun`` every process trains its slice of each batch and
    rank 0 alone reports and saves (:mod:`explorer.jobs.distributed`)."""
    from explorer.jobs import distributed
    from explorer.jobs.runs import train_and_save

    settings = overrides(args)
    if args.dry_run:
        settings["epochs"] = 1
    model_config, train_config = default_configs(args.dataset, args.method, **settings)
    world = distributed.init_from_environment(train_config.device)
    try:
        if world is not None and world.main:
            print(f"data-parallel: {world.size} processes ({world.backend}), each on its slice of every batch "
                  f"of {train_config.batch_size}", file=sys.stderr)
        _, meta = train_and_save(
            args.dataset, model_config, train_config, out=None if args.dry_run else args.out,
            callback=progress_bar(args.method, args.quiet), max_train=400 if args.dry_run else None,
        )
    except BaseException:
        distributed.close(wait=False)  # the others may sit in a collective: the launcher stops them
        raise
    distributed.close()
    if world is None or world.main:
        print(table(meta["metrics"]))
        print("dry run: nothing written" if args.dry_run else f"saved {args.out}")
