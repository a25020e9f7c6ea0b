"""Command line: ``python -m explorer {train,evaluate,export,attack,compare,project,benchmark} ...``.

Flags and their defaults derive from :mod:`explorer.core.config`; an unset flag takes the dataset's
default, then the dataclass's. Expected failures (an :class:`~explorer.core.errors.ExplorerError` or
an operating-system error) print one line and exit non-zero.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path
from collections.abc import Sequence

from explorer.core.config import (
    AMP_MODES, ATTACKS, AUGMENTATIONS, DEVICES, ENCODERS, KL_ESTIMATORS, METHODS, N_BINS, OBJECTIVE_DEFAULTS, OBJECTIVES, PRIORS, SCHEDULES,
    UMAP_FIT_MAX, VARIANCES, AttackConfig, ModelConfig, ProjectionConfig, TrainConfig, default_configs, value_type,
)
from explorer.core.errors import ArgumentError, ExplorerError

HELP = {
    "latent_dim": "latent dimension d (2 gives a directly drawable latent space)",
    "encoder": "encoder architecture",
    "variance": "Gaussian head's variance: per-class diagonal, one shared diagonal, or fixed at I",
    "prior": "family of p(z|y) for the Bayes-rule heads: gaussian, or student_t with --nu degrees of freedom",
    "nu": "degrees of freedom of the student_t prior (an integer)",
    "prior_init_distance": "expected distance between initial class means, in units of the initial sigma",
    "hidden": "width of the MLP's hidden layers / the CNN's penultimate layer / the bag encoder's ReLU layer",
    "embedding_dim": "text: width of the bag encoder's word and bigram embeddings",
    "ngram_buckets": "text: hashed buckets of the bag encoder's word bigrams (0: words alone)",
    "epochs": "training epochs",
    "batch_size": "mini-batch size",
    "lr": "Adam learning rate of the network",
    "weight_decay": "Adam weight decay of the network",
    "word_dropout": "text: share of each training document's words dropped at random at every step",
    "augment": "images: crop_flip pads by 4, crops back at random and mirrors half the images, at every step",
    "schedule": "learning-rate schedule of the network and the prior",
    "lambda_prior": "weight of -log p(z|y) (methods lgm, vc)",
    "lambda_kl": f"weight of the KL estimate (method vc); default: {OBJECTIVE_DEFAULTS['paper']['lambda_kl']:g} "
                 f"with --objective paper, {OBJECTIVE_DEFAULTS['released']['lambda_kl']:g} with released",
    "prior_lr_scale": "learning rate of the prior's means and log-variances, as a multiple of --lr",
    "objective": "method vc. paper (default): the prior term fits the prior alone (METHOD.md 3b); released: it "
                 "reaches the encoder too (the authors' code: --objective released alone gives their step)",
    "kl_estimator": "how vc estimates the KL: the closed-form moment KL (moment_corr: with the dimensions' "
                    "correlations), or a linear, quadratic or mlp "
                    f"discriminator; default: {OBJECTIVE_DEFAULTS['paper']['kl_estimator']} with --objective paper, "
                    f"{OBJECTIVE_DEFAULTS['released']['kl_estimator']} with released, mlp when --disc-hidden > 0",
    "disc_hidden": "width of the mlp estimator's hidden layers (0 for the other estimators)",
    "disc_lr": "AdamW learning rate of the discriminator",
    "train_fraction": "stratified fraction of the training split to train on (low-data runs)",
    "val_fraction": "stratified fraction of the training split held out for validation",
    "snapshot_points": "validation points whose latents are recorded every epoch (0: none)",
    "seed": "random seed (initialisation, splits, batches, prior samples)",
    "device": "where to train",
    "sync_batchnorm": "under torchrun on GPUs: BatchNorm pools the statistics of every process's slice of a batch",
    "amp": "mixed precision on CUDA: bf16 runs the encoder in bfloat16 (head, prior terms, discriminator in float32)",
    "compile": "compile the encoder with torch.compile before training",
}
CHOICES = {"amp": AMP_MODES, "augment": AUGMENTATIONS, "encoder": ENCODERS, "schedule": SCHEDULES, "variance": VARIANCES, "device": DEVICES,
           "objective": OBJECTIVES, "kl_estimator": KL_ESTIMATORS, "prior": PRIORS}
_NOT_FLAGS = {"method", "num_classes", "input_shape", "mean", "std", "vocab_size"}


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad argument gives one line on stderr instead of the usage block."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    from explorer.core.data import DATASETS

    dataset_keys = sorted({k for info in DATASETS.values() for k in info.defaults})
    for cls in (ModelConfig, TrainConfig):
        for f in dataclasses.fields(cls):
            if f.name in _NOT_FLAGS:
                continue
            default = "dataset's" if f.name in dataset_keys else repr(f.default)
            if f.default is False:  # a switch: given or not
                parser.add_argument("--" + f.name.replace("_", "-"), action="store_true", default=None,
                                    help=HELP[f.name])
                continue
            parser.add_argument(
                "--" + f.name.replace("_", "-"), default=None,
                type=value_type(f, cls), choices=CHOICES.get(f.name),
                # a None default depends on other settings: the help says how
                help=_dataset_note(HELP[f.name], f.name, DATASETS) if f.default is None
                else f"{HELP[f.name]} (default: {default})",
            )


def _dataset_note(text: str, name: str, datasets: dict) -> str:
    """``text`` plus the datasets whose paper-objective vc takes another ``name`` (DatasetInfo.paper_vc)."""
    own = [f"{info.name}: {info.paper_vc[name]}" for info in datasets.values() if name in info.paper_vc]
    return f"{text}; {', '.join(own)} under paper" if own else text


def _overrides(args: argparse.Namespace) -> dict[str, object]:
    names = {f.name for cls in (ModelConfig, TrainConfig) for f in dataclasses.fields(cls)} - _NOT_FLAGS
    return {k: v for k, v in vars(args).items() if k in names and v is not None}


def _build_parser() -> argparse.ArgumentParser:
    from explorer.core.data import DATASETS, datasets_of

    parser = _Parser(prog="python -m explorer", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    from explorer.measure.corruptions import DEFAULT_SEVERITY

    datasets = tuple(DATASETS)
    attack = AttackConfig()
    projection = ProjectionConfig()

    p = sub.add_parser("train", help="train one model and save it as a checkpoint")
    p.add_argument("--dataset", required=True, choices=datasets)
    p.add_argument("--method", required=True, choices=METHODS)
    p.add_argument("--out", required=True, help="checkpoint file to write")
    p.add_argument("--dry-run", action="store_true",
                   help="one epoch on a few hundred images, to check the set-up; writes nothing")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_config_flags(p)

    p = sub.add_parser("evaluate", help="accuracy and calibration of a checkpoint on a test split, or of a "
                       "predictions bundle (.npz)")
    p.add_argument("checkpoint", metavar="file",
                   help="a checkpoint (.pt), or a predictions bundle (a name ending in .npz: the outputs of any "
                        "classifier, see export and explorer.core.bundles)")
    p.add_argument("--dataset", choices=datasets, help="test split to use (default: the checkpoint's)")
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
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")

    split = TrainConfig()  # the validation split export --validation uses
    p = sub.add_parser(
        "export", help="write a predictions bundle (.npz) of any PyTorch classifier on a dataset's test split",
        description="Run a PyTorch classifier with a linear last layer on a dataset's test split and write "
                    "its logits, latents (the last layer's input), last layer, class names and images as a "
                    "predictions bundle, which evaluate and the app read without the model. Images reach "
                    "the model in [0, 1], normalised by --mean/--std if given. A grey dataset (digits, "
                    "mnist, fashion-mnist) fed to a model whose first nn.Conv2d takes 3 channels has its "
                    "channel repeated to 3 inside the model; --last-layer still names the layer in the "
                    "model itself.")
    build = p.add_mutually_exclusive_group(required=True)
    build.add_argument("--torchvision", metavar="NAME",
                       help="a torchvision classification model, torchvision.models.get_model(NAME, "
                            "num_classes=the dataset's classes), e.g. resnet18; see "
                            "torchvision.models.list_models(module=torchvision.models)")
    build.add_argument("--factory", metavar="MODULE:FUNCTION",
                       help="FUNCTION() of your module MODULE (importable from the current folder) returns the "
                            "nn.Module")
    p.add_argument("--weights", metavar="FILE",
                   help="a state dict saved with torch.save (or a dict holding one under 'state_dict' or "
                        "'model'), loaded strictly and safely (weights_only); without it the weights are random")
    p.add_argument("--last-layer", default="fc",
                   help="dotted name of the model's last nn.Linear, whose input is the latent z "
                        "(torchvision: fc for ResNets, classifier.1 for EfficientNet, heads.head for ViT; "
                        "default: fc)")
    p.add_argument("--dataset", required=True, choices=datasets_of("image"),
                   help="whose test split to run on; its class names and name go in the bundle")
    p.add_argument("--out", required=True, help="bundle file to write (.npz)")
    p.add_argument("--mean", type=float, nargs="+",
                   help="per-channel mean the model was trained to subtract from pixels in [0, 1], applied "
                        "inside (one value per image channel, or 3 for a grey dataset repeated to RGB; "
                        "default: none, the model gets pixels in [0, 1])")
    p.add_argument("--std", type=float, nargs="+", help="per-channel std to divide by, as --mean")
    p.add_argument("--validation", action="store_true",
                   help="also val_logits/val_labels, for temperature scaling: the outputs on the project's "
                        f"validation split of the dataset's training split (seed {split.seed}, val_fraction "
                        f"{split.val_fraction:g}); honest only if the model did not train on those images")
    p.add_argument("--ood", action="store_true",
                   help="also ood_logits/ood_latents: the outputs on the dataset's out-of-distribution set, "
                        "as the Shift/OOD page uses (mnist <-> fashion-mnist test splits; uniform noise "
                        "for the others)")
    p.add_argument("--no-images", action="store_true",
                   help="leave the images out (smaller files for large datasets)")

    p = sub.add_parser("attack", help="clean and robust accuracy of a checkpoint under FGSM or PGD")
    p.add_argument("checkpoint")
    p.add_argument("--attack", required=True, choices=ATTACKS)
    p.add_argument("--eps", type=float, required=True, help="L-inf budget in pixel units of [0, 1]")
    p.add_argument("--steps", type=int, default=attack.steps, help=f"PGD steps (default: {attack.steps})")
    p.add_argument("--alpha", type=float, help="PGD step size (default: 2.5 * eps / steps)")
    p.add_argument("--n", type=int, default=1000, help="test images to attack (default: 1000)")
    p.add_argument("--seed", type=int, default=attack.seed,
                   help=f"PGD random start seed (default: {attack.seed})")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")

    p = sub.add_parser("compare", help="train several methods alike and print their test metrics")
    p.add_argument("--dataset", default="digits", choices=datasets, help="(default: digits)")
    p.add_argument("--methods", nargs="+", default=["softmax", "vc"], choices=METHODS,
                   help="(default: softmax vc)")
    p.add_argument("--out-dir", help="also save each model as OUT_DIR/<dataset>-<method>.pt")
    _add_config_flags(p)

    p = sub.add_parser("project", help="place a checkpoint's test latents and prior samples in 2-D, "
                       "as the Latent space page does, and cache the result on disk; or every latent of a "
                       "file (.npy, or a bundle's latents) into a map file")
    p.add_argument("checkpoints", nargs="+", metavar="file",
                   help="checkpoints (.pt); or latents: an (N, d) array in a .npy file, or a predictions bundle "
                        "(.npz) with latents, each written to OUT_DIR/<name>-<method>.npz (all points: PCA on "
                        "all of them, UMAP fitted on a random sample of at most "
                        f"{UMAP_FIT_MAX:,} and the rest placed by its transform)")
    p.add_argument("--method", default="umap", choices=("pca", "umap"), help="(default: umap)")
    p.add_argument("--n-neighbors", type=int, default=projection.n_neighbors,
                   help=f"UMAP's n_neighbors (default: {projection.n_neighbors})")
    p.add_argument("--min-dist", type=float, default=projection.min_dist,
                   help=f"UMAP's min_dist (default: {projection.min_dist})")
    p.add_argument("--seed", type=int, default=projection.seed,
                   help="draws the points and seeds the projection, like the app's sidebar seed "
                        f"(default: {projection.seed})")
    p.add_argument("--out-dir", help="write here (default: for checkpoints, the projection cache the app "
                   "reads, $EXPLORER_CACHE_DIR or ~/.cache/vc-explorer/projections; for latent files, the "
                   "current folder)")

    p = sub.add_parser("benchmark", help="train every method with several seeds, measure everything and "
                       "write the results report (about an hour on 2 CPU cores; --quick: a minute)")
    plan = p.add_mutually_exclusive_group()
    plan.add_argument("--quick", action="store_true", help="a small plan, for tests (needs --out-dir)")
    plan.add_argument("--cifar10", action="store_true",
                      help="ResNet-18 on CIFAR-10, 3 seeds: needs a GPU (and --out-dir, e.g. docs/cifar10)")
    plan.add_argument("--text", action="store_true",
                      help="20 Newsgroups and Reuters R8, softmax and VC, 3 seeds, beside TF-IDF + logistic "
                           "regression (about 10 minutes; needs --out-dir, e.g. docs/text)")
    p.add_argument("--out-dir", help="where results/ and results.md go (default: docs)")
    again = p.add_mutually_exclusive_group()
    again.add_argument("--report-only", action="store_true",
                       help="re-render results.md from OUT_DIR/results/results.json without running anything")
    again.add_argument("--performance-only", action="store_true",
                       help="measure the performance section (UMAP, app memory, machine) again into "
                            "OUT_DIR/results/results.json, keep its rows, and re-render")
    return parser


def _progress_bar(label: str, quiet: bool):
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


def _table(metrics: dict[str, object]) -> str:
    return "\n".join(f"{k:>14}  {v:.4f}" if isinstance(v, float) else f"{k:>14}  {v}"
                     for k, v in metrics.items())


def cmd_train(args: argparse.Namespace) -> None:
    """Train and save one model; under ``torchrun`` every process trains its slice of each batch and
    rank 0 alone reports and saves (:mod:`explorer.jobs.distributed`)."""
    from explorer.jobs import distributed
    from explorer.jobs.runs import train_and_save

    overrides = _overrides(args)
    if args.dry_run:
        overrides["epochs"] = 1
    model_config, train_config = default_configs(args.dataset, args.method, **overrides)
    world = distributed.init_from_environment(train_config.device)
    try:
        if world is not None and world.main:
            print(f"data-parallel: {world.size} processes ({world.backend}), each on its slice of every batch "
                  f"of {train_config.batch_size}", file=sys.stderr)
        _, meta = train_and_save(
            args.dataset, model_config, train_config, out=None if args.dry_run else args.out,
            callback=_progress_bar(args.method, args.quiet), max_train=400 if args.dry_run else None,
        )
    except BaseException:
        distributed.close(wait=False)  # the others may sit in a collective: the launcher stops them
        raise
    distributed.close()
    if world is None or world.main:
        print(_table(meta["metrics"]))
        print("dry run: nothing written" if args.dry_run else f"saved {args.out}")


def _load(path: str):
    from explorer.core.checkpoints import load_checkpoint

    return load_checkpoint(path)


def _test_split(meta: dict, dataset: str | None, model):
    from explorer.core.data import DATASETS, load_dataset, readable_by

    name = dataset or meta["dataset"]
    info = DATASETS[name]
    if tuple(info.input_shape) != tuple(model.config.input_shape) or info.num_classes != model.config.num_classes:
        raise ArgumentError(f"dataset {name!r} ({info.input_shape}, {info.num_classes} classes) does not fit "
                            f"this model ({tuple(model.config.input_shape)}, {model.config.num_classes} classes)")
    return name, readable_by(load_dataset(name, "test"), model)


def _validation_split(meta: dict, model):
    """The images a checkpoint's training held out for validation, rebuilt from its seed and fractions."""
    from explorer.core.config import TrainConfig, config_from_dict
    from explorer.core.data import load_dataset, readable_by, split_indices

    data = readable_by(load_dataset(meta["dataset"], "train"), model)
    _, val = split_indices(data.y, config_from_dict(TrainConfig, meta["train_config"]))
    return data.subset(val)


