"""``attack``: clean and robust accuracy of a checkpoint under FGSM or PGD."""

from __future__ import annotations

import argparse
import json

from explorer.cli._common import field_help, readable_test, table
from explorer.core.config import ATTACKS, AttackConfig, help_of
from explorer.core.errors import ArgumentError


def add_parser(subparsers) -> None:
    attack = AttackConfig()
    p = subparsers.add_parser("attack", help="clean and robust accuracy of a checkpoint under FGSM or PGD")
    p.add_argument("checkpoint")
    p.add_argument("--attack", required=True, choices=ATTACKS, help=help_of(AttackConfig, "attack"))
    p.add_argument("--eps", type=float, required=True, help=help_of(AttackConfig, "eps"))
    p.add_argument("--steps", type=int, default=attack.steps, help=field_help(AttackConfig, "steps"))
    p.add_argument("--alpha", type=float, help=help_of(AttackConfig, "alpha"))  # its help says what None takes
    p.add_argument("--n", type=int, default=1000, help="test images to attack (default: 1000)")
    p.add_argument("--seed", type=int, default=attack.seed, help=field_help(AttackConfig, "seed"))
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace) -> None:
    from explorer.core.checkpoints import load_checkpoint
    from explorer.measure.attacks import robust_accuracy
    from explorer.measure.evaluation import evaluate

    if args.n < 1:
        raise ArgumentError(f"--n must be >= 1, got {args.n}")
    model, meta = load_checkpoint(args.checkpoint)
    _, test = readable_test(meta, None, model)
    x, y = test.x[: args.n], test.y[: args.n]
    config = AttackConfig(attack=args.attack, eps=args.eps, steps=args.steps, alpha=args.alpha,
                          seed=args.seed)
    result = {
        "attack": args.attack, "eps": args.eps, "n": len(y),
        "clean_accuracy": evaluate(model, x, y)["accuracy"],
        "robust_accuracy": robust_accuracy(model, x, y, config),
    }
    print(json.dumps(result) if args.json else table(result))
