"""Where a warm page visit's server CPU goes: the script run (Home's sidebar, the page's views, the
figures sent, Streamlit's collection after the run) against the whole server process (its event loop
too: sessions, protobufs, websocket sends).

It starts the app server (``streamlit run explorer/Home.py`` with the project's settings, as
:func:`explorer.app.server.command` gives it) in a process whose Streamlit script runner records each
script run's thread CPU time (and, with ``--profile``, wraps the run in cProfile), walks every page of
the classroom benchmark's walk twice to warm the caches, then ``--walks`` more times, one student at a
time, through Streamlit's own protocol (:mod:`explorer.app.load_client`). Per page it prints the
server's CPU seconds per visit (its process tree's user + system time, from /proc), those of the script
runs, the difference (the event loop's and other threads' share), and with ``--profile`` the functions
that took the most cumulative time in the script runs (cProfile's overhead inflates those: read them as
shares). The load average is printed: the machine's other work inflates every figure.

    python benchmarks/bench_visit.py [--walks 3] [--profile] [--top 20] [--option=--server.fileWatcherType=auto]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pstats
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

WALK = ("", "lesson", "latent_space", "calibration")
"""The classroom benchmark's walk (benchmarks/bench_classroom.py), by URL path ("": Home)."""
_RECORDS = "EXPLORER_VISIT_RECORDS"
_PROFILE = "EXPLORER_VISIT_PROFILE"


def serve(argv: list[str]) -> None:
    """Run ``streamlit <argv>`` here, each script run's thread CPU appended to ``$EXPLORER_VISIT_RECORDS``
    (one JSON line a run) and, when ``$EXPLORER_VISIT_PROFILE`` is set, its cProfile statistics written there."""
    import cProfile
    import itertools

    from streamlit.runtime.scriptrunner import script_runner
    from streamlit.web.cli import main

    records, profiles, numbers = Path(os.environ[_RECORDS]), os.environ.get(_PROFILE), itertools.count()
    run_script = script_runner.ScriptRunner._run_script

    def recorded(self, rerun_data):
        profile = cProfile.Profile() if profiles else None
        started = time.thread_time()
        if profile:
            profile.enable()
        try:
            return run_script(self, rerun_data)
        finally:
            if profile:
                profile.disable()
            record = {"page": rerun_data.page_name, "cpu_s": time.thread_time() - started, "at": time.time(),
                      "number": next(numbers)}
            if profile:
                record["profile"] = str(Path(profiles) / f"{record['number']:05d}.prof")
                profile.dump_stats(record["profile"])
            with open(records, "a") as f:  # one line a run, written whole
                f.write(json.dumps(record) + "\n")

    script_runner.ScriptRunner._run_script = recorded
    sys.argv = ["streamlit", *argv]
    main()


CONNECT = "connect"
"""The row of a session's connection (Streamlit sets a session up when its websocket opens)."""


async def walks(base: str, cpu_seconds: Callable[[], float], n: int) -> dict[str, list[float]]:
    """``n`` walks of :data:`WALK`, one session each, one after another; the server's CPU seconds of
    each connection (:data:`CONNECT`) and of each visit, per page (each counted until the server is idle
    again: its sends and its work after the run included)."""
    from explorer.app.load_client import Session

    cpu: dict[str, list[float]] = {page: [] for page in (CONNECT, *WALK)}
    for _ in range(n):
        before = cpu_seconds()
        async with Session(base) as session:
            await asyncio.sleep(0.3)
            cpu[CONNECT].append(cpu_seconds() - before)
            for page in WALK:
                before = cpu_seconds()
                visit = await session.visit(page)
                if not visit.ok:
                    raise RuntimeError(f"the visit of {page or 'Home'} failed: {visit.errors}")
                await asyncio.sleep(0.3)  # the last sends and the collection after the run
                cpu[page].append(cpu_seconds() - before)
    return cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--walks", type=int, default=3, help="measured walks of the four pages (default 3)")
    parser.add_argument("--profile", action="store_true", help="also profile the script runs (cProfile)")
    parser.add_argument("--top", type=int, default=20, help="functions listed per page with --profile (default 20)")
    parser.add_argument("--option", action="append", default=[],
                        help="an option of streamlit run for the server (repeatable), such as "
                             "--option=--server.fileWatcherType=auto")
    parser.add_argument("--serve", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)  # the server's own process
    args = parser.parse_args()
    if args.serve is not None:
        serve(args.serve)
        return

    from bench_classroom import ServerUsage  # beside this script: the server's process tree, from /proc

    from explorer.app import guide
    from explorer.app.server import running_app

    scratch = Path(tempfile.mkdtemp(prefix="bench-visit-"))
    env = {"EXPLORER_RUNS_DIR": str(scratch / "runs"), "EXPLORER_CACHE_DIR": str(scratch / "cache"),
           "EXPLORER_UMAP_WARM_UP": "0", _RECORDS: str(scratch / "runs.jsonl")}
    if args.profile:
        (scratch / "profiles").mkdir()
        env[_PROFILE] = str(scratch / "profiles")
    try:
        launcher = [sys.executable, __file__, "--serve"]
        with running_app(env, timeout=180, options=args.option, launcher=launcher) as base:
            cpu_seconds = ServerUsage().cpu_seconds
            asyncio.run(walks(base, cpu_seconds, 2))  # warm: the caches filled, UMAP not needed at d = 2
            since, load_before = time.time(), os.getloadavg()
            cpu = asyncio.run(walks(base, cpu_seconds, args.walks))
        load_after = os.getloadavg()
        runs = [json.loads(line) for line in (scratch / "runs.jsonl").read_text().splitlines()]
        runs = [r for r in runs if r["at"] > since]
        print(f"{args.walks} warm walks, one student at a time; load average {load_before[0]:.2f} before, "
              f"{load_after[0]:.2f} after (1 min); {os.cpu_count()} CPUs"
              + ("; script runs profiled (cProfile inflates them)" if args.profile else ""))
        print(f"{'page':<14} {'server CPU s/visit':>19} {'script runs':>12} {'rest':>7}")
        for page in (CONNECT, *WALK):
            script = [r["cpu_s"] for r in runs if r["page"] == page]
            server_s, script_s = sum(cpu[page]) / len(cpu[page]), sum(script) / max(len(script), 1)
            title = "(connection)" if page == CONNECT else guide.page(page).title
            print(f"{title:<14} {server_s:19.3f} {script_s:12.3f} {server_s - script_s:7.3f}")
        total = sum(map(sum, cpu.values())) / (len(WALK) * args.walks)
        print(f"a walk's server CPU, its connection included, per visit: {total:.3f} s")
        if args.profile:
            for page in WALK:
                files = [r["profile"] for r in runs if r["page"] == page]
                print(f"\n== {guide.page(page).title}: {len(files)} script runs, by cumulative time")
                pstats.Stats(*files).sort_stats("cumulative").print_stats(args.top)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

if __name__ == "__main__":
    main()
