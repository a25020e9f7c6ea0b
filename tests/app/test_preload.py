"""A fresh server opened by several sessions at once: every page runs without an exception (the
pages' modules are imported once, by :func:`explorer.app.preload.preload`, not by several script
threads at a time)."""

import asyncio

from conftest import HOME
from fresh_python import run_fresh

from explorer.app import guide
from explorer.app.load_client import class_of
from explorer.app.server import running_app

STUDENTS = 8
ARRIVE_WITHIN = 10.0  # seconds: later sessions open Home while the first ones import what pages need
WALK = ["", *(guide.page(name).name for name in ("lesson", "latent_space", "calibration"))]  # Home, then three pages


def test_sessions_opening_a_fresh_server_at_once_see_no_exception(tmp_path):
    env = {"EXPLORER_RUNS_DIR": str(tmp_path / "runs"), "EXPLORER_CACHE_DIR": str(tmp_path / "cache"),
           "EXPLORER_UMAP_WARM_UP": "0"}
    with running_app(env) as base:
        students = asyncio.run(class_of(base, STUDENTS, WALK, ARRIVE_WITHIN, timeout=240))
    visits = [visit for walk in students for visit in walk]
    assert len(visits) == STUDENTS * len(WALK)
    failed = [(visit.page or "Home", visit.errors) for visit in visits if not visit.ok]
    assert not failed, failed
    assert all(visit.elements > 0 for visit in visits)


def test_importing_the_preload_module_imports_nothing_heavy():
    """Home imports it before it sends its text."""
    loaded = run_fresh("import sys\nimport explorer.app.preload\nprint(' '.join(sys.modules))").split()
    assert not {"numpy", "torch", "streamlit", "pandas", "plotly"} & set(loaded)


def test_after_preload_no_page_imports_a_library_first(fresh_app):
    """Home and every page, run after :func:`preload` in a fresh process, import no package outside the
    standard library (and Streamlit, whose modules are its own business) that preload has not: a
    package a page's run imports first is one that several sessions can import, or look up in
    ``sys.modules``, at once. (Submodules a loaded library imports on first use, plotly's figure
    classes for one, are ordinary imports of a complete package.)"""
    code = f"""
import sys
from explorer.app.preload import preload
preload()
from streamlit.testing.v1 import AppTest
from explorer.app import guide
loaded = {{name.split(".")[0] for name in sys.modules}}
app = AppTest.from_file({str(HOME)!r}, default_timeout=600)
app.run()
for page in guide.PAGES:
    app.switch_page(page.script_from_home)
    app.run()
    assert not app.exception, (page.name, app.exception)
first = {{name.split(".")[0] for name in sys.modules}} - loaded - {{*sys.stdlib_module_names, "streamlit"}}
print(" ".join(sorted(first)))
"""
    assert run_fresh(code).split() == []


def test_what_preload_imported_is_frozen_out_of_the_collector():
    """Streamlit collects garbage after every script run: the objects made by the imports, about half a
    million, must not be walked each time."""
    code = "import gc\nfrom explorer.app.preload import preload\npreload()\nprint(gc.get_freeze_count())"
    assert int(run_fresh(code).split()[-1]) > 100_000
