"""Start the app: the command ``vc-explorer app`` runs (``streamlit run explorer/Home.py`` with the
project's settings), the same on a free localhost port for the real-browser test and the page-speed
benchmark, and the selectors a browser uses to tell whether the app's run has ended and shows no
error (the selectors of each page's content are in :mod:`explorer.app.guide`).

It only starts processes, and never imports Streamlit itself, so the command line may use it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from explorer.app import guide
from explorer.core._io import HOME_SCRIPT, STREAMLIT_CONFIG

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ERRORS = '[data-testid="stException"], [data-testid="stAlertContentError"]'
"""A traceback or an error message on the page."""
IDLE = "document.querySelector('[data-testid=\"stApp\"]')?.getAttribute('data-test-script-state') === 'notRunning'"
"""JavaScript, true once the page's script run has ended (every element sent)."""


def settings(config: Path = STREAMLIT_CONFIG) -> list[str]:
    """The Streamlit settings in ``config`` (a ``config.toml``) as options of ``streamlit run``:
    ``--theme.base=light``, ... ``streamlit run`` reads ``.streamlit/config.toml`` from the working
    folder alone, so the app keeps its look when it is started from anywhere else."""
    with open(config, "rb") as f:
        sections = tomllib.load(f)
    words = {True: "true", False: "false"}
    return [f"--{section}.{name}={words.get(value, value) if isinstance(value, bool) else value}"
            for section, options in sections.items() for name, value in options.items()]


def command(options: Sequence[str] = ()) -> list[str]:
    """``python -m streamlit run explorer/Home.py`` with the project's :func:`settings`, then ``options``
    (more options of ``streamlit run``, such as ``--server.port=8600``; given twice, the later wins)."""
    return [sys.executable, "-m", "streamlit", "run", str(HOME_SCRIPT), *settings(), *options]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(process: subprocess.Popen, url: str, timeout: float = 60.0) -> None:
    """Return once the app server that ``process`` runs answers ``url/_stcore/health``.

    Raises ``RuntimeError`` with the server's output (``process`` must have been started with its
    output in a text pipe) if the process ends first or ``timeout`` seconds pass; it is killed then.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                output = process.stdout.read()
                raise RuntimeError(f"the app server did not start within {timeout:.0f} s:\n{output}") from None
            time.sleep(0.25)


@contextlib.contextmanager
def running_app(env: Mapping[str, str] | None = None, timeout: float = 60.0, options: Sequence[str] = (),
                launcher: Sequence[str] | None = None) -> Iterator[str]:
    """Run the app headless on 127.0.0.1 and a free port; yields its URL once it answers ``/_stcore/health``.

    ``env`` is added to this process's environment; ``options`` are more options of ``streamlit run``;
    ``launcher`` replaces ``python -m streamlit`` before ``run`` (a script that runs Streamlit's command
    line, as ``benchmarks/bench_visit.py`` does to time each script run). Raises ``RuntimeError`` with
    the server's output if it does not answer within ``timeout`` seconds; the server is stopped on exit.
    """
    port = free_port()
    argv = command(["--server.headless=true", f"--server.port={port}", "--server.address=127.0.0.1", *options])
    process = subprocess.Popen([*launcher, *argv[3:]] if launcher else argv,
                               env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(process, url, timeout)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def first_visit(browser, base: str) -> dict[str, float]:
    """Seconds from opening ``base`` (Home) in a fresh profile of a playwright ``browser`` to Home's text,
    and to its figure (:data:`explorer.app.guide.HOME`'s main element, not the placeholder drawn while
    the server loads torch). On a fresh server this is what a user first waits for."""
    context = browser.new_context(viewport={"width": 1600, "height": 1200})
    page = context.new_page()
    heading = json.dumps(guide.HOME.heading)
    titled = f"[...document.querySelectorAll('h1')].some(h => h.textContent.trim() === {heading})"
    drawn = f"document.querySelector({json.dumps(guide.HOME.main)}) !== null"
    try:
        started = time.perf_counter()
        page.goto(base, wait_until="commit")
        page.wait_for_function(f"() => {titled}", timeout=300_000, polling=20)
        text = time.perf_counter() - started
        page.wait_for_function(f"() => {titled} && {drawn}", timeout=300_000, polling=20)
        return {"text": text, "figure": time.perf_counter() - started}
    finally:
        context.close()
