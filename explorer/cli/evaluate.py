"""``evaluate``: accuracy and calibration of a checkpoint on a test split (optionally shifted, or on the
validation split it held out), or of a predictions bundle's outputs; with ``--selective`` its
risk-coverage figures (AURC, E-AURC), with ``--conformal`` its split conformal prediction sets."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from explorer.cli._common import readable_test, table
from explorer.core.config import COVARIANCES, DEFAULT_COVARIANCE, DEFAULT_SEVERITY, N_BINS
from explorer.core.errors import ArgumentError
from explorer.measure.conformal import ALPHA, DEFAULT_SCORE, RAPS_K_REG, RAPS_LAMBDA, SCORES
from explorer.measure.intervals import LEVEL, N_RESAMPLES
from explorer.measure.recalibration import RECALIBRATORS

COVERAGES = (0.5, 0.8, 0.9, 0.95)
"""The coverages ``--selective`` gives the selective risk at."""


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
    p.add_argument("--recalibrate", metavar="NAME", choices=RECALIBRATORS,
                   help="measure the outputs after a post-hoc recalibration fitted on the model's validation split "
                        f"(a bundle: on its val_logits/val_labels), never the evaluated split: {', '.join(RECALIBRATORS)}")
    p.add_argument("--temperature-scaling", action="store_true", help="the same as --recalibrate temperature")
    p.add_argument("--resamples", type=int, default=N_RESAMPLES,
                   help="bootstrap resamples of the evaluated examples behind each metric's "
                        f"{LEVEL * 100:g} %% interval; 0: no intervals (default: {N_RESAMPLES})")
    p.add_argument("--latent-fit", action="store_true",
                   help="also how the test latents follow the head's class distributions: median r2 over the "
                        "reference law's median (1: as the prior spreads) and the mean KS of the chi2 check "
                        "(a bundle needs latents, weight and bias)")
    p.add_argument("--implied", choices=COVARIANCES, default=DEFAULT_COVARIANCE,
                   help="for a softmax layer, which of the Gaussians it implies --latent-fit checks against: the "
                        "member fitted by maximum likelihood to the validation latents (a bundle's val_latents, "
                        "else its test latents), with a diagonal, isotropic or full covariance, or the identity "
                        f"convention, of arbitrary scale (default: {DEFAULT_COVARIANCE})")
    extra = p.add_argument_group("selective prediction and conformal prediction sets")
    extra.add_argument("--selective", action="store_true",
                       help="also selective prediction on the evaluated outputs (the model's own probabilities, "
                            "before any --recalibrate), ranked by max-softmax probability: AURC and E-AURC (Geifman "
                            "et al. 2019) with their bootstrap intervals, and the selective risk at coverages "
                            f"{', '.join(f'{c:g}' for c in COVERAGES)}")
    extra.add_argument("--conformal", action="store_true",
                       help="also split conformal prediction sets of the model's own probabilities, calibrated on "
                            "its validation split (a bundle: its val_logits/val_labels) and measured on the test "
                            "split: coverage with its binomial standard error, per class, and the mean set size")
    extra.add_argument("--alpha", type=float, default=ALPHA,
                       help=f"--conformal's miscoverage: sets meant to hold the label 1 - alpha of the time "
                            f"(default: {ALPHA})")
    extra.add_argument("--score", choices=SCORES, default=DEFAULT_SCORE,
                       help="--conformal's conformity score: lac (1 - p_y), aps or raps (randomised; raps with "
                            f"lambda {RAPS_LAMBDA}, k_reg {RAPS_K_REG}) (default: {DEFAULT_SCORE})")
    extra.add_argument("--mondrian", action="store_true",
                       help="--conformal with one threshold per class (class-conditional coverage)")
    extra.add_argument("--keep-top", action="store_true",
                       help="--conformal with the top class in every set: never an empty set, coverage at least "
                            "as high (randomised aps and raps otherwise leave some confident examples' sets empty)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace) -> None:
    from explorer.core.bundles import is_bundle_path
    from explorer.core.checkpoints import checkpoint_validation_split, load_checkpoint
    from explorer.core.data import load_dataset
    from explorer.measure.corruptions import corrupt
    from explorer.measure.evaluation import checkpoint_recalibrator
    from explorer.measure.inference import predict

    fix = _recalibration(args)
    if args.conformal and args.split == "validation":
        raise ArgumentError("--conformal calibrates on the validation split: measure its sets on the test split "
                            "(drop --split validation)")
    if is_bundle_path(args.checkpoint):
        _evaluate_bundle(args, fix)
        return
    model, meta = load_checkpoint(args.checkpoint)
    if args.split == "validation" and args.dataset not in (None, meta["dataset"]):
        raise ArgumentError(f"--split validation is the checkpoint's own ({meta['dataset']}); drop --dataset")
    if args.split == "validation" and fix:
        raise ArgumentError("a recalibration is fitted on the validation split: measure it on the test split "
                            "(drop --split validation)")
    # the training split, read once where the validation split or the recalibration needs it (the implied
    # Gaussians load it themselves, and only for a softmax layer)
    train = load_dataset(meta["dataset"], "train") if args.split == "validation" or fix or args.conformal else None
    if args.split == "validation":
        name, test = meta["dataset"], checkpoint_validation_split(model, meta, train)
    else:
        name, test = readable_test(meta, args.dataset, model)
    recalibrator = checkpoint_recalibrator(model, meta, train, fix) if fix else None
    x = test.x if args.corruption is None else corrupt(test.x, args.corruption, args.severity)
    logits, _ = predict(model, x)
    metrics = {"dataset": name, "split": args.split, "corruption": args.corruption,
               "severity": args.severity if args.corruption else None,
               **_report(logits.numpy(), test.y.numpy(), recalibrator, args)}
    if args.conformal:
        from explorer.measure.conformal import checkpoint_conformal

        predictor = checkpoint_conformal(model, meta, train, args.alpha, args.score, mondrian=args.mondrian, keep_top=args.keep_top)
        metrics.update(_conformal_metrics(predictor, logits.numpy(), test.y.numpy()))
    if args.selective:
        metrics = _with_selective(metrics, logits.numpy(), test.y.numpy(), args.resamples)
    if args.latent_fit:
        from explorer.measure.latents import checkpoint_reference, latent_fit

        reference = checkpoint_reference(model, meta, args.implied, train, test)
        fit = latent_fit(model, x, test.y, reference)
        metrics.update(_fit_metrics(fit, reference))
    _print(metrics, args.json)


def _recalibration(args: argparse.Namespace) -> str | None:
    """The recalibration asked for: --recalibrate's name, "temperature" for --temperature-scaling, or None."""
    if args.temperature_scaling and args.recalibrate not in (None, "temperature"):
        raise ArgumentError(f"--temperature-scaling and --recalibrate {args.recalibrate} ask for two recalibrations: "
                            "choose one")
    if not 0 < args.alpha < 1:
        raise ArgumentError(f"--alpha must lie in (0, 1), got {args.alpha}")
    if args.resamples < 0 or args.resamples == 1:
        raise ArgumentError(f"--resamples must be 0 (no intervals) or at least 2, got {args.resamples}")
    return "temperature" if args.temperature_scaling else args.recalibrate


