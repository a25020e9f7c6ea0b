"""Text classification on this machine: seconds per epoch, and the test figures of softmax and VC
against a TF-IDF + logistic regression reference trained in the same run.

For each dataset it fits the reference (:func:`explorer.jobs.benchmark.text_reference`: scikit-learn's
TF-IDF and logistic regression on the whole training split), then trains each method
with the dataset's defaults (``DatasetInfo.defaults``, chosen on the validation split) for each seed
and prints, per run, the seconds of every epoch and the test split's accuracy (also as a share of the
reference's), ECE, classwise ECE, NLL and latent fit (median r² ÷ the χ²_d median; mean KS of the χ²
check). Nothing here chooses a setting: the test split is only reported.

    python benchmarks/bench_text.py [--datasets 20newsgroups reuters-r8] [--methods softmax vc]
                                    [--seeds 0] [--threads 2] [--json out.json]

Needs the text files under ``$EXPLORER_DATA_DIR`` (``20newsgroups/``, ``reuters-r8/``; see the README's
*Data*), or the network for 20 Newsgroups.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path



def run(dataset: str, method: str, seed: int, train, test) -> dict[str, object]:
    from explorer import default_configs, evaluate
    from explorer.jobs.training import train as fit
    from explorer.measure.latents import latent_fit

    model_config, train_config = default_configs(dataset, method, seed=seed, snapshot_points=0)
    result = fit(train, model_config, train_config)
    metrics = evaluate(result.model, test.x, test.y)
    latents = latent_fit(result.model, test.x, test.y)
    return {"dataset": dataset, "method": method, "seed": seed,
            "epoch_seconds": [round(r["seconds"], 2) for r in result.history],
            **metrics, "r2_ratio": latents.median_ratio, "mean_ks": latents.mean_ks}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["20newsgroups", "reuters-r8"])
    parser.add_argument("--methods", nargs="+", default=["softmax", "vc"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default: 2)")
    parser.add_argument("--json", help="also write every figure here")
    args = parser.parse_args()

    import torch

    from explorer import load_dataset
    from explorer.jobs.benchmark import text_reference

    torch.set_num_threads(args.threads)
    print(f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, "
          f"torch {torch.__version__}", flush=True)
    rows = []
    for dataset in args.datasets:
        started = time.perf_counter()
        train, test = load_dataset(dataset, "train"), load_dataset(dataset, "test")
        print(f"\n{dataset}: {len(train)} training / {len(test)} test documents, vocabulary "
              f"{train.vocabulary.size} ids, loaded in {time.perf_counter() - started:.1f} s", flush=True)
        base = text_reference(train, test)
        rows.append({"dataset": dataset, "method": "tfidf+logreg", **base})
        print(f"  tfidf+logreg   accuracy {base['accuracy']:.4f}  ECE {base['ece']:.4f}  classwise ECE "
              f"{base['classwise_ece']:.4f}  NLL {base['nll']:.4f}  ({base['seconds']:.0f} s)", flush=True)
        for method in args.methods:
            for seed in args.seeds:
                row = run(dataset, method, seed, train, test)
                rows.append(row)
                seconds = row["epoch_seconds"]
                print(f"  {method:<8} s{seed}   accuracy {row['accuracy']:.4f} ({row['accuracy'] / base['accuracy']:.3f}"
                      f" of the reference)  ECE {row['ece']:.4f}  classwise ECE {row['classwise_ece']:.4f}  NLL "
                      f"{row['nll']:.4f}  r2 ratio {row['r2_ratio']:.3f}  KS {row['mean_ks']:.3f}", flush=True)
                print(f"      seconds per epoch: mean {sum(seconds) / len(seconds):.2f}, range "
                      f"{min(seconds):.2f}-{max(seconds):.2f} over {len(seconds)} epochs", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
