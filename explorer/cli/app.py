"""``app``: start the Streamlit app with the project's settings (:func:`explorer.app.server.command`);
the training queue's limits as options (``--max-epochs 200``: :mod:`explorer.jobs.limits`), and every
further argument goes to ``streamlit run``, e.g. ``vc-explorer app --server.port=8600``."""

from __future__ import annotations

import argparse
import os
import sys

from explorer.jobs.limits import HELP, VARIABLES, Limits, option

STOP_SECONDS = 10
"""How long Streamlit may take to stop after Ctrl+C (it takes about half a second) before it is
signalled again, then killed."""


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "app", help="start the app in the browser (streamlit run with the project's settings)",
        usage="%(prog)s [-h] [LIMIT ...] [STREAMLIT_OPTION ...]", allow_abbrev=False,
        description="Start the Streamlit app with the project's settings, from any folder. The options below "
                    "bound the Train page's queue (each sets the environment variable in brackets, which "
                    "works as well). Every further argument is an option of streamlit run (see streamlit run "
                    "--help), e.g. --server.port=8600 --server.headless=true. Ctrl+C stops it.")
    limits, defaults = p.add_argument_group("limits of the training queue"), Limits()
    for name, variable in VARIABLES.items():
        default = getattr(defaults, name)
        default = ",".join(default) if isinstance(default, tuple) else default
        limits.add_argument(option(name), dest=name, metavar="LIST" if name == "encoders" else "N",
                            help=f"{HELP[name]} [{variable}; default here: {default}]")
    p.set_defaults(passed_on=[])  # the command line's main() puts the arguments it does not know here


def run(args: argparse.Namespace) -> int:
    """Become ``streamlit run`` (POSIX), so that Ctrl+C and a service manager's SIGTERM reach Streamlit
    itself and no parent process stays behind; elsewhere, run it and wait. Its exit status."""
    from explorer.app.server import command

    for name, variable in VARIABLES.items():
        if getattr(args, name, None) is not None:
            os.environ[variable] = getattr(args, name)
    Limits.from_environment()  # a bad value stops here, in one line, not at a student's first visit
    argv = command(args.passed_on)
    if os.name == "posix":
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(argv[0], argv)  # does not return
    return _run_and_wait(argv)


def _run_and_wait(argv: list[str]) -> int:
    """Run ``argv`` and wait for it, letting it stop by itself after Ctrl+C before it is signalled again,
    then killed."""
    import signal
    import subprocess

    with subprocess.Popen(argv) as process:
        try:
            return process.wait()
        except KeyboardInterrupt:
            # Ctrl+C in a console reaches Streamlit too, which stops by itself and says so (a second
            # SIGINT would cut that short); one sent to this process alone is passed on.
            try:
                return process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGINT)
            try:
                return process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                return process.wait()