def _is_bundle(path: str) -> bool:
    return path.lower().endswith(".npz")


def cmd_evaluate(args: argparse.Namespace) -> None:
    from explorer.core.data import load_dataset
    from explorer.measure.calibration import checkpoint_temperature, evaluate
    from explorer.measure.corruptions import corrupt

    if _is_bundle(args.checkpoint):
        _evaluate_bundle(args)
        return
    model, meta = _load(args.checkpoint)
    if args.split == "validation":
        if args.dataset not in (None, meta["dataset"]):
            raise ArgumentError(f"--split validation is the checkpoint's own ({meta['dataset']}); drop --dataset")
        name, test = meta["dataset"], _validation_split(meta, model)
    else:
        name, test = _test_split(meta, args.dataset, model)
    temperature = 1.0
    if args.temperature_scaling:
        temperature = checkpoint_temperature(model, meta, load_dataset(meta["dataset"], "train"))
    x = test.x if args.corruption is None else corrupt(test.x, args.corruption, args.severity)
    metrics = evaluate(model, x, test.y, n_bins=args.bins, temperature=temperature)
    metrics = {"dataset": name, "split": args.split, "corruption": args.corruption,
               "severity": args.severity if args.corruption else None, "temperature": temperature,
               **metrics}
    if args.latent_fit:
        from explorer.measure.latents import latent_fit

        fit = latent_fit(model, x, test.y)
        metrics.update(r2_ratio=fit.median_ratio, mean_ks=fit.mean_ks, reference_law=fit.law_name)
    print(json.dumps(metrics) if args.json else _table(metrics))


