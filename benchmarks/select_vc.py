"""Choose VC's objective, KL estimator and λ_kl on the validation split, never the test split.

For one dataset and latent dimension, trains softmax, LGM and VC under every variant of the grid
with the dataset's defaults (``--epochs`` and ``--train-fraction`` may override them) and prints, per
seed, what the choice rests on (METHOD.md §4), all measured on the validation split that training held
out: accuracy, ECE, NLL, the median squared Mahalanobis distance of the latents to their class
Gaussian divided by the median of its reference law (χ²_d: 1 when the latents follow their prior),
and the mean KS statistic of the χ² check (against d·F(d, ν) for a Student-t prior).

    python benchmarks/select_vc.py --dataset digits --seeds 0 1
    python benchmarks/select_vc.py --dataset mnist --epochs 3 --variants paper:moment:0.1 paper:moment:1

A variant is ``objective:estimator:lambda_kl``, with ``:width`` for the mlp estimator
(``released:linear:0.01`` is the authors' step, ``paper:mlp:0.01:64`` an MLP of width 64).
MNIST and Fashion-MNIST need their files (``--data-dir`` or ``EXPLORER_DATA_DIR``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from explorer.core.config import default_configs  # noqa: E402
from explorer.core.data import ImageData, load_dataset, split_indices  # noqa: E402
from explorer.jobs.training import train  # noqa: E402
from explorer.measure.calibration import evaluate  # noqa: E402
from explorer.measure.latents import latent_fit  # noqa: E402

VARIANTS = ("released:linear:0.01", "paper:linear:0.01", "paper:quadratic:0.01", "paper:moment:0.01",
            "paper:moment:0.1", "paper:moment:1")


def measure(data: ImageData, method: str, seed: int, overrides: dict) -> dict[str, float]:
    """Train one model on ``data`` (a training split) with its dataset's defaults and ``overrides``;
    its validation figures."""
    model_config, train_config = default_configs(data.name, method, seed=seed, snapshot_points=0, **overrides)
    started = time.perf_counter()
    model = train(data, model_config, train_config).model
    _, val = split_indices(data.y, train_config)
    x, y = data.x[val], data.y[val]
    report, fit = evaluate(model, x, y), latent_fit(model, x, y)
    return {"accuracy": report["accuracy"], "ece": report["ece"], "nll": report["nll"],
            "r2_ratio": fit.median_ratio, "ks": fit.mean_ks,
            "n": len(y), "seconds": time.perf_counter() - started}


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
    parser.add_argument("--data-dir", default=os.environ.get("EXPLORER_DATA_DIR"))
    args = parser.parse_args()
    if args.data_dir:
        os.environ["EXPLORER_DATA_DIR"] = args.data_dir
    common = {"latent_dim": args.latent_dim, "epochs": args.epochs, "train_fraction": args.train_fraction,
              "batch_size": args.batch_size}
    runs = [(m, "-", {}) for m in args.baselines]
    for variant in args.variants:
        objective, estimator, lambda_kl, *width = variant.split(":")
        runs.append(("vc", variant, {"objective": objective, "kl_estimator": estimator,
                                     "lambda_kl": float(lambda_kl), "disc_hidden": int(width[0]) if width else 0}))
    print(f"{args.dataset}, validation split; {' '.join(f'{k}={v}' for k, v in common.items() if v is not None)}")
    print(f"{'method':<8} {'variant':<22} {'seed':>4} {'accuracy':>9} {'ECE':>7} {'NLL':>7} {'r2/ref':>7} {'KS':>6} "
          f"{'s':>5}")
    data = load_dataset(args.dataset, "train")  # once: every run trains on the same split
    for method, name, overrides in runs:
        for seed in args.seeds:
            m = measure(data, method, seed, {**common, **overrides})
            print(f"{method:<8} {name:<22} {seed:>4} {m['accuracy']:>9.4f} {m['ece']:>7.4f} {m['nll']:>7.4f} "
                  f"{m['r2_ratio']:>7.3f} {m['ks']:>6.3f} {m['seconds']:>5.0f}", flush=True)


if __name__ == "__main__":
    main()
