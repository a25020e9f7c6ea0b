"""``export``: a predictions bundle (.npz) of any PyTorch classifier on a dataset's test split
(:func:`explorer.jobs.export.export_classifier`)."""

from __future__ import annotations

import argparse
import sys

from explorer.cli._common import flag, say
from explorer.core.config import TrainConfig


def add_parser(subparsers) -> None:
    from explorer.core.data import datasets_of

    split = TrainConfig()  # the validation split --validation uses
    p = subparsers.add_parser(
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


def _warn(line: str) -> None:
    print(f"warning: {line}", file=sys.stderr)


def run(args: argparse.Namespace) -> None:
    from explorer.jobs.export import export_classifier

    export_classifier(args.dataset, args.out, torchvision=args.torchvision, factory=args.factory,
                      weights=args.weights, last_layer=args.last_layer, mean=args.mean, std=args.std,
                      validation=args.validation, ood=args.ood, keep_images=not args.no_images,
                      log=say, warn=_warn, argument_name=flag)
