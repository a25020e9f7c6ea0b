"""Where VC wins, ties and loses against softmax: the report's comparisons and the rule that judges them.

Two steps, kept apart so that the rule can be replaced alone: :func:`comparisons` picks the values
over seeds that each claim of METHOD.md compares (from :class:`Results`), for a pair of methods:
:data:`VC` (VC against softmax) or :data:`AA`, the A/A check (softmax trained on a second, disjoint set
of seeds against softmax), which runs the same comparisons and should call almost none;
:func:`compare` is the rule, a verdict and its interval from two arrays. Numbers and verdicts only:
the report (:func:`explorer.jobs.report.verdict_rows`) formats them, and :data:`RULE` says the rule in
words where it shows them.

Values at one index of two methods come from one unit of the benchmark (a suite and a seed, every
method trained in it with that seed, :func:`explorer.jobs.benchmark.run_unit`): that is the pairing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import numpy as np

from explorer.jobs.results import AA_ARM, BEST, BOOTSTRAP, HEADLINE, POST_HOC, TS, Results
from explorer.measure.intervals import LEVEL, Interval, seed_interval

VERDICTS = ("wins", "ties", "loses")
"""What :func:`compare` says of the first method, in the order a tally lists them."""
NO_VERDICT = "–"
"""What :func:`compare` says where it cannot judge: a side unmeasured, or a single seed."""
VC = ("vc", "softmax")
"""The report's comparison: VC against softmax."""
AA = (AA_ARM, "softmax")
"""The A/A check: softmax on the plan's second set of seeds against softmax on its first."""
RULE = (f"Each row pairs the two methods seed by seed (methods trained with one seed share its split, its "
        f"batches and its initial encoder): the difference of the measure per seed, its mean, and a "
        f"{LEVEL:.0%} t interval over the n seeds, mean ± t(0.975, n − 1) · s/√n (t = 4.30 for 3 seeds, 2.78 "
        f"for 5). Where the run stored the paired bootstrap of each seed's difference over the test examples "
        f"(clean measures), the interval is widened by it: SE² = s²/n + (mean over seeds of its standard "
        f"deviation)², since every seed is measured on the same test split. *Wins* or *loses* only where "
        f"the interval excludes 0; otherwise *ties*. With one seed there is no interval and no verdict (–).")
""":func:`compare`'s rule, as the report states it."""
NAMES = {"vc": "VC", AA_ARM: AA_ARM}
"""How a row's text names a method (others by their own name)."""
OOD_SCORE = {"vc": ("auroc_log_density", "log p(z)")}
"""The out-of-distribution score each method is compared on (others: the max probability)."""


class Comparison(NamedTuple):
    """One claim measured: (seeds,) values of the method judged (``a``) and of what it is compared with
    (``b``), and, where the run stored them, (seeds,) bootstrap variances of a − b over test examples."""

    what: str
    a: np.ndarray
    b: np.ndarray
    higher_is_better: bool
    test_variances: np.ndarray


class Verdict(NamedTuple):
    """A :data:`VERDICTS` word (or :data:`NO_VERDICT`) and the interval of a − b it rests on (None
    without one)."""

    verdict: str
    interval: Interval | None


def clean_pairs(pair: tuple[str, str] = VC) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    """(method a, method b, measures) of the clean-test-split comparisons of ``pair``: both unscaled on
    every headline measure; a against temperature-scaled b on ECE and NLL, both scaled on ECE, adaptive
    ECE and NLL; a against b recalibrated by the map chosen on its validation split (``"+best"``) on
    ECE, NLL and Brier (that map can move the argmax, so Brier, which sees it, is compared too), and
    both so recalibrated on ECE, adaptive ECE, NLL and Brier. For :data:`AA` only the pairs with one
    method on both sides (both unscaled, both scaled, both recalibrated): a recalibrated softmax differs
    from an unscaled one, so a call there would be no false call. The benchmark stores the test-example
    bootstrap of exactly these."""
    a, b = pair
    pairs = ((a, b, tuple(k for k, _, _ in HEADLINE)), (a, f"{b}{TS}", ("ece", "nll")),
             (f"{a}{TS}", f"{b}{TS}", ("ece", "adaptive_ece", "nll")), (a, f"{b}{BEST}", ("ece", "nll", "brier")),
             (f"{a}{BEST}", f"{b}{BEST}", ("ece", "adaptive_ece", "nll", "brier")))
    if pair == AA:  # a null comparison puts one method on both sides: softmax' against scaled softmax is none
        pairs = tuple(p for p in pairs if _post_hoc(p[0]) == _post_hoc(p[1]))
    return pairs


