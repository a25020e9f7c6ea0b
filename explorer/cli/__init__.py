"""Command line: ``vc-explorer {train,evaluate,export,attack,compare,ood,project,benchmark,app} ...``.

The same runs as ``python -m explorer``. One module per subcommand, each with ``add_parser(subparsers)``
and ``run(args)``; what several share is in :mod:`explorer.cli._common`. Flags and their defaults derive
from :mod:`explorer.core.config`; an unset flag takes the dataset's default, then the dataclass's.
Expected failures (an :class:`~explorer.core.errors.ExplorerError` or an operating-system error) print
one line and exit non-zero.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from explorer.cli import app, attack, benchmark, compare, evaluate, export, ood, project, train
from explorer.cli._common import Parser
from explorer.core.errors import ExplorerError

COMMAND = "vc-explorer"
"""The console script that pyproject.toml installs (``[project.scripts]``)."""
COMMANDS = {"train": train, "evaluate": evaluate, "export": export, "attack": attack, "compare": compare,
            "ood": ood, "project": project, "benchmark": benchmark, "app": app}
"""Subcommand -> its module, in the order ``--help`` lists them."""


def prog() -> str:
    """How the command line was started, as its usage and error lines name it: ``vc-explorer`` through
    the console script, else ``python -m explorer`` (also when :func:`main` is called from Python)."""
    return COMMAND if Path(sys.argv[0]).name == COMMAND else "python -m explorer"


def build_parser(name: str = "python -m explorer") -> argparse.ArgumentParser:
    """The whole parser, ``name`` its program name; a subcommand's module adds its own."""
    parser = Parser(prog=name, description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for module in COMMANDS.values():
        module.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line on ``argv`` (default: ``sys.argv[1:]``); returns the exit status.

    A subcommand's ``run(args)`` returns None when it succeeded, or an exit status (``app``: Streamlit's).
    Arguments the parser does not know are refused, except by a subcommand whose parser declares
    ``passed_on`` (``app``), which receives them there, in order.
    """
    name = prog()
    parser = build_parser(name)
    args, rest = parser.parse_known_args(argv)
    if rest and not hasattr(args, "passed_on"):  # only app takes arguments of its own (Streamlit's)
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if rest:
        args.passed_on = rest
    try:
        return COMMANDS[args.command].run(args) or 0
    except (ExplorerError, OSError) as error:
        print(f"{name} {args.command}: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
