"""``evaluate``: accuracy and calibration of a checkpoint on a test split (optionally shifted, or on the
validation split it held out), or of a predictions bundle's outputs."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from explorer.cli._common import readable_test, table
from explorer.core.config import COVARIANCES, DEFAULT_COVARIANCE, DEFAULT_SEVERITY, N_BINS
from explorer.core.errors import ArgumentError


def add_parser(subparsers) -> None:
    from explorer.core.data import DATASETS

    p = subparsers.add_parser("evaluate", help="accuracy and calibration of a checkpoint on a test split, or of a "
                              "predictions bundle (.npz)")
    p.add_argument("checkpoint", metavar="file",
                   help="a checkpoint (.pt), or a predictions bundle (a name ending in .npz: the outputs of any "
                        "classifier, see export and explorer.core.bundles)")
    p.add_argument("--dataset", choices=tuple(DATASETS), help="test split to use (default: the checkpoint's)")
    p.add_argument("--split", choices=("test", "validation"), default="test",
                   help="test: the dataset's test split; validation: the part of the checkpoint's own training "
                        "split it held out, where choices are made; for a bundle, its logits/labels or its "
                        "val_logits/val_labels (default: test)")
    p.add_argument("--corruption", help="a distribution shift to apply (see explorer.measure.corruptions); "
                   "needs the model itself, not a bundle")
    p.add_argument("--severity", type=int, default=DEFAULT_SEVERITY,
                   help=f"corruption severity 1-5 (default: {DEFAULT_SEVERITY})")
    p.add_argument("--bins", type=int, default=N_BINS, help=f"calibration bins (default: {N_BINS})")
    p.add_argument("--temperature-scaling", action="store_true",
                   help="divide the logits by a temperature fitted on the model's validation split (a bundle: "
                        "on its val_logits/val_labels)")
    p.add_argument("--latent-fit", action="store_true",
                   help="also how the test latents follow the head's class distributions: median r2 over the "
                        "reference law's median (1: as the prior spreads) and the mean KS of the chi2 check "
                        "(a bundle needs latents, weight and bias)")
    p.add_argument("--implied", choices=COVARIANCES, default=DEFAULT_COVARIANCE,
                   help="for a softmax layer, which of the Gaussians it implies --latent-fit checks against: the "
                        "member fitted by maximum likelihood to the validation latents (a bundle's val_latents, "
                        "else its test latents), with a diagonal, isotropic or full covariance, or the identity "
                        f"convention, of arbitrary scale (default: {DEFAULT_COVARIANCE})")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace) -> None:
    from explorer.core.bundles import is_bundle_path
    from explorer.core.checkpoints import checkpoint_validation_split, load_checkpoint
    from explorer.core.data import load_dataset
    from explorer.measure.corruptions import corrupt
    from explorer.measure.evaluation import checkpoint_temperature, evaluate

    if is_bundle_path(args.checkpoint):
        _evaluate_bundle(args)
        return
    model, meta = load_checkpoint(args.checkpoint)
    if args.split == "validation" and args.dataset not in (None, meta["dataset"]):
        raise ArgumentError(f"--split validation is the checkpoint's own ({meta['dataset']}); drop --dataset")
    # the training split, read once where the validation split or the temperature needs it (the implied
    # Gaussians load it themselves, and only for a softmax layer)
    train = load_dataset(meta["dataset"], "train") if args.split == "validation" or args.temperature_scaling else None
    if args.split == "validation":
        name, test = meta["dataset"], checkpoint_validation_split(model, meta, train)
    else:
        name, test = readable_test(meta, args.dataset, model)
    temperature = checkpoint_temperature(model, meta, train) if args.temperature_scaling else 1.0
    x = test.x if args.corruption is None else corrupt(test.x, args.corruption, args.severity)
    metrics = evaluate(model, x, test.y, n_bins=args.bins, temperature=temperature)
    metrics = {"dataset": name, "split": args.split, "corruption": args.corruption,
               "severity": args.severity if args.corruption else None, "temperature": temperature,
               **metrics}
    if args.latent_fit:
        from explorer.measure.latents import checkpoint_reference, latent_fit

        reference = checkpoint_reference(model, meta, args.implied, train, test)
        fit = latent_fit(model, x, test.y, reference)
        metrics.update(_fit_metrics(fit, reference))
    print(json.dumps(metrics) if args.json else table(metrics))


def _evaluate_bundle(args: argparse.Namespace) -> None:
    from explorer.core.bundles import load_bundle
    from explorer.measure.evaluation import evaluate_bundle

    for flag, value in (("--corruption", args.corruption), ("--dataset", args.dataset)):
        if value is not None:
            raise ArgumentError(f"{flag} needs the model itself: a bundle holds predictions only "
                                "(corruptions and other datasets need the model to be run again)")
    if args.latent_fit and args.split == "validation":
        raise ArgumentError("--latent-fit reads a bundle's test latents (drop --split validation)")
    bundle = load_bundle(args.checkpoint)
    head = None
    if args.latent_fit:
        if bundle.latents is None:
            raise ArgumentError(f"{Path(args.checkpoint).name} has no latents, so --latent-fit has nothing to read")
        head = bundle.implied_gaussians(args.implied)
        if head is None:
            raise ArgumentError(f"{Path(args.checkpoint).name} has no weight/bias (its last layer), so the class "
                                "Gaussians --latent-fit compares the latents with are unknown")
    metrics = evaluate_bundle(bundle, args.split, n_bins=args.bins, temperature_scaling=args.temperature_scaling)
    if head is not None:
        from explorer.measure.latents import fit_latents

        fit = fit_latents(head, bundle.latents, bundle.labels)
        metrics.update(_fit_metrics(fit, head))
    print(json.dumps(metrics) if args.json else table(metrics))


def _fit_metrics(fit, reference) -> dict:
    """--latent-fit's figures, with the implied Gaussians they were read against for a softmax layer."""
    implied = {"implied_gaussians": reference.description} if hasattr(reference, "description") else {}
    return {"r2_ratio": fit.median_ratio, "mean_ks": fit.mean_ks, "reference_law": fit.law_name, **implied}