def _report(logits, labels, recalibrator, args: argparse.Namespace) -> dict:
    """The metrics, their intervals and ``temperature`` (T under temperature scaling, 1 without a
    recalibration, None under another one)."""
    from explorer.measure.evaluation import recalibrated_report

    temperature = 1.0 if recalibrator is None else getattr(recalibrator, "temperature", None)
    return {"temperature": temperature,
            **recalibrated_report(logits, labels, recalibrator, args.bins, args.resamples)}


def _with_selective(metrics: dict, logits, labels, n_resamples: int) -> dict:
    """``metrics`` and the selective figures of the outputs, ranked by their max-softmax probability: aurc,
    e_aurc (their percentile bootstrap intervals beside the others'), and ``selective_risk`` at
    :data:`COVERAGES` ({coverage: risk})."""
    from explorer.measure.calibration import _top_label
    from explorer.measure.recalibration import apply_temperature
    from explorer.measure.selective import aurc, aurc_intervals, e_aurc, selective_risk

    confidence, correct = _top_label(apply_temperature(logits, 1.0), labels)
    out = {**metrics, "aurc": aurc(confidence, correct), "e_aurc": e_aurc(confidence, correct),
           "selective_risk": {f"{c:g}": selective_risk(confidence, correct, c) for c in COVERAGES}}
    if n_resamples:
        found = aurc_intervals(confidence, correct, n_resamples)
        out["intervals"] = {**metrics["intervals"], **{k: [i.low, i.high] for k, i in found.items()}}
    return out


def _conformal_metrics(predictor, logits, labels) -> dict:
    """--conformal's figures: how the predictor was calibrated, and its sets' coverage on the test outputs."""
    from explorer.measure.conformal import set_coverage
    from explorer.measure.recalibration import apply_temperature

    found = set_coverage(predictor.sets(apply_temperature(logits, 1.0)), labels)
    return {"conformal": {**predictor.as_dict(), **found.as_dict(), "warning": predictor.warning()}}


