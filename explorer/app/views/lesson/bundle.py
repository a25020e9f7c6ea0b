"""The lesson bundle: a zip a teacher takes away, with both models' metrics, every step's figures as
offline HTML files and a summary of the settings and of each step's text."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from explorer.app.views.lesson.choice import Lesson
from explorer.app.views.lesson.steps import ATTACK, calibration_table, fit_numbers, steps
from explorer.core.config import N_BINS
from explorer.figures.export import archive
from explorer.jobs.report import table

FIT_COLUMNS = {"mean_ks": "mean KS (χ² check)", "median_sigma": "median distance (σ)"}
"""The χ² check's numbers (:func:`.steps.fit_numbers`) the metrics table adds, and their columns."""


def metrics_table(lesson: Lesson) -> pd.DataFrame:
    """Both models' calibration before and after temperature scaling (step 4's table,
    :func:`.steps.calibration_table`: two rows a model, in the models' order), with the χ² check of
    each model's test latents beside both of its rows."""
    metrics = calibration_table(lesson)
    fits = [fit_numbers(path, lesson.dataset) for _, path in lesson.models]
    for key, title in FIT_COLUMNS.items():
        metrics[title] = [fit[key] for fit in fits for _ in range(2)]
    return metrics


def bundle(lesson: Lesson) -> bytes:
    """The lesson bundle, a zip: ``metrics.csv`` (:func:`metrics_table`), every step's figures as
    standalone HTML files that work offline, and ``summary.md`` (the settings, and each step's text
    with its numbers)."""
    drawn = steps(lesson)
    figures = {f"step{i}-{j}": figure for i, step in enumerate(drawn, 1) for j, figure in enumerate(step.figures, 1)}
    metrics = metrics_table(lesson)
    lines = [f"# vc-explorer lesson: {lesson.dataset}", "",
             f"Written {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC.", "", lesson.note, "",
             f"- model A: `{lesson.softmax.name}`", f"- model B: `{lesson.vc.name}`",
             f"- seed: {lesson.seed}; calibration: {N_BINS} equal-width bins, on the test split; "
             f"attack: PGD, ε = {ATTACK.eps}, {ATTACK.steps} steps", ""]
    for i, step in enumerate(drawn, 1):
        shown = ", ".join(f"`figures/step{i}-{j}.html`" for j in range(1, len(step.figures) + 1))
        lines += [f"## {i}. {step.title}", "", step.text, "", f"Figures: {shown}.", ""]
    rows = [[name, *(f"{value:.4f}" for value in row)] for name, row in zip(metrics.index, metrics.to_numpy())]
    lines += ["## Metrics", "", table(["model", *metrics.columns], rows), ""]
    return archive(figures, {"metrics.csv": metrics.to_csv(), "summary.md": "\n".join(lines)})