def _post_hoc(method: str) -> str:
    """The recalibration suffix a method's name ends with ("" for none)."""
    return next((suffix for suffix in POST_HOC if method.endswith(suffix)), "")


def _recalibrated(method: str) -> str:
    """The words for a recalibrated row's map (:data:`~explorer.jobs.results.POST_HOC`)."""
    return POST_HOC[_post_hoc(method)]


def comparisons(results: Results, suite: str, pair: tuple[str, str] = VC) -> list[Comparison]:
    """The claims of METHOD.md on ``suite`` for ``pair`` (:data:`VC` or :data:`AA`): the first method
    against the second on every condition the suite measured. A clean comparison with a
    best-recalibrated row the suite never measured (results made before it) is left out."""
    a, b = pair
    name_a, name_b = NAMES.get(a, a), NAMES.get(b, b)
    titles = {k: (title, higher) for k, title, higher in HEADLINE}
    out = []

    def add(what: str, vc: np.ndarray, softmax: np.ndarray, higher: bool, variances=()) -> None:
        out.append(Comparison(what, vc, softmax, higher, np.asarray(variances, dtype=float)))

    measured = set(results.methods(suite, aa=True))
    for x, y, measures in clean_pairs(pair):
        if any(m.endswith(BEST) and m not in measured for m in (x, y)):
            continue
        for k in measures:
            title, higher = titles[k]
            what = (f"{title} (clean)" if (x, y) == pair else
                    f"{title} (clean), {name_a} against {_recalibrated(y)} {name_b}" if x == a else
                    f"{title} (clean), both {_recalibrated(y)}")
            add(what, results.get(suite, x, "clean", k), results.get(suite, y, "clean", k), higher,
                results.get(suite, x, f"{BOOTSTRAP}{y}", k))
    shifted = [c for _, _, c in results.corrupted(suite)]
    for k, title, higher in (("accuracy", "accuracy", True), ("ece", "ECE", False)):
        add(f"{title} under corruption (mean of all, severities 1-5)",
            results.mean_over(suite, a, shifted, k), results.mean_over(suite, b, shifted, k), higher)
    for c in results.conditions(suite, "pgd"):
        add(f"robust accuracy, PGD ε = {c.split(':')[1]}", results.get(suite, a, c, "robust_accuracy"),
            results.get(suite, b, c, "robust_accuracy"), True)
    for c in results.conditions(suite, "fraction:"):
        add(f"accuracy with {float(c.split(':')[1]):.0%} of the training data", results.get(suite, a, c, "accuracy"),
            results.get(suite, b, c, "accuracy"), True)
    for c in results.conditions(suite, "ood:"):
        (score_a, said_a), (score_b, said_b) = (OOD_SCORE.get(m, ("auroc_max_softmax", "max probability"))
                                                for m in pair)
        scores = (f"{name_a}'s {said_a} vs {name_b}'s {said_b}" if score_a != score_b else said_a)
        add(f"OOD AUROC against {c.split(':')[1]}: {scores}", results.get(suite, a, c, score_a),
            results.get(suite, b, c, score_b), True)
    return out


def compare(a: np.ndarray, b: np.ndarray, higher_is_better: bool, test_variances=None,
            level: float = LEVEL) -> Verdict:
    """The verdict on a against b, paired seed by seed (``a[i]`` and ``b[i]`` share seed i): the
    interval of the mean difference a − b (:func:`explorer.measure.intervals.seed_interval`, widened by
    ``test_variances`` where given, one a seed) decides: "wins" where it lies wholly on the better side
    of 0, "loses" wholly on the worse side, "ties" where it holds 0. :data:`NO_VERDICT` where a side
    has no values, the sides have different numbers of seeds, or there is one seed."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if not len(a) or len(a) != len(b):
        return Verdict(NO_VERDICT, None)
    variances = None if test_variances is None or len(test_variances) != len(a) else test_variances
    interval = seed_interval(a - b, level, variances)
    if interval is None:
        return Verdict(NO_VERDICT, None)
    if not interval.excludes_zero:
        return Verdict("ties", interval)
    better = (interval.low > 0) == higher_is_better
    return Verdict("wins" if better else "loses", interval)


def judged(results: Results, suite: str, pair: tuple[str, str] = VC) -> list[tuple[Comparison, Verdict]]:
    """Every one of ``suite``'s :func:`comparisons` for ``pair`` with :func:`compare`'s verdict on it."""
    return [(c, compare(c.a, c.b, c.higher_is_better, c.test_variances)) for c in comparisons(results, suite, pair)]


def tally(verdicts: Iterable[str]) -> dict[str, int]:
    """How many of ``verdicts`` say each of :data:`VERDICTS`, in that order."""
    verdicts = list(verdicts)
    return {v: verdicts.count(v) for v in VERDICTS}
