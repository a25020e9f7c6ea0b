"""Tests for explorer.measure.selective: which examples a model answers at a coverage."""

import numpy as np
import pytest

from explorer.core.errors import ArgumentError
from explorer.measure.selective import answered


def test_answers_the_most_confident_share():
    confidence = np.array([0.2, 0.9, 0.5, 0.7, 0.6, 0.95, 0.3, 0.8, 0.4, 0.1])
    assert answered(confidence, 0.9).tolist() == (confidence > 0.1).tolist()
    assert np.flatnonzero(answered(confidence, 0.3)).tolist() == [1, 5, 7]
    assert answered(confidence, 0.25).sum() == 3  # ⌈2.5⌉: a fraction of an example answers
    assert answered(confidence, 1.0).all() and not answered(confidence, 0.0).any()


def test_ties_break_by_index():
    confidence = np.ones(5)
    assert answered(confidence, 0.4).tolist() == [True, True, False, False, False]


@pytest.mark.parametrize("coverage", [-0.1, 1.5])
def test_rejects_coverage_outside_unit_interval(coverage):
    with pytest.raises(ArgumentError, match="coverage"):
        answered(np.ones(3), coverage)


def test_rejects_nan():
    with pytest.raises(ArgumentError, match="NaN"):
        answered(np.array([0.5, np.nan]), 0.5)
