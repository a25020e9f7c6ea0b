"""``compare``: train several methods alike and print their test metrics side by side."""

from __future__ import annotations

import argparse
from pathlib import Path

from explorer.cli._common import add_config_flags, overrides, progress_bar
from explorer.core.config import METHODS, default_configs


def add_parser(subparsers) -> None:
    from explorer.core.data import DATASETS

    p = subparsers.add_parser("compare", help="train several methods alike and print their test metrics")
    p.add_argument("--dataset", default="digits", choices=tuple(DATASETS), help="(default: digits)")
    p.add_argument("--methods", nargs="+", default=["softmax", "vc"], choices=METHODS,
                   help="(default: softmax vc)")
    p.add_argument("--out-dir", help="also save each model as OUT_DIR/<dataset>-<method>.pt")
    add_config_flags(p)


def run(args: argparse.Namespace) -> None:
    from explorer.jobs.runs import train_and_save

    rows = []
    for method in args.methods:
        model_config, train_config = default_configs(args.dataset, method, **overrides(args))
        out = Path(args.out_dir) / f"{args.dataset}-{method}.pt" if args.out_dir else None
        _, meta = train_and_save(args.dataset, model_config, train_config, out=out,
                                 callback=progress_bar(method, False))
        rows.append((method, meta["metrics"]))
    keys = ("accuracy", "ece", "adaptive_ece", "nll", "brier")
    print(f"{args.dataset}, d = {model_config.latent_dim}, seed {train_config.seed}, test split "
          f"(n = {rows[0][1]['n']})")
    print(f"{'method':<10}" + "".join(f"{k:>14}" for k in keys))
    for method, m in rows:
        print(f"{method:<10}" + "".join(f"{m[k]:>14.4f}" for k in keys))
