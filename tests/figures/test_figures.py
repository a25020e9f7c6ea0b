"""Tests for explorer.figures as a whole: it imports no torch or Streamlit, and every builder returns a
clean figure (serialisable, no NaN in the trace data, projector-sized fonts)."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from explorer import figures as F
from figure_data import CLASSES, HISTORY, assert_clean, hand_bins, points_and_labels

ROOT = Path(__file__).resolve().parents[2]


def test_importing_figures_loads_neither_streamlit_nor_torch():
    code = "import sys, explorer.figures; print(sorted({m.split('.')[0] for m in sys.modules}))"
    loaded = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert not {"streamlit", "torch"} & set(eval(loaded.stdout))


# Every builder: serialisable, no NaN in the trace data, projector-sized fonts


@pytest.mark.parametrize("build", [
    lambda: F.reliability_diagram(hand_bins()),
    lambda: F.confidence_histogram({"A": np.array([0.5, 1.0]), "B": np.array([0.9])}),
    lambda: F.norm_histogram({"A": np.array([1.0, 2.0]), "B": np.array([3.0])}),
    lambda: F.score_histograms(np.array([0.9, 0.8]), np.array([0.2, 0.5]), "max probability", auroc=0.9),
    lambda: F.chi2_histogram(np.array([0.5, 1.0, 3.0]), d=1, ks=0.2),
    lambda: F.latent_scatter(*points_and_labels(), CLASSES, ellipses=[(0, 1, np.eye(2))], note="z itself"),
    lambda: F.training_curves(HISTORY),
    lambda: F.accuracy_vs([0, 0.1], {"A": [0.9, float("nan")]}, "ε (pixels)"),
    lambda: F.image_row([np.zeros((4, 4)), np.ones((4, 4, 3))], ["clean", "adversarial"]),
    lambda: F.probability_bars({"A before": np.array([0.2, 0.3, 0.5])}, CLASSES),
    lambda: F.sweep_panels([F.SweepPanel("low data", "fraction", "accuracy", [0.1, 1.0], {"A": [0.8, float("nan")]},
                                         {"A": [0.01, 0.0]}, log_x=True)], "s d=16"),
], ids=["reliability", "confidence", "norm", "score", "chi2", "latent", "training", "accuracy_vs",
        "image_row", "probability_bars", "sweep_panels"])
def test_builder_returns_a_clean_figure(build):
    assert_clean(build())