def _evaluate_bundle(args: argparse.Namespace) -> None:
    from explorer.core.bundles import load_bundle
    from explorer.measure.calibration import evaluate_bundle

    for flag, value in (("--corruption", args.corruption), ("--dataset", args.dataset)):
        if value is not None:
            raise ArgumentError(f"{flag} needs the model itself: a bundle holds predictions only "
                                "(corruptions and other datasets need the model to be run again)")
    if args.latent_fit and args.split == "validation":
        raise ArgumentError("--latent-fit reads a bundle's test latents; a bundle holds no validation latents "
                            "(drop --split validation)")
    bundle = load_bundle(args.checkpoint)
    head = None
    if args.latent_fit:
        if bundle.latents is None:
            raise ArgumentError(f"{Path(args.checkpoint).name} has no latents, so --latent-fit has nothing to read")
        head = bundle.linear_head()
        if head is None:
            raise ArgumentError(f"{Path(args.checkpoint).name} has no weight/bias (its last layer), so the class "
                                "Gaussians --latent-fit compares the latents with are unknown")
    metrics = evaluate_bundle(bundle, args.split, n_bins=args.bins, temperature_scaling=args.temperature_scaling)
    if head is not None:
        from explorer.measure.latents import fit_latents

        fit = fit_latents(head, bundle.latents, bundle.labels)
        metrics.update(r2_ratio=fit.median_ratio, mean_ks=fit.mean_ks, reference_law=fit.law_name)
    print(json.dumps(metrics) if args.json else _table(metrics))