def _conformal_rows(found: dict) -> dict:
    """The table's rows of --conformal: coverage ± its binomial SE, per class, and the sets' sizes, after a
    WARNING row where a threshold is +inf (:meth:`~explorer.measure.conformal.ConformalPredictor.warning`)."""
    per_class = " ".join("-" if c is None else f"{c:.3f}" for c in found["per_class_coverage"])
    how = (f"{found['score']}{', mondrian' if found['mondrian'] else ''}{', keep top' if found['keep_top'] else ''}, "
           f"alpha {found['alpha']:g}")
    warning = {"WARNING": found["warning"]} if found.get("warning") else {}
    return {"conformal": f"{how}, calibrated on {found['n_calibration']} validation examples", **warning,
            "coverage": f"{found['coverage']:.4f} ± {found['coverage_se']:.4f} (binomial SE)",
            "per-class cov.": per_class, "mean set size": found["mean_set_size"],
            "set sizes": " ".join(f"{size}:{count}" for size, count in enumerate(found["set_size_counts"]) if count)}


def _print(metrics: dict, as_json: bool) -> None:
    """JSON, or a table whose metrics carry their intervals: "ece  0.0213 [0.0180, 0.0251]"."""
    if as_json:
        print(json.dumps(metrics))
        return
    intervals = metrics.pop("intervals", {})
    risks = metrics.pop("selective_risk", {})
    conformal = metrics.pop("conformal", None)
    shown = {k: f"{v:.4f} [{intervals[k][0]:.4f}, {intervals[k][1]:.4f}]" if k in intervals else v
             for k, v in metrics.items()}
    shown.update({f"risk @ {c}": risk for c, risk in risks.items()})
    if conformal is not None:
        shown.update(_conformal_rows(conformal))
    print(table(shown))


def _evaluate_bundle(args: argparse.Namespace, fix: str | None) -> None:
    from explorer.core.bundles import load_bundle
    from explorer.measure.evaluation import bundle_outputs, bundle_recalibrator

    for flag, value in (("--corruption", args.corruption), ("--dataset", args.dataset)):
        if value is not None:
            raise ArgumentError(f"{flag} needs the model itself: a bundle holds predictions only "
                                "(corruptions and other datasets need the model to be run again)")
    if args.latent_fit and args.split == "validation":
        raise ArgumentError("--latent-fit reads a bundle's test latents (drop --split validation)")
    if args.split == "validation" and fix:
        raise ArgumentError("a recalibration is fitted on the bundle's val_logits: measure it on its test outputs "
                            "(drop --split validation)")
    bundle = load_bundle(args.checkpoint)
    head = None
    if args.latent_fit:
        if bundle.latents is None:
            raise ArgumentError(f"{Path(args.checkpoint).name} has no latents, so --latent-fit has nothing to read")
        head = bundle.implied_gaussians(args.implied)
        if head is None:
            raise ArgumentError(f"{Path(args.checkpoint).name} has no weight/bias (its last layer), so the class "
                                "Gaussians --latent-fit compares the latents with are unknown")
    logits, labels = bundle_outputs(bundle, args.split)
    predictor = None
    if args.conformal:
        from explorer.measure.conformal import bundle_conformal

        if bundle.val_logits is None:
            raise ArgumentError(f"{Path(args.checkpoint).name} has no val_logits/val_labels, so --conformal has no "
                                "held-out outputs to calibrate on (export it with --validation)")
        predictor = bundle_conformal(bundle, args.alpha, args.score, mondrian=args.mondrian, keep_top=args.keep_top)
    recalibrator = bundle_recalibrator(bundle, fix) if fix else None
    metrics = {"dataset": bundle.dataset_name, "split": args.split, **_report(logits, labels, recalibrator, args)}
    if predictor is not None:
        metrics.update(_conformal_metrics(predictor, logits, labels))
    if args.selective:
        metrics = _with_selective(metrics, logits, labels, args.resamples)
    if head is not None:
        from explorer.measure.latents import fit_latents

        fit = fit_latents(head, bundle.latents, bundle.labels)
        metrics.update(_fit_metrics(fit, head))
    _print(metrics, args.json)


def _fit_metrics(fit, reference) -> dict:
    """--latent-fit's figures, with the implied Gaussians they were read against for a softmax layer."""
    implied = {"implied_gaussians": reference.description} if hasattr(reference, "description") else {}
    return {"r2_ratio": fit.median_ratio, "mean_ks": fit.mean_ks, "reference_law": fit.law_name, **implied}
