"""A fresh server opened by several sessions at once: every page runs without an exception (the
pages' modules are imported once, by :func:`explorer.app.preload.preload`, not by several script
threads at a time)."""

import asyncio

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