def _short(text: str, limit: int = 160) -> str:
    """The first line of ``text``, cut to ``limit`` characters: a library's long error in one line."""
    lines = str(text).strip().splitlines()
    line = lines[0] if lines else ""
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _first(names: Sequence[str], n: int = 3) -> str:
    more = f" and {len(names) - n} more" if len(names) > n else ""
    return ", ".join(names[:n]) + more


def _torchvision_model(name: str, num_classes: int):
    """``torchvision.models.get_model(name)`` with random weights and ``num_classes`` outputs."""
    import difflib

    import torchvision.models as models

    known = models.list_models(module=models)  # the classifiers: no detection or video models
    if name not in known:
        close = difflib.get_close_matches(name, known, n=4)
        hint = f"did you mean {', '.join(close)}? " if close else f"e.g. {', '.join(known[:4])}; "
        raise ArgumentError(f"--torchvision {name!r} is not a torchvision classification model; {hint}all: "
                            "torchvision.models.list_models(module=torchvision.models)")
    return models.get_model(name, weights=None, num_classes=num_classes)


def _factory_model(spec: str):
    """``function()`` of ``module`` for ``spec`` = "module:function", checked to be an nn.Module."""
    import importlib

    from torch import nn

    module_name, _, function = spec.partition(":")
    if not module_name or not function:
        raise ArgumentError(f"--factory takes MODULE:FUNCTION (e.g. mymodels:make_net), got {spec!r}")
    if os.getcwd() not in sys.path:  # `python -m` puts it there; a console script does not
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
        factory = getattr(module, function)
    except (ModuleNotFoundError, AttributeError) as error:
        raise ArgumentError(f"--factory {spec}: {error} (modules are looked for in {os.getcwd()} and "
                            "the installed packages)") from None
    if not callable(factory):
        raise ArgumentError(f"--factory {spec}: {function} is a {type(factory).__name__}, not a function")
    network = factory()
    if not isinstance(network, nn.Module):
        raise ArgumentError(f"--factory {spec} returned a {type(network).__name__}, not an nn.Module")
    return network


