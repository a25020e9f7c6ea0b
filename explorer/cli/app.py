"""``app``: start the Streamlit app with the project's settings (:func:`explorer.app.server.command`);
every further argument goes to ``streamlit run``, e.g. ``vc-explorer app --server.port=8600``."""

from __future__ import annotations

import argparse

STOP_SECONDS = 10
"""How long Streamlit may take to stop after Ctrl+C (it takes about half a second) before it is
signalled again, then killed."""


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "app", help="start the app in the browser (streamlit run with the project's settings)",
        usage="%(prog)s [-h] [STREAMLIT_OPTION ...]", allow_abbrev=False,
        description="Start the Streamlit app with the project's settings, from any folder. Every further "
                    "argument is an option of streamlit run (see streamlit run --help), e.g. "
                    "--server.port=8600 --server.headless=true. Ctrl+C stops it.")
    p.set_defaults(passed_on=[])  # the command line's main() puts the arguments it does not know here


def run(args: argparse.Namespace) -> int:
    """Run ``streamlit run`` and wait for it; its exit status."""
    import signal
    import subprocess

    from explorer.app.server import command

    with subprocess.Popen(command(args.passed_on)) as process:
        try:
            return process.wait()
        except KeyboardInterrupt:
            # Ctrl+C in a terminal reaches Streamlit too, which stops by itself and says so (a second
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
