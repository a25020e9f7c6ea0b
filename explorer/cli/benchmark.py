"""``benchmark``: train every method with several seeds, measure everything and write the results report."""

from __future__ import annotations

import argparse
from pathlib import Path

from explorer.cli._common import say
from explorer.core.errors import ArgumentError


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("benchmark", help="train every method with several seeds, measure everything and "
                              "write the results report (hours on 2 CPU cores, kept unit by unit; --quick: a "
                              "few minutes)")
    plan = p.add_mutually_exclusive_group()
    plan.add_argument("--quick", action="store_true", help="a small plan, for tests (needs --out-dir)")
    plan.add_argument("--cifar10", action="store_true",
                      help="ResNet-18 on CIFAR-10, 3 seeds: needs a GPU (and --out-dir, e.g. docs/cifar10)")
    plan.add_argument("--text", action="store_true",
                      help="20 Newsgroups and Reuters R8, softmax and VC, 3 seeds, beside TF-IDF + logistic "
                           "regression (about 10 minutes; needs --out-dir, e.g. docs/text)")
    p.add_argument("--out-dir", help="where results/ and results.md go (default: docs)")
    again = p.add_mutually_exclusive_group()
    again.add_argument("--report-only", action="store_true",
                       help="re-render results.md from OUT_DIR/results/results.json without running anything")
    p.add_argument("--note", metavar="TEXT",
                   help="add a note on how the times were measured (for example, on a busy machine) to "
                        "OUT_DIR/results/results.json; the report prints it under its times")
    again.add_argument("--performance-only", action="store_true",
                       help="measure the performance section (UMAP, app memory, machine) again into "
                            "OUT_DIR/results/results.json, keep its rows, and re-render")
    again.add_argument("--add-post-hoc", action="store_true",
                       help="add the best-recalibrated (+best) rows to OUT_DIR/results/results.json made before "
                            "them: train softmax, VC and softmax' again with its plan and seeds, measure only "
                            "their training and calibration, check every number the file already holds, add the "
                            "best-recalibrated rows, and re-render (a fraction of the full run's time; kept unit "
                            "by unit)")


def run(args: argparse.Namespace) -> None:
    import time

    from explorer.core._io import PROJECT_DIR
    from explorer.jobs import benchmark, report
    from explorer.jobs.results import Results
    from explorer.jobs.runs import check_writable

    if (args.quick or args.cifar10 or args.text) and not args.out_dir:
        raise ArgumentError("--quick, --cifar10 and --text need --out-dir, so that they never overwrite the "
                            "committed report")
    out = Path(args.out_dir or "docs")
    raw = out / "results"
    report.check_figures_can_be_written()  # before the run: its figures are drawn at the end

    if args.performance_only:
        benchmark.remeasure_performance(raw, log=say)
    elif args.add_post_hoc:
        added = benchmark.add_post_hoc(raw, log=say)
        say(f"added {added['added']} rows; {added['checked']} numbers measured again matched the file's "
            f"(largest relative difference {added['largest_difference']:.2g})")
    elif not args.report_only:
        plan = (benchmark.QUICK if args.quick else benchmark.CIFAR10 if args.cifar10 else
                benchmark.TEXT if args.text else benchmark.FULL)
        check_writable(raw / "results.json")
        units = raw / "units"  # each finished unit, so that a stopped run goes on where it stopped
        kept = benchmark.kept_units(plan, units)
        started = time.perf_counter()
        rows = benchmark.run(plan, log=say, units_dir=units)
        perf = benchmark.performance(plan, log=say)
        benchmark.write_results(raw, rows, perf, plan, time.perf_counter() - started, kept)
    if args.note:
        benchmark.add_note(raw / "results.json", args.note)
    results = Results.load(raw / "results.json")
    (out / "results.md").write_text(report.render(results, raw, "results"))
    print(f"wrote {out / 'results.md'} from {raw / 'results.json'}")
    readme = PROJECT_DIR / "README.md"  # in a checkout; an installed package has none
    committed = not args.out_dir and out.resolve() == (PROJECT_DIR / "docs").resolve()  # not a docs/ elsewhere
    if committed and readme.exists():  # the committed report: its headline goes in the README
        report.update_readme(readme, results)
        print(f"updated the results section of {readme}")