def _load_weights(network, path: str) -> None:
    """Load the state dict in file ``path`` into ``network``, strictly; a mismatch in one line."""
    import pickle

    import torch

    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ArgumentError(f"--weights {path}: no such file") from None
    except pickle.UnpicklingError as error:
        message = str(error)
        if "Unsupported global" in message:  # the pickle names a class or function: refused
            raise ArgumentError(f"--weights {path} holds more than weights: loading it would run code from it "
                                "(save model.state_dict() instead)") from None
        reason = message.partition("WeightsUnpickler error:")[2] or message
        raise ArgumentError(f"--weights {path} is not a file torch.load reads ({_short(reason)})") from None
    except (RuntimeError, EOFError) as error:
        raise ArgumentError(f"--weights {path} is not a file torch.load reads ({_short(error)})") from None
    state = payload
    if isinstance(payload, dict) and not all(isinstance(v, torch.Tensor) for v in payload.values()):
        state = next((payload[k] for k in ("state_dict", "model") if isinstance(payload.get(k), dict)), payload)
    if not isinstance(state, dict) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ArgumentError(f"--weights {path} holds a {type(payload).__name__} that is not a state dict "
                            "(parameter name -> tensor), nor a dict with one under 'state_dict' or 'model'")
    own = network.state_dict()
    missing, unexpected = [k for k in own if k not in state], [k for k in state if k not in own]
    if missing or unexpected:
        parts = ([f"missing {_first(missing)}"] if missing else []) + (
            [f"unexpected {_first(unexpected)}"] if unexpected else [])
        raise ArgumentError(f"--weights {path} does not fit the model: {'; '.join(parts)}")
    for key, value in own.items():
        if state[key].shape != value.shape:
            raise ArgumentError(f"--weights {path} does not fit the model: {key} is {tuple(state[key].shape)} "
                                f"in the file but {tuple(value.shape)} in the model")
    network.load_state_dict(state, strict=True)


def _fit_channels(network, channels: int, mean, std):
    """(module, prefix, mean, std, note): ``network``, or it behind :class:`GreyToRGB` (layer names then
    gain ``prefix``) when grey images meet a first convolution that takes 3 channels; ``mean``/``std``
    as the wrapper takes them."""
    from torch import nn

    from explorer.core.wrapped import GreyToRGB, first_conv_channels

    if (mean is None) != (std is None):
        raise ArgumentError("give both --mean and --std (per channel) or neither")
    takes = first_conv_channels(network)
    repeat = channels == 1 and takes == 3
    if takes is not None and takes != channels and not repeat:
        raise ArgumentError(f"the model's first convolution takes {takes} channels but the images have {channels}")
    if mean is not None:
        allowed = (1, 3) if repeat else (channels,)
        if len(mean) != len(std) or len(mean) not in allowed:
            raise ArgumentError(f"--mean and --std give {len(mean)} and {len(std)} values; the images have "
                                f"{channels} channel(s){' (3 once repeated for this model)' if repeat else ''}")
    if not repeat:
        return network, "", mean, std, None
    note = "grey images repeated to the 3 channels the model's first convolution takes"
    if mean is not None and len(mean) == 3:  # RGB statistics: normalise after the repeat
        return nn.Sequential(GreyToRGB(mean, std), network), "1.", None, None, note
    return nn.Sequential(GreyToRGB(), network), "1.", mean, std, note


def _size(n_bytes: int) -> str:
    return f"{n_bytes / 1e6:.1f} MB" if n_bytes >= 1e5 else f"{n_bytes / 1e3:.1f} kB"


