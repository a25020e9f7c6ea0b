"""Where VC wins, ties and loses against softmax: the report's comparisons and the rule that judges them.

Two steps, kept apart so that the rule can be replaced alone: :func:`comparisons` picks the values
over seeds that each claim of METHOD.md compares (VC's and softmax's, from :class:`Results`);
:func:`compare` is the rule, a verdict from two arrays. Numbers and verdicts only: the report
(:func:`explorer.jobs.report.verdict_rows`) formats them, and :data:`RULE` says the rule in words where
it shows them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import NamedTuple

import numpy as np

from explorer.jobs.results import HEADLINE, Results

VERDICTS = ("wins", "ties", "loses")
"""What :func:`compare` says of VC, in the order a tally lists them."""
RULE = ("*Wins* means the difference of the means is larger than the spread across seeds, "
        "√(std_VC² + std_softmax²); anything closer is a tie.")
""":func:`compare`'s rule, as the report states it."""


class Comparison(NamedTuple):
    """One claim measured: (seeds,) values of VC and of what it is compared with."""

    what: str
    vc: np.ndarray
    softmax: np.ndarray
    higher_is_better: bool


def comparisons(results: Results, suite: str) -> list[Comparison]:
    """The claims of METHOD.md on ``suite``: VC against softmax (and against temperature-scaled softmax
    where ``what`` says so), on every condition the suite measured."""
    out = []

    def add(what: str, vc: np.ndarray, softmax: np.ndarray, higher: bool) -> None:
        out.append(Comparison(what, vc, softmax, higher))

    for k, title, higher in HEADLINE:
        add(f"{title} (clean)", results.get(suite, "vc", "clean", k), results.get(suite, "softmax", "clean", k),
            higher)
    for k, title, higher in (HEADLINE[1], HEADLINE[3]):
        add(f"{title} (clean), VC against temperature-scaled softmax", results.get(suite, "vc", "clean", k),
            results.get(suite, "softmax+ts", "clean", k), higher)
    for k, title, higher in HEADLINE[1:4]:
        add(f"{title} (clean), both temperature-scaled", results.get(suite, "vc+ts", "clean", k),
            results.get(suite, "softmax+ts", "clean", k), higher)
    shifted = [c for _, _, c in results.corrupted(suite)]
    for k, title, higher in (("accuracy", "accuracy", True), ("ece", "ECE", False)):
        add(f"{title} under corruption (mean of all, severities 1-5)",
            results.mean_over(suite, "vc", shifted, k), results.mean_over(suite, "softmax", shifted, k), higher)
    for c in results.conditions(suite, "pgd"):
        add(f"robust accuracy, PGD ε = {c.split(':')[1]}", results.get(suite, "vc", c, "robust_accuracy"),
            results.get(suite, "softmax", c, "robust_accuracy"), True)
    for c in results.conditions(suite, "fraction:"):
        add(f"accuracy with {float(c.split(':')[1]):.0%} of the training data", results.get(suite, "vc", c, "accuracy"),
            results.get(suite, "softmax", c, "accuracy"), True)
    for c in results.conditions(suite, "ood:"):
        add(f"OOD AUROC against {c.split(':')[1]}: VC's log p(z) vs softmax's max probability",
            results.get(suite, "vc", c, "auroc_log_density"), results.get(suite, "softmax", c, "auroc_max_softmax"),
            True)
    return out


def compare(a: np.ndarray, b: np.ndarray, higher_is_better: bool) -> str:
    """"wins", "loses" or "ties" for a against b: a win needs the mean difference to exceed the
    spread, sqrt(std_a² + std_b²) over seeds (with one seed, any difference counts); "–" where either
    has no values."""
    if not len(a) or not len(b):
        return "–"
    diff = float(np.mean(a) - np.mean(b)) * (1 if higher_is_better else -1)
    spread = math.sqrt(np.var(a, ddof=1) + np.var(b, ddof=1)) if min(len(a), len(b)) > 1 else 0.0
    if diff > spread:
        return "wins"
    if diff < -spread:
        return "loses"
    return "ties"


def judged(results: Results, suite: str) -> list[tuple[Comparison, str]]:
    """Every one of ``suite``'s :func:`comparisons` with :func:`compare`'s verdict on it."""
    return [(c, compare(c.vc, c.softmax, c.higher_is_better)) for c in comparisons(results, suite)]


def tally(verdicts: Iterable[str]) -> dict[str, int]:
    """How many of ``verdicts`` say each of :data:`VERDICTS`, in that order."""
    verdicts = list(verdicts)
    return {v: verdicts.count(v) for v in VERDICTS}
