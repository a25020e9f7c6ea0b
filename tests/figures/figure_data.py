"""Data and checks shared by the figure tests."""

import json
from types import SimpleNamespace
from typing import NamedTuple

import numpy as np
import plotly.graph_objects as go

from explorer.measure.calibration import ReliabilityBins

CLASSES = ["zero", "one", "two"]


def numbers(obj):
    """Every number in a nested plotly JSON structure (trace data, None skipped)."""
    if isinstance(obj, dict):
        for value in obj.values():
            yield from numbers(value)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            yield from numbers(value)
    elif isinstance(obj, np.ndarray) and obj.dtype.kind in "fiu":
        yield from obj.ravel().tolist()
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        yield obj


def assert_clean(fig):
    """A Figure whose trace data hold no NaN or infinity and that serialises to JSON."""
    assert isinstance(fig, go.Figure)
    assert np.isfinite(list(numbers([trace.to_plotly_json() for trace in fig.data]))).all()
    json.loads(fig.to_json())
    assert fig.layout.font.size >= 16


def hand_bins():
    """Four bins on [0, 1], the first empty (NaN statistics), 10 samples in all."""
    nan = float("nan")
    return ReliabilityBins(edges=np.linspace(0, 1, 5), confidence=np.array([nan, 0.4, 0.6, 0.9]),
                           accuracy=np.array([nan, 1 / 3, 0.6, 1.0]), count=np.array([0, 3, 5, 2]))


def hand_bands(**changes):
    """Bands of :func:`hand_bins`' binning at 90 %: bin 0 empty (NaN), bins 1 and 3 under 4 examples; the
    fields of ``explorer.measure.intervals.ReliabilityBands`` (what the diagram's Protocol reads)."""
    nan = float("nan")
    fields = dict(low=np.array([nan, 0.05, 0.3, 0.6]), high=np.array([nan, 0.75, 0.9, 1.0]),
                  consistency_low=np.array([nan, 0.0, 0.2, 0.5]), consistency_high=np.array([nan, 0.8, 0.95, 1.0]),
                  sparse=np.array([True, True, False, True]), level=0.9, min_count=4)
    return SimpleNamespace(**dict(fields, **changes))


def hand_smooth(**changes):
    """A smoothed curve on 11 grid points, over-confident (accuracy = 0.8 × confidence), band ± 0.05; the
    fields of ``explorer.measure.smooth_calibration.SmoothReliability``."""
    grid = np.linspace(0, 1, 11)
    accuracy = 0.8 * grid
    density = 2 * grid  # integrates to 1 over [0, 1]
    fields = dict(grid=grid, accuracy=accuracy, density=density, bandwidth=0.05, smooth_ece=0.1,
                  low=np.clip(accuracy - 0.05, 0, 1), high=accuracy + 0.05, level=0.95, n_resamples=200)
    return SimpleNamespace(**dict(fields, **changes))


class Parts(NamedTuple):
    """The fields of ``explorer.measure.decompositions.Decomposition``: score = calibration + refinement."""

    score: float
    calibration: float
    refinement: float


def points_and_labels(n=30, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 2)), np.arange(n) % len(CLASSES)


HISTORY = [  # a softmax-like history: no kl_estimate, no disc_accuracy; one class absent at epoch 2
    {"epoch": 1, "loss": 1.2, "cross_entropy": 1.2, "prior_nll": 3.0, "val_accuracy": 0.7,
     "val_ece": 0.05, "val_nll": 0.9, "latent_norm": [1.0, 2.0, 3.0], "seconds": 0.5},
    {"epoch": 2, "loss": 0.8, "cross_entropy": 0.8, "prior_nll": 3.5, "val_accuracy": 0.8,
     "val_ece": 0.04, "val_nll": 0.7, "latent_norm": [1.5, float("nan"), 4.0], "seconds": 0.5},
]
