"""Choose VC's objective, KL estimator and λ_kl on the validation split, never the test split.

For one dataset and latent dimension, trains softmax, LGM and VC under every variant of the grid
with the dataset's defaults (``--epochs`` and ``--train-fraction`` may override them) and prints, per
seed, what the choice rests on (METHOD.md §4), all measured on the validation split that training held
out: accuracy, ECE, NLL, the median squared Mahalanobis distance of the latents to their class
Gaussian divided by the median of its reference law (χ²_d: 1 when the latents follow their prior),
and the mean KS statistic of the χ² check (against d·F(d, ν) for a Student-t prior). Softmax's
Gaussians are the diagonal member of its layer's implied family fitted to the validation latents
(METHOD.md §1), so its validation rows are read against a fit to the very latents they check.
``--set NAME=VALUE`` sets any other model or training setting for every run, baselines included.
``--test`` adds each model's test-split figures, for the report: the choice is made on the validation
rows alone. ``--out FOLDER`` also writes every row to ``FOLDER/NAME.json`` and their means and spreads
over the seeds to ``FOLDER/NAME.md``, a generated table that the settings' docstrings cite
(``docs/tuning/``; NAME is ``--name``, by default the dataset and d).

    python benchmarks/select_vc.py --dataset digits --seeds 0 1
    python benchmarks/select_vc.py --dataset mnist --epochs 3 --variants paper:moment:0.1 paper:moment:1
    python benchmarks/select_vc.py --dataset digits --latent-dim 2 --set prior_lr_scale=3

A variant is ``objective:estimator:lambda_kl``, with ``:width`` for the mlp estimator
(``released:linear:0.01`` is the authors' step, ``paper:mlp:0.01:64`` an MLP of width 64).
MNIST and Fashion-MNIST need their files (``--data-dir`` or ``EXPLORER_DATA_DIR``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shlex
import statistics
import sys
import time
from pathlib import Path

from explorer.core.checkpoints import validation_split
from explorer.core.config import ModelConfig, TrainConfig, default_configs, value_type
from explorer.core.data import Dataset, load_dataset
from explorer.jobs.training import train
from explorer.measure.evaluation import evaluate
from explorer.measure.latents import fitted_reference, latent_fit

VARIANTS = ("released:linear:0.01", "paper:linear:0.01", "paper:quadratic:0.01", "paper:moment:0.01",
            "paper:moment:0.1", "paper:moment:1")


def figures(model, x, y, reference) -> dict[str, float]:
    """What the choice rests on, for images x and labels y, the latents read against ``reference``."""
    report, fit = evaluate(model, x, y), latent_fit(model, x, y, reference)
    return {"accuracy": report["accuracy"], "ece": report["ece"], "nll": report["nll"],
            "r2_ratio": fit.median_ratio, "ks": fit.mean_ks, "n": len(y)}


def measure(data: Dataset, method: str, seed: int, overrides: dict,
            test: Dataset | None = None) -> tuple[dict[str, dict[str, float]], float]:
    """Train one model on ``data`` (a training split) with its dataset's defaults and ``overrides``;
    its figures on the validation split (and on ``test`` when given), and the seconds training took."""
    model_config, train_config = default_configs(data.name, method, seed=seed, snapshot_points=0, **overrides)
    started = time.perf_counter()
    model = train(data, model_config, train_config).model
    seconds = time.perf_counter() - started
    val = validation_split(model, data, train_config)
    reference = fitted_reference(model, val.x, val.y)
    splits = {"validation": figures(model, val.x, val.y, reference)}
    if test is not None:
        splits["test"] = figures(model, test.x, test.y, reference)
    return splits, seconds


def settings(pairs: list[str]) -> dict[str, object]:
    """``NAME=VALUE`` pairs as config values, each converted to the type of its field."""
    fields = {f.name: (f, cls) for cls in (ModelConfig, TrainConfig) for f in dataclasses.fields(cls)}
    values = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or name not in fields:
            raise SystemExit(f"--set takes NAME=VALUE with a ModelConfig or TrainConfig field, got {pair!r}")
        kind = value_type(*fields[name])
        if kind not in (bool, int, float, str):
            raise SystemExit(f"--set handles single values only; {name} is a {kind.__name__}")
        values[name] = text.lower() in ("1", "true", "yes") if kind is bool else kind(text)
    return values


MEASURES = (("accuracy", "accuracy"), ("ece", "ECE"), ("nll", "NLL"), ("r2_ratio", "r² ÷ ref"), ("ks", "KS"))
"""The figures a table shows, with their headings."""


def table(rows: list[dict], command: str) -> str:
    """Markdown: per method, variant and split, each measure's mean ± standard deviation over the seeds."""
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["method"], row["variant"], row["split"]), []).append(row)
    lines = [f"Written by `{command}`; do not edit. Mean ± standard deviation over the seeds.", "",
             "| method | variant | split | seeds | " + " | ".join(h for _, h in MEASURES) + " |",
             "| --- | --- | --- | --- |" + " --- |" * len(MEASURES)]
    for (method, variant, split), group in groups.items():
        cells = []
        for key, _ in MEASURES:
            values = [r[key] for r in group]
            spread = f" ± {statistics.stdev(values):.3f}" if len(values) > 1 else ""
            cells.append(f"{statistics.fmean(values):.3f}{spread}")
        seeds = ", ".join(str(r["seed"]) for r in group)
        lines.append(f"| {method} | {variant} | {split} | {seeds} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write(folder: Path, name: str, rows: list[dict], command: str) -> None:
    """``folder/name.json`` (every row, and the command) and ``folder/name.md`` (:func:`table`)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps({"command": command, "rows": rows}, indent=1) + "\n")
    (folder / f"{name}.md").write_text(table(rows, command))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--latent-dim", type=int, default=None, help="(default: the dataset's)")
    parser.add_argument("--epochs", type=int, default=None, help="(default: the dataset's)")
    parser.add_argument("--train-fraction", type=float, default=None, help="(default: 1)")
    parser.add_argument("--batch-size", type=int, default=None, help="(default: the dataset's)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS),
                        help="objective:estimator:lambda_kl[:width]")
    parser.add_argument("--baselines", nargs="*", default=["softmax", "lgm"], choices=["softmax", "lgm"],
                        help="methods trained beside the VC variants (default: both)")
    parser.add_argument("--set", nargs="*", default=[], metavar="NAME=VALUE",
                        help="any other ModelConfig or TrainConfig setting, for every run")
    parser.add_argument("--test", action="store_true",
                        help="also print each model's test-split figures, for the report: the choice is made "
                             "on the validation rows alone")
    parser.add_argument("--data-dir", default=os.environ.get("EXPLORER_DATA_DIR"))
    parser.add_argument("--out", type=Path, default=None,
                        help="folder to write NAME.json (every row) and NAME.md (means over seeds) to")
    parser.add_argument("--name", default=None, help="file name of --out's files (default: DATASET-dD)")
    args = parser.parse_args()
    if args.data_dir:
        os.environ["EXPLORER_DATA_DIR"] = args.data_dir
    common = {"latent_dim": args.latent_dim, "epochs": args.epochs, "train_fraction": args.train_fraction,
              "batch_size": args.batch_size, **settings(args.set)}
    runs = [(m, "-", {}) for m in args.baselines]
    for variant in args.variants:
        objective, estimator, lambda_kl, *width = variant.split(":")
        runs.append(("vc", variant, {"objective": objective, "kl_estimator": estimator,
                                     "lambda_kl": float(lambda_kl), "disc_hidden": int(width[0]) if width else 0}))
    shown = "validation and test splits" if args.test else "validation split"
    print(f"{args.dataset}, {shown}; {' '.join(f'{k}={v}' for k, v in common.items() if v is not None)}")
    print(f"{'method':<8} {'variant':<22} {'seed':>4} {'split':<10} {'accuracy':>9} {'ECE':>7} {'NLL':>7} "
          f"{'r2/ref':>7} {'KS':>6} {'s':>5}")
    data = load_dataset(args.dataset, "train")  # once: every run trains on the same split
    test = load_dataset(args.dataset, "test") if args.test else None
    rows = []
    for method, name, overrides in runs:
        for seed in args.seeds:
            splits, seconds = measure(data, method, seed, {**common, **overrides}, test)
            for split, m in splits.items():
                print(f"{method:<8} {name:<22} {seed:>4} {split:<10} {m['accuracy']:>9.4f} {m['ece']:>7.4f} "
                      f"{m['nll']:>7.4f} {m['r2_ratio']:>7.3f} {m['ks']:>6.3f} {seconds:>5.0f}", flush=True)
                rows.append({"method": method, "variant": name, "seed": seed, "split": split, **m,
                             "seconds": seconds})
    if args.out is not None:
        d = args.latent_dim or default_configs(args.dataset, "vc")[0].latent_dim
        command = shlex.join(["python", "benchmarks/select_vc.py", *sys.argv[1:]])
        write(args.out, args.name or f"{args.dataset}-d{d}", rows, command)


if __name__ == "__main__":
    main()
