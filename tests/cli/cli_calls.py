"""How the command-line tests call it: in a subprocess as ``python -m explorer`` or as the installed
``vc-explorer`` command, or in-process for a one-line error or a JSON report."""

import json
import os
import subprocess
import sys
from pathlib import Path

from explorer.cli import COMMAND, main

ROOT = Path(__file__).resolve().parents[2]
CONSOLE_SCRIPT = """import re
import sys
from explorer.cli import main
if __name__ == "__main__":
    sys.argv[0] = re.sub(r"(-script\\.pyw|\\.exe)?$", "", sys.argv[0])
    sys.exit(main())
"""
"""What pip writes for ``[project.scripts]`` (its script name, then main()): no current folder on the
module search path, and ``sys.argv[0]`` the command's own name."""


def run_console_script(folder: Path, *args):
    """``vc-explorer ARGS`` run in ``folder`` as the installed command runs, with this checkout's package:
    exit code, stdout, stderr. The script is written to ``folder/bin``."""
    script = folder / "bin" / COMMAND
    script.parent.mkdir(exist_ok=True)
    script.write_text(CONSOLE_SCRIPT)
    done = subprocess.run([sys.executable, str(script), *args], cwd=folder, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300)
    return done.returncode, done.stdout, done.stderr


def run_cli(*args, env=None):
    """The real entry point in a subprocess: exit code, stdout, stderr."""
    done = subprocess.run([sys.executable, "-m", "explorer", *args], cwd=ROOT, capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=300)
    return done.returncode, done.stdout, done.stderr


def evaluate_json(*args, capsys):
    assert main(["evaluate", *map(str, args), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def one_line_error(argv, capsys) -> str:
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    return err
