"""``app``: the Streamlit app started with the project's settings, every further argument passed to
``streamlit run``; the command becomes Streamlit, so Ctrl+C and SIGTERM stop it, quietly."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from cli_calls import ROOT
from explorer.app.server import free_port, wait_until_up


@pytest.mark.parametrize("stop", ["ctrl-c", "sigterm"])
def test_the_app_command_serves_the_app_and_stops_quietly(stop, tmp_path):
    port = free_port()
    # its own process group, as a terminal's foreground job is: Ctrl+C reaches every process of it
    process = subprocess.Popen(
        [sys.executable, "-m", "explorer", "app", "--server.headless=true", f"--server.port={port}",
         "--server.address=127.0.0.1"], cwd=tmp_path, start_new_session=True, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "EXPLORER_RUNS_DIR": str(tmp_path / "runs"),
             "EXPLORER_CACHE_DIR": str(tmp_path / "cache")})
    try:
        wait_until_up(process, f"http://127.0.0.1:{port}")  # on the port given: the options reached Streamlit
        # the command's own process is Streamlit now: no parent waits beside it
        assert b"streamlit" in Path(f"/proc/{process.pid}/cmdline").read_bytes()
        if stop == "ctrl-c":
            os.killpg(process.pid, signal.SIGINT)
        else:  # what a service manager or an IDE's stop button sends, to the process alone
            os.kill(process.pid, signal.SIGTERM)
        code = process.wait(timeout=30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    output = process.stdout.read()
    assert code == 0, output
    assert f"127.0.0.1:{port}" in output and "Stopping..." in output
    assert "Traceback" not in output and "interrupted" not in output



class Started(Exception):
    """Raised by a stand-in for os.execv: the command got as far as becoming Streamlit."""


def exec_stand_in(path, argv):
    raise Started(argv)


def test_the_app_command_sets_the_training_limits_and_passes_the_rest_on(monkeypatch):
    from explorer.cli import main

    monkeypatch.setattr(os, "execv", exec_stand_in)
    monkeypatch.setenv("EXPLORER_MAX_EPOCHS", "")  # restored after the test: main() sets it
    monkeypatch.setenv("EXPLORER_TRAIN_ENCODERS", "")
    with pytest.raises(Started) as started:
        main(["app", "--max-epochs", "7", "--server.port=8600", "--train-encoders", "mlp,cnn"])
    (argv,) = started.value.args
    assert argv[-1] == "--server.port=8600" and "--max-epochs" not in argv and "7" not in argv
    assert os.environ["EXPLORER_MAX_EPOCHS"] == "7" and os.environ["EXPLORER_TRAIN_ENCODERS"] == "mlp,cnn"


def test_the_app_command_refuses_an_unusable_limit_before_starting(monkeypatch, capsys):
    from explorer.cli import main

    monkeypatch.setattr(os, "execv", exec_stand_in)
    monkeypatch.setenv("EXPLORER_MAX_RUNS", "")
    assert main(["app", "--max-runs", "0"]) == 1  # no Started: it stopped before
    assert capsys.readouterr().err.strip().endswith("error: EXPLORER_MAX_RUNS must be a whole number ≥ 1, not 0")