def cmd_export(args: argparse.Namespace) -> None:
    import time

    from explorer.core.data import DATASETS, load_dataset, split_indices
    from explorer.core.wrapped import wrap_classifier
    from explorer.jobs.runs import check_writable
    from explorer.measure.inference import export_bundle, predict
    from explorer.measure.ood import noise_images

    out = Path(args.out)
    if not _is_bundle(out.name):
        raise ArgumentError(f"--out {out}: a bundle's name ends in .npz (evaluate tells bundles by it)")
    check_writable(out)
    info = DATASETS[args.dataset]
    if args.torchvision:
        network, source = _torchvision_model(args.torchvision, info.num_classes), f"torchvision {args.torchvision}"
    else:
        network, source = _factory_model(args.factory), args.factory
    if args.weights:
        _load_weights(network, args.weights)
    wrap_classifier(network, args.last_layer)  # a bad name is reported with the model's own layer names
    module, prefix, mean, std, note = _fit_channels(network, info.input_shape[0], args.mean, args.std)
    model = wrap_classifier(module, prefix + args.last_layer, mean, std)
    if model.head.linear.out_features != info.num_classes:
        raise ArgumentError(f"layer {args.last_layer!r} gives {model.head.linear.out_features} outputs but "
                            f"{args.dataset} has {info.num_classes} classes")
    test = load_dataset(args.dataset, "test")
    try:  # two images first: a model that cannot take these images fails in a second, not after a pass
        predict(model, test.x[:2])
    except RuntimeError as error:
        raise ArgumentError(f"the model fails on the {args.dataset} images {tuple(info.input_shape)}: "
                            f"{_short(error)}") from None
    validation = ood = None
    extras = []
    if args.validation:
        train_split, config = load_dataset(args.dataset, "train"), TrainConfig()
        _, val_idx = split_indices(train_split.y, config)
        validation = (train_split.x[val_idx], train_split.y[val_idx])
        print(f"validation: {len(val_idx)} images of the {args.dataset} training split, the project's "
              f"validation split (seed {config.seed}, val_fraction {config.val_fraction:g}); honest only if the model "
              "did not train on them")
        extras.append(f"{len(val_idx)} validation")
    if args.ood:
        other = info.ood
        ood = load_dataset(other, "test").x if other else noise_images(test.x, len(test.x), seed=0)
        extras.append(f"{len(ood)} OOD ({f'{other} test split' if other else 'uniform noise, seed 0'})")
    if not args.weights:
        print(f"warning: no --weights, so {source} has random weights: its outputs say nothing about a "
              "trained model", file=sys.stderr)
    if note:
        print(note)
    n_params = sum(p.numel() for p in network.parameters())
    print(f"running {source} ({n_params / 1e6:.2f} M parameters) on {len(test)} {args.dataset} test images"
          f"{' + ' + ' + '.join(extras) if extras else ''}, on the CPU ...", flush=True)
    started = time.perf_counter()
    bundle = export_bundle(model, test.x, test.y, out, class_names=info.class_names, validation=validation,
                           ood=ood, keep_images=not args.no_images, dataset=args.dataset)
    n, k = bundle.logits.shape
    print(f"wrote {out}: N = {n}, K = {k}, d = {bundle.latents.shape[1]}; {', '.join(bundle.arrays())}; "
          f"{_size(out.stat().st_size)} ({time.perf_counter() - started:.1f} s)")


def cmd_attack(args: argparse.Namespace) -> None:
    from explorer.measure.attacks import robust_accuracy
    from explorer.measure.calibration import evaluate

    if args.n < 1:
        raise ArgumentError(f"--n must be >= 1, got {args.n}")
    model, meta = _load(args.checkpoint)
    _, test = _test_split(meta, None, model)
    x, y = test.x[: args.n], test.y[: args.n]
    config = AttackConfig(attack=args.attack, eps=args.eps, steps=args.steps, alpha=args.alpha,
                          seed=args.seed)
    result = {
        "attack": args.attack, "eps": args.eps, "n": len(y),
        "clean_accuracy": evaluate(model, x, y)["accuracy"],
        "robust_accuracy": robust_accuracy(model, x, y, config),
    }
    print(json.dumps(result) if args.json else _table(result))


def cmd_compare(args: argparse.Namespace) -> None:
    from explorer.jobs.runs import train_and_save

    rows = []
    for method in args.methods:
        model_config, train_config = default_configs(args.dataset, method, **_overrides(args))
        out = Path(args.out_dir) / f"{args.dataset}-{method}.pt" if args.out_dir else None
        _, meta = train_and_save(args.dataset, model_config, train_config, out=out,
                                 callback=_progress_bar(method, False))
        rows.append((method, meta["metrics"]))
    keys = ("accuracy", "ece", "adaptive_ece", "nll", "brier")
    print(f"{args.dataset}, d = {model_config.latent_dim}, seed {train_config.seed}, test split "
          f"(n = {rows[0][1]['n']})")
    print(f"{'method':<10}" + "".join(f"{k:>14}" for k in keys))
    for method, m in rows:
        print(f"{method:<10}" + "".join(f"{m[k]:>14.4f}" for k in keys))


def _latent_file(path: str):
    """(N, d) latents and (N,) labels or None from a .npy array or a bundle's ``latents``."""
    import numpy as np

    from explorer.core.bundles import load_bundle

    if path.endswith(".npy"):
        try:
            latents = np.load(path, allow_pickle=False, mmap_mode="r")
        except (OSError, ValueError) as error:
            raise ArgumentError(f"{path} is not a readable .npy array ({error})") from None
        if latents.ndim != 2 or latents.shape[1] < 2:
            raise ArgumentError(f"{path} holds an array of shape {latents.shape}; latents are (N, d) with d >= 2")
        return np.asarray(latents, dtype=np.float64), None
    bundle = load_bundle(path)
    if bundle.latents is None:
        raise ArgumentError(f"{path} is a bundle without latents: there is nothing to project")
    return bundle.latents, bundle.labels


def _project_file(path: str, config: ProjectionConfig, out_dir: Path) -> None:
    import resource
    import time

    from explorer.measure.projection import fit_projection, save_projection

    from explorer.jobs.runs import check_writable

    latents, labels = _latent_file(path)
    out = out_dir / f"{Path(path).stem}-{config.resolve(latents.shape[1])}.npz"
    check_writable(out)
    started = time.perf_counter()
    projection = fit_projection(latents, config)
    seconds = time.perf_counter() - started
    save_projection(projection, out, **({} if labels is None else {"labels": labels}))  # classes travel too
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(f"{path}: {len(latents):,} latents, d = {latents.shape[1]}: {projection.note} ({seconds:.1f} s, "
          f"peak memory {peak:,.0f} MiB); wrote {out}")


def cmd_project(args: argparse.Namespace) -> None:
    import time

    from explorer.core._io import file_digest
    from explorer.measure.inference import predict
    from explorer.measure.latent_map import latent_map

    config = ProjectionConfig(method=args.method, n_neighbors=args.n_neighbors, min_dist=args.min_dist,
                              seed=args.seed)
    files = [p for p in args.checkpoints if p.endswith((".npy", ".npz"))]
    loaded = [(path, *_load(path)) for path in args.checkpoints if path not in files]  # checked before the slow part
    for path in files:
        _project_file(path, config, Path(args.out_dir or "."))
    for path, model, meta in loaded:
        if model.config.latent_dim == 2:
            print(f"{path}: d = 2, drawn as it is; nothing to project")
            continue
        _, test = _test_split(meta, None, model)
        started = time.perf_counter()
        _, latents = predict(model, test.x)
        # With --out-dir the file is written there even if a shipped projection exists.
        where = {"cache_dir": args.out_dir, "shipped_dir": None} if args.out_dir else {}
        placed = latent_map(model, latents.numpy(), file_digest(path), config, args.seed, **where)
        print(f"{path}: {placed.projection.note} ({time.perf_counter() - started:.1f} s)")


def cmd_benchmark(args: argparse.Namespace) -> None:
    import time

    from explorer.core._io import PROJECT_DIR
    from explorer.jobs import benchmark, report
    from explorer.jobs.results import Results
    from explorer.jobs.runs import check_writable

    if (args.quick or args.cifar10 or args.text) and not args.out_dir:
        raise ArgumentError("--quick, --cifar10 and --text need --out-dir, so that they never overwrite the "
                            "committed report")
    out = Path(args.out_dir or "docs")
    raw = out / "results"

    def log(line: str) -> None:
        print(line, flush=True)

    if args.performance_only:
        benchmark.remeasure_performance(raw, log=log)
    elif not args.report_only:
        plan = (benchmark.QUICK if args.quick else benchmark.CIFAR10 if args.cifar10 else
                benchmark.TEXT if args.text else benchmark.FULL)
        check_writable(raw / "results.json")
        started = time.perf_counter()
        rows = benchmark.run(plan, log=log)
        perf = benchmark.performance(plan, log=log)
        benchmark.write_results(raw, rows, perf, plan, time.perf_counter() - started)
    results = Results.load(raw / "results.json")
    (out / "results.md").write_text(report.render(results, raw, "results"))
    print(f"wrote {out / 'results.md'} from {raw / 'results.json'}")
    readme = PROJECT_DIR / "README.md"  # in a checkout; an installed package has none
    if not args.out_dir and readme.exists():  # the committed report: its headline goes in the README
        report.update_readme(readme, results)
        print(f"updated the results section of {readme}")


COMMANDS = {"train": cmd_train, "evaluate": cmd_evaluate, "export": cmd_export, "attack": cmd_attack, "compare": cmd_compare,
            "project": cmd_project, "benchmark": cmd_benchmark}


def main(argv: Sequence[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    try:
        COMMANDS[args.command](args)
    except (ExplorerError, OSError) as error:
        print(f"python -m explorer {args.command}: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0
