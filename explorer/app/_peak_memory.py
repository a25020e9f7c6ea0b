"""``python -m explorer.app._peak_memory HOME.py``: peak memory of one process running every page.

Run by :func:`explorer.jobs.benchmark.app_peak_memory_mb` in a fresh process on the MNIST models;
prints one line of JSON.
"""

from __future__ import annotations

import json
import sys

from streamlit.testing.v1 import AppTest

from explorer.app.guide import PAGES
from explorer.jobs.benchmark import peak_rss_mb


def main(home: str) -> None:
    app = AppTest.from_file(home, default_timeout=600)
    app.query_params["dataset"] = "mnist"
    app.run()
    for page in PAGES:
        if page.needs_models:
            app.switch_page(page.script_from_home)
            app.run()
            assert not app.exception, (page.name, app.exception)
    print(json.dumps({"peak_rss_mb": peak_rss_mb()}))


if __name__ == "__main__":
    main(*sys.argv[1:])
