"""``ood``: how well each out-of-distribution score tells a model's test inputs from its dataset's OOD
set (or noise), every score by every detection metric with its bootstrap interval."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from explorer.core.config import COVARIANCES, DEFAULT_COVARIANCE
from explorer.core.errors import ArgumentError, BundleError
from explorer.measure.intervals import LEVEL, N_RESAMPLES


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("ood", help="out-of-distribution detection of checkpoints or predictions bundles: "
                              "every score by AUROC, AUPR-in, AUPR-out and FPR at 95 % TPR, with intervals")
    p.add_argument("files", nargs="+", metavar="file",
                   help="checkpoints (.pt), against their dataset's out-of-distribution set (uniform noise where it "
                        "has none), or predictions bundles (.npz) with ood_logits (and ood_latents)")
    p.add_argument("--n", type=int, help="at most N in-distribution test inputs and as many OOD ones, drawn with "
                   "--seed (default: all)")
    p.add_argument("--seed", type=int, default=0, help="seed of the drawn inputs, the noise and the resamples "
                   "(default: 0)")
    p.add_argument("--implied", choices=COVARIANCES, default=DEFAULT_COVARIANCE,
                   help="for a softmax layer, which of its implied Gaussians the Mahalanobis score and log p(z) "
                        "are under: the member fitted to its validation latents (a bundle's val_latents), with "
                        f"this covariance, or the identity convention (default: {DEFAULT_COVARIANCE})")
    p.add_argument("--resamples", type=int, default=N_RESAMPLES,
                   help=f"bootstrap resamples behind each {LEVEL * 100:g} %% interval; the in- and out-of-"
                        f"distribution sets are resampled independently (default: {N_RESAMPLES})")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")


def run(args: argparse.Namespace) -> None:
    from explorer.measure.ood import comparison_intervals

    if args.n is not None and args.n < 1:
        raise ArgumentError(f"--n must be at least 1, got {args.n}")
    if args.resamples < 2:
        raise ArgumentError(f"--resamples must be at least 2, got {args.resamples}")
    reports = []
    for path in args.files:
        described, comparison = _compare(path, args)
        intervals = comparison_intervals(comparison, args.resamples, args.seed)
        reports.append({"file": path, **described, "seed": args.seed, "resamples": args.resamples, "level": LEVEL,
                        "scores": {s: {m: list(i[:3]) for m, i in ms.items()} for s, ms in intervals.items()}})
    if args.json:
        print(json.dumps(reports))
        return
    print("\n\n".join(_table(report) for report in reports))


def _compare(path: str, args: argparse.Namespace) -> tuple[dict, dict]:
    """What was compared ({"in", "out", "n_in", "n_out"}) and :func:`explorer.measure.ood.ood_comparison`'s
    result for one file."""
    from explorer.core.bundles import is_bundle_path, load_bundle
    from explorer.core.checkpoints import load_checkpoint
    from explorer.core.data import dataset_info, load_dataset, readable_by, subset_indices
    from explorer.measure.latents import checkpoint_reference
    from explorer.measure.ood import bundle_comparison, noise_images, ood_comparison

    if is_bundle_path(path):
        found = load_bundle(path)
        try:
            comparison = bundle_comparison(found, found.implied_gaussians(args.implied), args.n, args.seed)
        except BundleError as error:  # the message says what the bundle lacks, not which bundle
            raise BundleError(f"{Path(path).name} {error}") from None
        said = {"in": found.dataset_name or "its rows", "out": "its ood_logits"}
    else:
        model, meta = load_checkpoint(path)
        dataset, other = meta["dataset"], dataset_info(meta["dataset"]).ood
        test = load_dataset(dataset, "test")
        x_in = readable_by(test.subset(subset_indices(len(test.y), args.n, args.seed)), model).x
        if other:
            outside = load_dataset(other, "test")
            x_out = readable_by(outside.subset(subset_indices(len(outside.y), args.n, args.seed)), model).x
        else:
            x_out = noise_images(x_in, len(x_in), seed=args.seed)
        reference = checkpoint_reference(model, meta, args.implied, test=readable_by(test, model))
        comparison = ood_comparison(model, x_in, x_out, reference)
        said = {"in": f"{dataset} test", "out": f"{other} test" if other else f"uniform noise (seed {args.seed})"}
    first = next(iter(comparison.values()))
    return {**said, "n_in": len(first["in"]), "n_out": len(first["out"])}, comparison


def _table(report: dict) -> str:
    """One file's scores (rows) by metrics (columns), "0.959 [0.951, 0.966]"."""
    from explorer.measure.ood import METRICS, SCORES

    head = (f"{report['file']}: {report['in']} ({report['n_in']}) against {report['out']} ({report['n_out']}); "
            f"in-distribution positive; {report['level']:.0%} intervals, {report['resamples']} resamples of each "
            f"set (seed {report['seed']})")
    width = max(len(SCORES[s]) for s in report["scores"])
    lines = [head, f"{'score':<{width}}" + "".join(f"  {METRICS[m]:<21}" for m in METRICS)]
    for score, metrics in report["scores"].items():
        lines.append(f"{SCORES[score]:<{width}}" + "".join(
            f"  {'{:.3f} [{:.3f}, {:.3f}]'.format(*metrics[m]):<21}" for m in METRICS))
    return "\n".join(lines)
