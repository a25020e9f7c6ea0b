"""``python -m explorer.app._first_visit``: a fresh server's first visit of Home, in headless Chromium.

Run by :func:`explorer.jobs.benchmark.app_first_visit` in a fresh process: it starts the app with
empty projection and run folders, opens Home in a fresh browser profile and prints one line of JSON,
the seconds to Home's text and to its figure (:func:`explorer.app.server.first_visit`).
Needs Chromium and ``playwright`` (requirements-dev.txt).
"""

from __future__ import annotations

import json
import tempfile

from explorer.app.server import CHROMIUM, first_visit, running_app


def main() -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="first-visit-") as scratch:
        env = {"EXPLORER_RUNS_DIR": f"{scratch}/runs", "EXPLORER_CACHE_DIR": f"{scratch}/cache"}
        with running_app(env) as base, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            try:
                seconds = first_visit(browser, base)
            finally:
                browser.close()
    print(json.dumps(seconds))


if __name__ == "__main__":
    main()
