"""A class on one app server: N students who arrive within T seconds, each opening Home and walking the
Lesson, Latent space and Calibration pages, through Streamlit's own websocket protocol (no browser:
what is timed is the server alone; :mod:`explorer.app.load_client`).

Each run starts a fresh server (``streamlit run explorer/Home.py`` with the project's settings, empty
projection and run folders, UMAP warmed up in the background as a user gets it). ``fresh``: the
students arrive right as it answers. ``--warm``: one student walks the pages first, the server
settles for ``--settle`` seconds, then the class arrives. Per page it prints the p50, p95 and max
seconds from a page's request to the end of its script run, the visits that showed an error (an
exception, an error message, a failed connection), the server's peak resident memory (its whole
process tree, sampled every 0.2 s) and the CPU seconds that tree used while the class was on it.

Targets on a 2-core machine: 30 students arriving within 10 s of a fresh start: no error, p95 ≤ 10 s;
30 students on a warm server: p95 ≤ 3 s per page. The client runs in this process and shares the
machine with the server; on a busy machine the figures are inflated, so the load average is printed.

    python benchmarks/bench_classroom.py [--students 30] [--arrive-within 10] [--warm] [--runs 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from explorer.app import guide
from explorer.app.load_client import class_of, walk
from explorer.app.server import running_app

WALK = ("", "lesson", "latent_space", "calibration")
"""The pages each student opens, in order, by URL path ("": Home)."""
FRESH_P95, WARM_P95 = 10.0, 3.0
_TICK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _children() -> dict[int, list[int]]:
    """Every process's children, from /proc (Linux)."""
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:  # it ended meanwhile
                continue
            parent = int(stat[stat.rindex(")") + 2:].split()[1])
            tree.setdefault(parent, []).append(int(entry.name))
    return tree


def _descendants(pid: int) -> list[int]:
    tree, out, todo = _children(), [], [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


class ServerUsage:
    """The app server's process tree (this process's descendants: the server it started and its
    workers), sampled in a thread: the peak of its summed resident memory, and its CPU seconds."""

    def __init__(self, interval: float = 0.2):
        self.interval, self.peak_bytes = interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def cpu_seconds(self) -> float:
        """CPU seconds (user + system) used so far by the tree, ended workers waited for included."""
        total = 0
        for pid in _descendants(os.getpid()):
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
        return total / _TICK

    def _rss(self) -> int:
        total = 0
        for pid in _descendants(os.getpid()):
            try:
                total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE
            except OSError:
                continue
        return total

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak_bytes = max(self.peak_bytes, self._rss())

    def __enter__(self) -> ServerUsage:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def page_table(students: list[list]) -> dict[str, dict[str, object]]:
    """Per page of :data:`WALK`: p50, p95, max seconds of the runs that finished (a closed connection
    ends a student's walk), the number of students who asked for the page, of runs that finished and
    of visits with an error, and the first distinct error messages."""
    out = {}
    for page in WALK:
        visits = [v for walk_ in students for v in walk_ if v.page == page]
        seconds = np.array([v.seconds for v in visits if v.finished])
        errors = [e for v in visits for e in v.errors]
        out[guide.page(page).title] = {
            "asked": len(visits), "finished": len(seconds),
            **{name: float(np.percentile(seconds, q)) if len(seconds) else float("nan")
               for name, q in (("p50", 50), ("p95", 95), ("max", 100))},
            "errors": sum(not v.ok for v in visits), "messages": sorted(set(errors))[:3]}
    return out


def one_run(students: int, arrive_within: float, warm: bool, settle: float, umap_warm_up: bool) -> dict:
    scratch = Path(tempfile.mkdtemp(prefix="bench-classroom-"))
    env = {"EXPLORER_RUNS_DIR": str(scratch / "runs"), "EXPLORER_CACHE_DIR": str(scratch / "cache"),
           "EXPLORER_UMAP_WARM_UP": "1" if umap_warm_up else "0"}
    try:
        with running_app(env, timeout=120) as base, ServerUsage() as usage:
            if warm:
                first = asyncio.run(walk(base, list(WALK)))
                if not all(v.ok for v in first):
                    raise RuntimeError(f"the first visit failed: {[v.errors for v in first if not v.ok]}")
                time.sleep(settle)
            load_before, cpu_before, started = os.getloadavg(), usage.cpu_seconds(), time.perf_counter()
            visits = asyncio.run(class_of(base, students, list(WALK), arrive_within))
            wall, cpu = time.perf_counter() - started, usage.cpu_seconds() - cpu_before
            load_after = os.getloadavg()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {"pages": page_table(visits), "wall_s": wall, "server_cpu_s": cpu,
            "server_peak_rss_mb": usage.peak_bytes / 2**20, "load_before": load_before, "load_after": load_after}


def report(result: dict, target: float) -> None:
    print(f"{'page':<14} {'p50 s':>7} {'p95 s':>7} {'max s':>7} {'finished':>10} {'errors':>7}")
    for title, row in result["pages"].items():
        print(f"{title:<14} {row['p50']:7.2f} {row['p95']:7.2f} {row['max']:7.2f} {row['finished']:4d} of {row['asked']:<3d}"
              f" {row['errors']:7d}")
        for message in row["messages"]:
            print(f"    {message[:200]}")
    worst = max((row["p95"] for row in result["pages"].values() if row["finished"]), default=float("nan"))
    errors = sum(row["errors"] for row in result["pages"].values())
    print(f"server: peak RSS {result['server_peak_rss_mb']:.0f} MB (process tree), CPU {result['server_cpu_s']:.1f} s "
          f"over {result['wall_s']:.1f} s; load average {result['load_before'][0]:.2f} before, "
          f"{result['load_after'][0]:.2f} after (1 min)")
    print(f"worst p95 {worst:.2f} s (target {target:g} s), {errors} visits with an error (target 0)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=30, help="simulated students (default 30)")
    parser.add_argument("--arrive-within", type=float, default=10.0,
                        help="seconds over which they arrive, evenly spread (default 10)")
    parser.add_argument("--warm", action="store_true",
                        help="the class arrives after a first visit of every page and --settle seconds")
    parser.add_argument("--settle", type=float, default=30.0, help="seconds between the first visit and the "
                        "class with --warm (default 30: UMAP's warm-up has time to compile)")
    parser.add_argument("--runs", type=int, default=2, help="fresh servers, one class each (default 2)")
    parser.add_argument("--no-umap-warm-up", action="store_true",
                        help="do not compile UMAP in the background at start (to measure its cost)")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    mode, target = ("warm", WARM_P95) if args.warm else ("fresh", FRESH_P95)
    results = []
    for run in range(args.runs):
        print(f"\nrun {run + 1} of {args.runs}: {args.students} students arriving within {args.arrive_within:g} s, "
              f"{mode} server; {os.cpu_count()} CPUs", flush=True)
        results.append(one_run(args.students, args.arrive_within, args.warm, args.settle, not args.no_umap_warm_up))
        report(results[-1], target)
    if args.json:
        Path(args.json).write_text(json.dumps({"students": args.students, "arrive_within": args.arrive_within,
                                               "mode": mode, "runs": results}, indent=1))


if __name__ == "__main__":
    main()
