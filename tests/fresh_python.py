"""Code run in a fresh interpreter from the checkout's root: what an import loads can only be seen in a
process that has imported nothing yet, and the current folder first on the search path makes it this
checkout's package."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_fresh(code: str) -> str:
    """The standard output of ``python -c code`` run in the checkout's root; its error output is the
    assertion's message if it fails."""
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout
