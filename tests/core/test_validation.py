"""Tests for explorer.core._validation: the checks every boundary shares, and the errors they raise."""

import numpy as np
import pytest
import torch

from explorer import figures as F
from explorer.core._validation import as_array, check_choice, check_labels, check_n_bins, check_positive
from explorer.core.errors import ArgumentError, BundleError, ExplorerError
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


def test_check_labels_gives_int64_labels_of_any_source():
    for given in ([2, 0, 1], np.array([2, 0, 1], dtype=np.uint8), torch.tensor([2, 0, 1])):
        labels = check_labels(given, 3, 3)
        assert labels.dtype == np.int64 and labels.tolist() == [2, 0, 1]
    assert check_labels(np.array([], dtype=np.int32)).shape == (0,)  # any length, none included
    assert check_labels(torch.zeros(0, dtype=torch.long), 0).shape == (0,)


@pytest.mark.parametrize("call, message", [
    (lambda: check_labels(np.zeros((2, 1), dtype=int)), r"labels must have shape \(N,\), got \(2, 1\)"),
    (lambda: check_labels([0, 1], 3), r"labels must have shape \(N,\) = \(3,\), got \(2,\)"),
    (lambda: check_labels(np.array([], dtype=int), 3), r"labels is empty"),
    (lambda: check_labels(torch.tensor([0.0, 1.0]), name="y"), r"y must be a 1-D array of integers, got dtype torch.float32"),
    (lambda: check_labels(np.array([True, False]), k=2), r"integers in \[0, 2\), got dtype bool"),
    (lambda: check_labels([0, 3, 5], k=3), r"labels must lie in \[0, 3\), got 3 at index 1"),
    (lambda: check_labels([0, -1], k=3), r"got -1 at index 1"),
    (lambda: check_labels(np.array([0, 2**64 - 1], dtype=np.uint64), k=3), r"got 18446744073709551615 at index 1"),
])
def test_check_labels_names_what_is_wrong(call, message):
    with pytest.raises(ArgumentError, match=message):
        call()


def test_labels_are_refused_alike_by_a_metric_a_bundle_and_the_latent_fit():
    """One check: out-of-range labels get the same words wherever they come in."""
    from explorer.core.bundles import check_bundle
    from explorer.measure.latents import squared_mahalanobis

    labels, message = np.array([0, 3]), r"labels must lie in \[0, 2\), got 3 at index 1"
    with pytest.raises(ArgumentError, match=message):
        expected_calibration_error(np.array([[0.8, 0.2], [0.3, 0.7]]), labels)
    with pytest.raises(BundleError, match=message):
        check_bundle(logits=np.zeros((2, 2)), labels=labels)
    with pytest.raises(ArgumentError, match=message):
        squared_mahalanobis(np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((2, 3)), labels)


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
