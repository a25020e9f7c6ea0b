"""What the results report (``docs/results.md``, its raw numbers in ``docs/results/results.json``)
says, as the Lesson's steps 5 and 6 quote it: its verdicts for VC against softmax, counted and named.
The report is read through :func:`explorer.app.cache.shipped_results`; without it, nothing is quoted."""

from __future__ import annotations

import pandas as pd

from explorer.app import cache
from explorer.jobs.report import verdict_rows
from explorer.jobs.results import Results
from explorer.jobs.verdicts import NO_VERDICT, VERDICTS
from explorer.measure.intervals import LEVEL


def _verdicts(results: Results | None, dataset: str, claims: tuple[str, ...]
              ) -> tuple[str, list[tuple[str, str, str, str, str]]]:
    """The report's suite on ``dataset`` and its comparisons that name one of ``claims`` (rows of
    :func:`explorer.jobs.report.verdict_rows`, the verdict last); ("", []) without a report or a suite on
    ``dataset``."""
    suite = None if results is None else results.suite_for(dataset)
    if suite is None:
        return "", []
    return suite, [row for row in verdict_rows(results, suite)
                   if any(c in row[0] for c in claims) and row[-1] != NO_VERDICT]


def claims_table(dataset: str, claims: tuple[str, ...]) -> pd.DataFrame | None:
    """The report's comparisons on ``dataset`` that name one of ``claims``, one row each; None if none."""
    _, rows = _verdicts(cache.shipped_results(), dataset, claims)
    if not rows:
        return None
    return pd.DataFrame(rows, columns=["measured", "VC", "softmax", f"VC − softmax [{LEVEL:.0%} interval]",
                                       "verdict for VC"]).set_index("measured")


def claims_text(dataset: str, claims: tuple[str, ...]) -> str:
    """What the results report says on ``dataset`` about ``claims``: its verdicts, counted and named
    ("" when it says nothing)."""
    results = cache.shipped_results()
    suite, rows = _verdicts(results, dataset, claims)
    if not rows:
        return ""
    by = {verdict: [row[0] for row in rows if row[-1] == verdict] for verdict in VERDICTS}
    parts = [f"**{verdict}** on {'; '.join(whats)}" for verdict, whats in by.items() if whats]
    d = results.plan_of(suite).get("latent_dim", "?")
    seeds = len(results.payload.get("plan", {}).get("seeds", []))
    return (f"The results report (`docs/results.md`) measured d = {d} models on {dataset} "
            f"(suite *{suite}*, {seeds} seeds; a verdict pairs the methods seed by seed and "
            f"calls a win or a loss only where the {LEVEL:.0%} interval of the difference excludes 0). Against "
            f"softmax, VC {', '.join(parts)}.")


def wins_elsewhere(dataset: str) -> str:
    """The report's wins for VC on its other datasets, so that step 6 shows where VC helps too."""
    results = cache.shipped_results()
    if results is None:
        return ""
    won = {suite: [row[0] for row in verdict_rows(results, suite) if row[-1] == "wins"] for suite in results.suites
           if results.plan_of(suite).get("dataset") != dataset}
    wins = [f"on {results.plan_of(suite).get('dataset')}, {'; '.join(whats)}" for suite, whats in won.items() if whats]
    return (" In the report's other suites VC wins " + " — and ".join(wins) + "." if wins else
            " VC wins no comparison in the report's other suites.")
