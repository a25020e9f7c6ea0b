"""Tests for explorer.core._validation: the checks every boundary shares, and the errors they raise."""

import numpy as np
import pytest
import torch

from explorer import figures as F
from explorer.core._validation import as_array, check_choice, check_n_bins, check_positive
from explorer.core.errors import ArgumentError, ExplorerError
from explorer.measure.calibration import expected_calibration_error


def test_as_array_converts_tensors_and_checks_shape_emptiness_and_finiteness():
    x = as_array(torch.tensor([[1.0, 2.0]], dtype=torch.bfloat16), "x", (None, 2))
    assert x.dtype == np.float64 and x.shape == (1, 2)
    assert as_array(torch.tensor([1, 2]), "y", (None,), dtype=None).dtype == np.int64
    with pytest.raises(ArgumentError, match=r"x must have shape \(N, 3\), got \(1, 2\)"):
        as_array([[1.0, 2.0]], "x", (None, 3))
    with pytest.raises(ArgumentError, match="x is empty"):
        as_array(np.zeros((0, 2)), "x", (None, 2))
    assert as_array(np.zeros((0, 2)), "x", (None, 2), nonempty=False).shape == (0, 2)
    with pytest.raises(ArgumentError, match="x must be finite, got inf"):
        as_array([1.0, np.inf], "x", finite=True)


def test_as_array_copies_only_when_asked():
    x = np.ones(3)
    assert as_array(x, "x") is x
    copy = as_array(x, "x", copy=True)
    copy[0] = 5
    assert x[0] == 1


@pytest.mark.parametrize("n_bins", [15, np.int64(15), np.int32(15)])
def test_the_metric_and_the_figure_accept_the_same_bin_counts(n_bins):
    """One check: a numpy integer is a bin count for the metric and for the figure alike."""
    probs, labels = np.array([[0.8, 0.2], [0.3, 0.7]]), np.array([0, 0])
    assert check_n_bins(n_bins) == 15
    assert 0 <= expected_calibration_error(probs, labels, n_bins=n_bins) <= 1
    F.confidence_histogram({"A": probs.max(1)}, n_bins=n_bins)


@pytest.mark.parametrize("n_bins", [0, -3, 2.5, True, "15"])
def test_the_metric_and_the_figure_refuse_the_same_bin_counts(n_bins):
    probs, labels = np.array([[0.8, 0.2]]), np.array([0])
    for call in (lambda: expected_calibration_error(probs, labels, n_bins=n_bins),
                 lambda: F.confidence_histogram({"A": probs.max(1)}, n_bins=n_bins)):
        with pytest.raises(ArgumentError, match="n_bins must be an integer >= 1"):
            call()


def test_choices_and_positive_numbers():
    assert check_choice("method", "vc", ("softmax", "vc")) == "vc"
    with pytest.raises(ArgumentError, match="unknown method 'x'; choose one of softmax, vc"):
        check_choice("method", "x", ("softmax", "vc"))
    check_positive(lr=1e-3)
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ArgumentError, match="lr must be a finite number > 0"):
            check_positive(lr=bad)


def test_user_errors_share_one_base_and_stay_value_errors():
    """Pages catch ExplorerError; code that caught ValueError still catches a bad argument."""
    assert issubclass(ArgumentError, ExplorerError) and issubclass(ArgumentError, ValueError)
    with pytest.raises(ExplorerError):
        check_choice("method", "x", ("vc",))
