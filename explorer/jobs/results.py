"""The benchmark's raw results as data: rows grouped by suite, method, condition and measure.

:mod:`explorer.jobs.benchmark` writes one row per number it measures to ``results.json``; everything
that reads them (the report, its verdicts, the app's lesson) reads them through :class:`Results`, and
names the methods and measures with the constants here. Values are per seed, in the rows' order: the
i-th value of every method of a suite comes from the plan's i-th unit of that suite (one seed, every
method trained with it), which is what pairs them.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from explorer.core.errors import ArgumentError
from explorer.measure.corruptions import SEVERITIES

REFERENCE = "tfidf+logreg"
"""The text suites' reference row (:func:`explorer.jobs.benchmark.text_reference`)."""
AA_ARM = "softmax'"
"""Softmax trained on the plan's second, disjoint set of seeds (:attr:`explorer.jobs.benchmark.Plan.aa_seeds`):
the other side of the A/A check (:data:`explorer.jobs.verdicts.AA`)."""
TS, BEST = "+ts", "+best"
"""Suffixes of an arm's recalibrated rows (:data:`explorer.jobs.benchmark.SCALED`): temperature-scaled, and
recalibrated by the recalibrator chosen on the model's validation split."""
POST_HOC = {TS: "temperature-scaled", BEST: "best-recalibrated"}
"""Each suffix of :data:`TS` and :data:`BEST` in words, as a comparison names the row."""
RECALIBRATOR = "recalibrator:"
"""Measure prefix of the ``"<arm>+best"`` row (condition ``"validation"``, value 1) that names the
recalibrator chosen for that model: ``"recalibrator:vector"``."""
METHOD_ORDER = (REFERENCE, "softmax", "softmax+ts", "softmax+best", AA_ARM, f"{AA_ARM}+ts", f"{AA_ARM}+best", "gaussian",
                "lgm", "vc-released", "vc", "vc+ts", "vc+best")
"""The benchmark's arms (:data:`explorer.jobs.benchmark.ARMS`) and their recalibrated rows; first, the
text suites' reference (:data:`REFERENCE`)."""
BOOTSTRAP = "bootstrap:"
"""Condition prefix of the rows that hold, for method a and condition ``bootstrap:<b>``, each measure's
variance of a − b over bootstrap resamples of the clean test split (one value a seed; see
:func:`explorer.jobs.benchmark.bootstrap_rows`)."""
HEADLINE = (("accuracy", "accuracy", True), ("ece", "ECE", False), ("adaptive_ece", "adaptive ECE", False),
            ("nll", "NLL", False), ("brier", "Brier", False))
"""(measure, column title, higher is better) of the clean test split's headline metrics."""


def post_hoc(method: str) -> bool:
    """Whether ``method`` is a recalibrated row (:data:`POST_HOC`) rather than a trained model's own."""
    return method.endswith(tuple(POST_HOC))


class Results:
    """Raw rows grouped by (suite, method, condition, measure) → values over seeds."""

    def __init__(self, payload: dict) -> None:
        self.payload = payload
        self.values: dict[tuple[str, str, str, str], list[float]] = defaultdict(list)
        for row in payload["rows"]:
            self.values[row["suite"], row["method"], row["condition"], row["measure"]].append(row["value"])
        self.suites = list(dict.fromkeys(row["suite"] for row in payload["rows"]))

    @classmethod
    def load(cls, path: str | Path) -> Results:
        """The raw results at ``path``; an ArgumentError names a file that is not JSON."""
        try:
            return cls(json.loads(Path(path).read_text()))
        except json.JSONDecodeError as error:
            raise ArgumentError(f"{path}: not a results file ({error})") from None

    def plan_of(self, suite: str) -> dict:
        """The plan's entry for ``suite`` (its dataset, latent_dim, epochs, ...), paired by order; {} if
        the plan names none."""
        planned = self.payload.get("plan", {}).get("suites", [])
        return dict(zip(self.suites, planned)).get(suite, {})

    def suite_for(self, dataset: str) -> str | None:
        """The first suite measured on ``dataset``, if the plan names one."""
        return next((suite for suite in self.suites if self.plan_of(suite).get("dataset") == dataset), None)

    def methods(self, suite: str, aa: bool = False) -> list[str]:
        """The methods measured on ``suite``, in :data:`METHOD_ORDER`; the A/A arm (:data:`AA_ARM`, with
        its scaled row) only with ``aa``."""
        present = {m for (s, m, _, _) in self.values if s == suite}
        return [m for m in METHOD_ORDER if m in present and (aa or not m.startswith(AA_ARM))]

    def recalibrators(self, suite: str, method: str) -> list[tuple[int, str]]:
        """(seed, recalibrator) chosen for each model of ``method`` (an ``"<arm>+best"`` row) on ``suite``, in
        the rows' order; [] where none was recorded (results made before the choice was)."""
        return [(row["seed"], row["measure"].removeprefix(RECALIBRATOR)) for row in self.payload["rows"]
                if row["suite"] == suite and row["method"] == method and row["measure"].startswith(RECALIBRATOR)]

    def conditions(self, suite: str, prefix: str) -> list[str]:
        """The conditions of ``suite`` that start with ``prefix`` ("" for all), in the rows' order."""
        return list(dict.fromkeys(c for (s, _, c, _) in self.values if s == suite and c.startswith(prefix)))

    def corrupted(self, suite: str) -> list[tuple[str, int, str]]:
        """(corruption, severity, condition) of every corrupted condition of ``suite``, in the rows' order."""
        out = []
        for c in self.conditions(suite, ""):
            name, _, level = c.partition(":")
            if name in SEVERITIES and level:  # not "epoch:e", "pgd10:ε", "ood:…", …
                out.append((name, int(level), c))
        return out

    def get(self, suite: str, method: str, condition: str, measure: str) -> np.ndarray:
        """(seeds,) values of one measure; empty where it was not measured."""
        return np.array(self.values.get((suite, method, condition, measure), []), dtype=float)

    @property
    def implied_covariance(self) -> str:
        """The member of softmax's implied family (:data:`explorer.core.implied.COVARIANCES`) that the
        latent fit and log p(z) rows of a linear layer use: ``"identity"`` (the Σ = I convention) in
        results made before the fitted member was recorded."""
        return self.payload.get("plan", {}).get("implied_covariance", "identity")

    def train_fraction(self, suite: str) -> float:
        """The share of the training split the suite's models trained on (1 in results made before it
        was recorded)."""
        values = [v for (s, _, c, k), vs in self.values.items() if s == suite and c == "clean"
                  and k == "train_fraction" for v in vs]
        return float(values[0]) if values else 1.0

    def mean_over(self, suite: str, method: str, conditions: Iterable[str], measure: str) -> np.ndarray:
        """Per seed, the mean over ``conditions`` (e.g. all corruptions at one severity)."""
        stacked = [self.get(suite, method, c, measure) for c in conditions]
        stacked = [s for s in stacked if len(s)]
        return np.mean(stacked, axis=0) if stacked else np.array([])

