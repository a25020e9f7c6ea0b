"""Calibration metrics on arrays: reliability bins, ECE and its bootstrap standard error, MCE, adaptive,
classwise and debiased ECE, SmoothECE (:mod:`explorer.measure.smooth_calibration`), NLL, Brier score
and accuracy, all of them at once (:func:`calibration_report`), and any of them on shared bootstrap
resamples of the examples (:func:`bootstrap_metrics`, vectorised: a resample is a vector of counts).

Pure computation on predictions already made: numpy (and scipy for SmoothECE), no torch and no data. Post-hoc
recalibration (temperature scaling) is :mod:`explorer.measure.recalibration`; the report of a model,
of its outputs, of a predictions bundle or of a checkpoint is :mod:`explorer.measure.evaluation`.

For the metrics, ``probs`` is (N, K) class probabilities whose rows sum to 1, ``labels`` is
(N,) integers in [0, K). numpy arrays and torch tensors are accepted and converted to float64 numpy.
The prediction is ``argmax(probs, axis=1)`` (the first class on ties, as ``torch.max`` does) and the
confidence is its probability, ``max(probs, axis=1)``.

Bin convention (equal-width bins, shared by every binned metric here). Edges are
``numpy.linspace(0, 1, n_bins + 1)``. Bin b holds confidences c with ``edges[b] <= c < edges[b + 1]``,
except the last bin, which is closed: ``edges[-2] <= c <= 1``. A confidence sitting on an interior
edge therefore goes to the bin *above* it. This is the convention of torchmetrics 1.9
``multiclass_calibration_error`` (``torch.bucketize(c, edges, right=True) - 1``), with two differences:

- torchmetrics gives ``c == 1.0`` an extra zero-width bin of its own; here it joins the last bin, so
  there are exactly ``n_bins`` bins. ECE still agrees when every prediction made with confidence 1.0
  is correct, or when the rest of the last bin is not under-confident (the two gaps then have the
  same sign); MCE can differ when the last bin holds confidences both below and at 1.0. Saturated
  float32 softmax outputs hit 1.0 often: compute softmax in float64 before measuring.
- torchmetrics bins float32 confidences against ``torch.linspace(0, 1, n_bins + 1)`` in float32,
  whose interior edges can be one float32 ulp (~6e-8) away from b / n_bins (n_bins = 15 does this).
  Confidences within that distance of an edge may land in the neighbouring bin there, not here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from numbers import Integral

import numpy as np

from explorer.core._validation import check_labels, check_n_bins, check_scores
from explorer.core.config import N_BINS
from explorer.core.errors import ArgumentError

#: Rows of ``probs`` must sum to 1 within this: loose enough for float32 softmax outputs.
ROW_SUM_TOL = 1e-3
#: ``negative_log_likelihood`` clamps p_y to at least this, capping one sample's term at ~27.6 nats.
NLL_EPS = 1e-12


@dataclass(frozen=True)
class ReliabilityBins:
    """Per-bin statistics a reliability diagram is drawn from (Guo et al. 2017, Sec. 2).

    Attributes:
        edges: (n_bins + 1,) bin edges in [0, 1].
        confidence: (n_bins,) mean confidence of the samples in each bin; NaN for an empty bin.
        accuracy: (n_bins,) fraction of correct predictions in each bin; NaN for an empty bin.
        count: (n_bins,) number of samples in each bin (int64); sums to N.
    """

    edges: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray
    count: np.ndarray

    @property
    def gap(self) -> np.ndarray:
        """(n_bins,) accuracy − confidence: negative where over-confident; NaN for an empty bin."""
        return self.accuracy - self.confidence


# ---------------------------------------------------------------------------------------------------
# Validation at the boundary


def _check_probs(probs) -> np.ndarray:
    probs = check_scores(probs, "probs")
    # NaN fails both comparisons, so it is reported here too.
    bad = np.argwhere(~((probs >= 0) & (probs <= 1)))
    if bad.size:
        i, j = bad[0]
        raise ArgumentError(f"probs must lie in [0, 1], got {probs[i, j]} at row {i}, column {j}")
    sums = probs.sum(axis=1)
    bad = np.flatnonzero(np.abs(sums - 1) > ROW_SUM_TOL)
    if bad.size:
        raise ArgumentError(
            f"each row of probs must sum to 1 (tolerance {ROW_SUM_TOL}), row {bad[0]} sums to "
            f"{sums[bad[0]]}; pass probabilities, not logits (see apply_temperature)"
        )
    return probs


def _check_probs_labels(probs, labels) -> tuple[np.ndarray, np.ndarray]:
    probs = _check_probs(probs)
    return probs, check_labels(labels, *probs.shape)


def _top_label(probs: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N,) confidence = max_k p_k, and (N,) bool correct = argmax_k p_k == y."""
    return probs.max(axis=1), probs.argmax(axis=1) == labels


# ---------------------------------------------------------------------------------------------------
# Binning: one code path for every binned metric


def _bin_stats(conf, correct, index, n_bins):
    """(mean confidence, accuracy, count) per bin for samples in bins ``index`` ∈ [0, n_bins)."""
    count = np.bincount(index, minlength=n_bins)
    with np.errstate(invalid="ignore"):  # 0 / 0 makes an empty bin NaN, as documented
        conf_mean = np.bincount(index, weights=conf, minlength=n_bins) / count
        accuracy = np.bincount(index, weights=correct, minlength=n_bins) / count
    return conf_mean, accuracy, count


def _equal_width_index(conf: np.ndarray, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """(n_bins + 1,) edges and the (N,) equal-width bin of each confidence in [0, 1]."""
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # side="right" sends a value on an interior edge to the bin above it (torchmetrics' convention);
    # the minimum closes the last bin at 1.0 rather than opening a bin of its own for it.
    return edges, np.minimum(np.searchsorted(edges, conf, side="right") - 1, n_bins - 1)


def _equal_width_bins(conf: np.ndarray, correct: np.ndarray, n_bins: int) -> ReliabilityBins:
    edges, index = _equal_width_index(conf, n_bins)
    return ReliabilityBins(edges, *_bin_stats(conf, correct, index, n_bins))


def _equal_mass_index(conf: np.ndarray, n_bins: int) -> np.ndarray:
    """(N,) bin of each sample: rank r in confidence order goes to bin floor(r · n_bins / N), and a run
    of equal confidences, ranks s to e, goes whole to the bin of its middle rank, floor((s + e)/2 · n_bins / N).

    A tie cut by a bin edge would need an order among equal confidences, and any order the cut could
    see is no property of the predictions: broken by correctness, the wrong ones fall below the edge
    and the right ones above, which widens both bins' gaps and biases the metric upwards. Kept
    whole, the bins depend on the confidences alone, not on the samples' order or correctness.
    """
    n = len(conf)
    order = np.argsort(conf, kind="stable")
    ranked = conf[order]
    starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])  # first rank of each run of ties
    ends = np.r_[starts[1:], n] - 1
    twice_middle = np.repeat(starts + ends, ends - starts + 1)
    index = np.empty(n, dtype=np.int64)
    index[order] = twice_middle * n_bins // (2 * n)
    return index


def _expected_gap(count: np.ndarray, gap: np.ndarray) -> float:
    """Σ_b (n_b / N) |gap_b| over the non-empty bins."""
    filled = count > 0
    return float(np.sum(count[filled] * np.abs(gap[filled])) / count.sum())


# ---------------------------------------------------------------------------------------------------
# Binned calibration errors


def reliability_bins(probs, labels, n_bins: int = N_BINS) -> ReliabilityBins:
    """Top-label reliability bins: per equal-width confidence bin, mean confidence, accuracy and count.

    conf_i = max_k p_ik, correct_i = 1[argmax_k p_ik = y_i]; for bin B_b,
    confidence_b = mean_{i∈B_b} conf_i, accuracy_b = mean_{i∈B_b} correct_i, count_b = |B_b|.
    Bin edges and the edge convention are in the module docstring. Reference: Guo et al., "On
    Calibration of Modern Neural Networks", ICML 2017, Sec. 2.

    Args:
        probs: (N, K) class probabilities, rows summing to 1.
        labels: (N,) integer labels in [0, K).
        n_bins: number of equal-width bins on [0, 1], >= 1.

    Returns:
        ReliabilityBins with (n_bins + 1,) edges and (n_bins,) confidence, accuracy, count; empty bins
        have count 0 and NaN confidence and accuracy.
    """
    probs, labels = _check_probs_labels(probs, labels)
    return _equal_width_bins(*_top_label(probs, labels), check_n_bins(n_bins))


def bin_members(probs, n_bins: int, b: int) -> np.ndarray:
    """Indices of the samples that :func:`reliability_bins` puts in equal-width bin ``b``.

    Sample i is a member when its confidence max_k p_ik falls in bin b under the module docstring's
    edge convention (an interior edge belongs to the bin above it, 1.0 to the last bin), so
    ``len(bin_members(probs, n_bins, b)) == reliability_bins(probs, labels, n_bins).count[b]`` for
    every b and any labels.

    Args:
        probs: (N, K) class probabilities, rows summing to 1.
        n_bins: number of equal-width bins on [0, 1], >= 1.
        b: the bin, an integer in [0, n_bins).

    Returns:
        (M,) int64 row indices into ``probs``, ascending; empty for an empty bin.
    """
    probs = _check_probs(probs)
    n_bins = check_n_bins(n_bins)
    if isinstance(b, bool) or not isinstance(b, Integral) or not 0 <= b < n_bins:
        raise ArgumentError(f"b must be a bin index, an integer in [0, n_bins) = [0, {n_bins}), got {b!r}")
    _, index = _equal_width_index(probs.max(axis=1), n_bins)
    return np.flatnonzero(index == b).astype(np.int64)


def expected_calibration_error(probs, labels, n_bins: int = N_BINS) -> float:
    """Top-label expected calibration error with equal-width bins (Guo et al. 2017, Eq. 3).

    ECE = Σ_b (n_b / N) |accuracy_b − confidence_b|, over the bins of ``reliability_bins``; in [0, 1].
    Equals torchmetrics' ``multiclass_calibration_error(..., norm="l1")`` up to the two edge cases in
    the module docstring.

    Args:
        probs: (N, K) class probabilities, rows summing to 1.
        labels: (N,) integer labels in [0, K).
        n_bins: number of equal-width bins on [0, 1], >= 1.
    """
    bins = reliability_bins(probs, labels, n_bins)
    return _expected_gap(bins.count, bins.gap)


def ece_standard_error(probs, labels, n_bins: int = N_BINS, n_resamples: int = 200, seed: int = 0) -> float:
    """Bootstrap standard error of :func:`expected_calibration_error`: the standard deviation of the
    ECE over ``n_resamples`` resamples of the examples with replacement, drawn with ``seed`` (Efron
    and Tibshirani, "An Introduction to the Bootstrap", 1993, ch. 6; the resamples of
    :func:`bootstrap_metrics`). How far an ECE measured on this many examples moves by chance. Two
    models measured on the same examples are compared by the paired bootstrap of their difference
    (:func:`explorer.measure.intervals.bootstrap_difference`), not by two of these.

    Args:
        probs: (N, K) class probabilities, rows summing to 1.
        labels: (N,) integer labels in [0, K).
        n_bins: number of equal-width bins on [0, 1], >= 1.
        n_resamples: bootstrap resamples, >= 2.
    """
    values = bootstrap_metrics({"": probs}, labels, ("ece",), n_bins, n_resamples, seed)[""]["ece"]
    return float(np.std(values, ddof=1))


def _check_n_resamples(n_resamples) -> int:
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, (int, np.integer)) or n_resamples < 2:
        raise ArgumentError(f"n_resamples must be an integer >= 2, got {n_resamples!r}")
    return int(n_resamples)


#: A chunk of resamples holds at most this many (resample, example) counts: 32 MB of float64.
_CHUNK_CELLS = 1 << 22


def resample_counts(n: int, n_resamples: int, seed: int = 0) -> Iterator[np.ndarray]:
    """The bootstrap resamples of n examples as counts, in chunks: resample r draws n indices with
    replacement (``numpy.random.default_rng(seed)``, ``integers(n, size=n)`` a resample, in order) and
    its row holds how many times each example was drawn.

    Yields:
        (R, n) float64 counts, each row summing to n; the chunks' R add up to ``n_resamples``.
    """
    rng = np.random.default_rng(seed)
    chunk = max(1, _CHUNK_CELLS // n)
    for first in range(0, n_resamples, chunk):
        rows = min(chunk, n_resamples - first)
        drawn = rng.integers(n, size=(rows, n))  # the same stream as one resample at a time
        counts = np.empty((rows, n))
        for r, row in enumerate(drawn):
            counts[r] = np.bincount(row, minlength=n)
        yield counts


class _Weighted:
    """One set of validated predictions, measured under example weights: w_i copies of example i.

    Every metric of :data:`METRICS` as a function of a (R, N) weight matrix, R sets of weights at once,
    giving what the metric gives on the arrays with example i repeated w_i times (integer weights; the
    bootstrap's counts). Binned sums are matrix products with the examples' fixed bin memberships;
    equal-mass bins are recut per row from cumulative weights.
    """

    def __init__(self, probs: np.ndarray, labels: np.ndarray, n_bins: int):
        self.probs, self.labels, self.n_bins = probs, labels, n_bins
        self.conf, correct = _top_label(probs, labels)
        self.correct = correct.astype(np.float64)

    def _bin_columns(self, scores: np.ndarray, values: np.ndarray) -> np.ndarray:
        """(N, C·n_bins): values_ic in column c·n_bins + (equal-width bin of scores_ic), zeros elsewhere.

        Args:
            scores, values: (N, C) a score to bin and a value to place, per example and column c.
        """
        n, c = scores.shape
        _, index = _equal_width_index(scores, self.n_bins)
        columns = np.zeros((n, c * self.n_bins))
        columns[np.arange(n)[:, None], index + self.n_bins * np.arange(c)] = values
        return columns

    @cached_property
    def _per_example(self) -> np.ndarray:
        """(N, 3) correct_i, −log p_{i,y_i} (clamped) and Σ_k (p_ik − 1[y_i = k])²."""
        p_true = self.probs[np.arange(len(self.labels)), self.labels]
        brier = (self.probs ** 2).sum(axis=1) - 2 * p_true + 1
        return np.column_stack([self.correct, -np.log(np.maximum(p_true, NLL_EPS)), brier])

    @cached_property
    def _width_columns(self) -> np.ndarray:
        """(N, 2·n_bins) membership of each top-label equal-width bin, then correct_i − conf_i in it."""
        conf = self.conf[:, None]
        return np.hstack([self._bin_columns(conf, np.ones_like(conf)),
                          self._bin_columns(conf, self.correct[:, None] - conf)])

    def _classwise_gaps(self, weights: np.ndarray) -> np.ndarray:
        """(R,) Σ_k Σ_b |Σ_{i ∈ B_bk} w_i (1[y_i = k] − p_ik)| over class k's equal-width bins of p_ik,
        a block of classes at a time: the (N, classes · n_bins) columns stay under _CHUNK_CELLS."""
        n, k = self.probs.shape
        group = max(1, _CHUNK_CELLS // (n * self.n_bins))
        gaps = np.zeros(len(weights))
        for first in range(0, k, group):
            classes = np.arange(first, min(k, first + group))
            probs = self.probs[:, classes]
            columns = self._bin_columns(probs, (self.labels[:, None] == classes) - probs)
            gaps += np.abs(weights @ columns).sum(axis=1)
        return gaps

    @cached_property
    def _runs(self) -> tuple[np.ndarray, np.ndarray]:
        """Confidence order and the first rank of each run of equal confidences in it."""
        order = np.argsort(self.conf, kind="stable")
        ranked = self.conf[order]
        return order, np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])

    def _equal_mass_sums(self, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(R, n_bins) counts, confidence sums and hit sums of the equal-mass bins of each weighted row.

        A run of equal confidences u with total weight W_u covers ranks s_u to e_u = s_u + W_u − 1 of
        the row's sorted examples (s_u: the weight below it) and goes whole to bin
        floor((s_u + e_u) · n_bins / 2n), as :func:`_equal_mass_index` bins the repeated examples.
        s_u + e_u never falls along the runs, so bin b starts at the first run with s_u + e_u >= cut_b
        = ceil(2 n b / n_bins): with c_u = s_u + W_u the cumulative weight, that is the first run u*
        with 2 c_u − 1 >= cut_b, or the run after it when u*'s middle is still below the cut.
        """
        order, starts = self._runs
        rows, n_bins = len(weights), self.n_bins
        ranked = np.take(weights, order, axis=1)
        hits = ranked * self.correct[order]
        if len(starts) < len(order):  # ties: one column per run of equal confidences
            ranked, hits = np.add.reduceat(ranked, starts, axis=1), np.add.reduceat(hits, starts, axis=1)
        runs = ranked.shape[1]
        cumulative = np.cumsum(ranked, axis=1)
        total = cumulative[:, -1]
        cuts = np.ceil(2 * total[:, None] * np.arange(1, n_bins) / n_bins)  # (R, n_bins − 1)
        first = np.array([np.searchsorted(c, t) for c, t in zip(cumulative, (cuts + 1) / 2)])
        at = np.minimum(first, runs - 1)
        below = 2 * np.take_along_axis(cumulative, at, axis=1) - np.take_along_axis(ranked, at, axis=1) - 1 < cuts
        first = np.minimum(first + (below & (first < runs)), runs)
        # Bin b holds runs first_b to first_{b+1} − 1; reduceat sums them in one pass over each row.
        starts_flat = (np.hstack([np.zeros((rows, 1), dtype=np.int64), first]) + runs * np.arange(rows)[:, None])
        empty = np.diff(np.hstack([starts_flat, runs * np.arange(1, rows + 1)[:, None]]), axis=1) == 0
        index = starts_flat.ravel()
        inside = index[index < rows * runs]  # empty bins past the last run of the last row end the list
        sums = []
        for x in (ranked, ranked * self.conf[order][starts], hits):
            summed = np.zeros(rows * n_bins)
            summed[:len(inside)] = np.add.reduceat(x.ravel(), inside)
            summed = summed.reshape(rows, n_bins)
            summed[empty] = 0.0  # reduceat gives an empty slice the element at its start
            sums.append(summed)
        return sums[0], sums[1], sums[2]

    def measure(self, name: str, weights: np.ndarray, memo: dict) -> np.ndarray:
        """(R,) metric ``name`` of :data:`METRICS` under each row of ``weights`` (R, N).

        ``memo`` keeps what several metrics share (bin sums) for this ``weights``.
        """
        def shared(key, compute):
            if key not in memo:
                memo[key] = compute()
            return memo[key]

        total = weights.sum(axis=1)
        if name in ("accuracy", "nll", "brier"):
            means = shared("per_example", lambda: weights @ self._per_example) / total[:, None]
            return means[:, ("accuracy", "nll", "brier").index(name)]
        if name in ("ece", "mce"):
            sums = shared("width", lambda: weights @ self._width_columns)
            count, gap = sums[:, :self.n_bins], sums[:, self.n_bins:]
            if name == "ece":
                return np.abs(gap).sum(axis=1) / total
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.nanmax(np.where(count > 0, np.abs(gap) / count, np.nan), axis=1)
        if name in ("adaptive_ece", "debiased_ece"):
            count, conf_sum, hit_sum = shared("mass", lambda: self._equal_mass_sums(weights))
            if name == "adaptive_ece":
                return np.abs(hit_sum - conf_sum).sum(axis=1) / total
            return np.sqrt(np.maximum(_debiased_square_error(count, conf_sum, hit_sum), 0.0))
        if name == "classwise_ece":
            return self._classwise_gaps(weights) / (total * self.probs.shape[1])
        from explorer.measure.smooth_calibration import _weighted_smooth_ece  # it imports this module

        return _weighted_smooth_ece(self.conf, self.correct, weights)


def bootstrap_metrics(probs: Mapping[str, object], labels, measures: Sequence[str] = ("ece",),
                      n_bins: int = N_BINS, n_resamples: int = 200, seed: int = 0) -> dict[str, dict[str, np.ndarray]]:
    """Metrics of several sets of predictions on the same examples, each on the same bootstrap
    resamples: resample r draws N example indices with replacement (``numpy.random.default_rng(seed)``,
    one ``integers(N, size=N)`` a resample, :func:`resample_counts`) and measures every set on those
    examples. Because the draws are shared, ``out[a][k] − out[b][k]`` is the paired bootstrap of the
    difference of measure k between sets a and b: the examples both were measured on vary together.

    Vectorised: a resample is its (N,) vector of counts, and each metric is computed from count-weighted
    sums (:class:`_Weighted`), equal, to float64 rounding, to the metric of the resampled arrays.

    Args:
        probs: {name: (N, K) class probabilities, rows summing to 1}, every set on the same examples.
        labels: (N,) integer labels in [0, K).
        measures: names of :data:`METRICS`.
        n_bins: number of bins for the binned metrics, >= 1.
        n_resamples: bootstrap resamples, >= 2.

    Returns:
        {name: {measure: (n_resamples,) float64 values}}.
    """
    n_resamples = _check_n_resamples(n_resamples)
    unknown = [k for k in measures if k not in METRICS]
    if unknown:
        raise ArgumentError(f"unknown measure {unknown[0]!r}; choose from {', '.join(METRICS)}")
    checked = {name: _check_probs_labels(p, labels) for name, p in probs.items()}  # each against the labels
    n_bins = check_n_bins(n_bins)
    weighted = {name: _Weighted(p, y, n_bins) for name, (p, y) in checked.items()}
    out = {name: {k: [] for k in measures} for name in checked}
    size = len(check_labels(labels))
    for weights in resample_counts(size, n_resamples, seed):
        for name, sets in weighted.items():
            memo: dict = {}
            for k in measures:
                out[name][k].append(sets.measure(k, weights, memo))
    return {name: {k: np.concatenate(v) for k, v in values.items()} for name, values in out.items()}


def maximum_calibration_error(probs, labels, n_bins: int = N_BINS) -> float:
    """Top-label maximum calibration error with equal-width bins (Guo et al. 2017, Eq. 5).

    MCE = max_b |accuracy_b − confidence_b| over the non-empty bins of ``reliability_bins``; in [0, 1].
    A bin holding a single sample can set it, so read it together with the bin counts.

    Args:
        probs: (N, K) class probabilities, rows summing to 1.
        labels: (N,) integer labels in [0, K).
        n_bins: number of equal-width bins on [0, 1], >= 1.
    """
    return float(np.nanmax(np.abs(reliability_bins(probs, labels, n_bins).gap)))


def adaptive_calibration_error(probs, labels, n_bins: int = N_BINS) -> float:
    """Top-label ECE with equal-mass bins (adaptive ECE).

    Samples sorted by confidence are cut into n_bins consecutive groups; sample of rank r (0-based)
    goes to group floor(r · n_bins / N), so the groups hold N / n_bins samples each when n_bins divides
    N and differ by at most one otherwise (groups are empty only if n_bins > N). Equal confidences
    stay in one group, that of their middle rank, which moves a cut by at most the tie's size. Then
    AdaECE = Σ_b (n_b / N) |accuracy_b − confidence_b|, in [0, 1]. Equal-mass bins avoid the nearly
    empty high-variance bins that equal-width bins leave when confidences crowd near 1.
    References: Nixon et al., "Measuring Calibration in Deep Learning", CVPR-W 2019 (adaptive
    binning); Mukhoti et al., "Calibrating Deep Neural Networks using Focal Loss", NeurIPS 2020
    (this top-label form).

    Args:
        probs: (N, K) class probabilities, rows summing to 1.
        labels: (N,) integer labels in [0, K).
        n_bins: number of bins, >= 1.
    """
    probs, labels = _check_probs_labels(probs, labels)
    n_bins = check_n_bins(n_bins)
    conf, correct = _top_label(probs, labels)
    index = _equal_mass_index(conf, n_bins)
    conf_mean, accuracy, count = _bin_stats(conf, correct, index, n_bins)
    return _expected_gap(count, accuracy - conf_mean)


def _debiased_square_error(count: np.ndarray, conf_sum: np.ndarray, hit_sum: np.ndarray) -> np.ndarray:
    """(R,) Σ_b (n_b / n) [(conf_b − acc_b)² − acc_b (1 − acc_b) / (n_b − 1)] over bins with n_b >= 2, from
    (R, B) per-bin counts (or summed weights), confidence sums and hit sums."""
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = hit_sum / count
        bias = acc * (1 - acc) / (count - 1)
        term = count * ((conf_sum / count - acc) ** 2 - bias)
    return np.where(count >= 2, term, 0.0).sum(axis=-1) / count.sum(axis=-1)


def debiased_calibration_error(probs, labels, n_bins: int = N_BINS) -> float:
    """Top-label debiased L2 calibration error with equal-mass bins (Kumar, Liang & Ma, "Verified
    Uncertainty Calibration", NeurIPS 2019, Sec. 5, the estimator of their ``unbiased_l2_ce``).

    The plug-in squared error Σ_b (n_b / N)(conf_b − acc_b)² is biased upwards: acc_b is a mean of
    n_b coin flips, and its sampling variance acc(1 − acc)/n_b adds to the squared gap on average.
    Subtracting the unbiased estimate of that variance, acc_b (1 − acc_b)/(n_b − 1), bin by bin gives

        CE² = Σ_{b: n_b ≥ 2} (n_b / N) [(conf_b − acc_b)² − acc_b (1 − acc_b) / (n_b − 1)]

    and the error returned is √max(CE², 0), in [0, 1]. The bins are those of
    :func:`adaptive_calibration_error` (equal mass, ties kept whole), as the authors' code bins
    (equal-mass, ``get_equal_bins``); a bin of one example says nothing of its variance and adds 0,
    as there. A negative CE² (a well-calibrated model on few examples: the variance term exceeds the
    squared gaps) returns 0: the true error is >= 0, the data cannot tell it from 0, and clipping
    never moves the estimate further from the truth (the authors clip too). Unlike the ECE it is an L2
    error (√ of a mean square), so it is >= the L1 error of the same bins, not comparable to ECE
    number for number.

    Args:
        probs: (N, K) class probabilities, rows summing to 1.
        labels: (N,) integer labels in [0, K).
        n_bins: number of equal-mass bins, >= 1.
    """
    probs, labels = _check_probs_labels(probs, labels)
    n_bins = check_n_bins(n_bins)
    conf, correct = _top_label(probs, labels)
    index = _equal_mass_index(conf, n_bins)
    sums = [np.bincount(index, weights=w, minlength=n_bins) for w in (None, conf, correct)]
    return float(np.sqrt(max(_debiased_square_error(*sums), 0.0)))


def classwise_calibration_error(probs, labels, n_bins: int = N_BINS) -> float:
    """Classwise ECE: the mean over classes of the ECE of p_k against 1[y = k], equal-width bins.

    classwise-ECE = (1/K) Σ_k Σ_b (n_bk / N) |mean_{i∈B_bk} 1[y_i = k] − mean_{i∈B_bk} p_ik|,
    where B_bk bins all N samples by p_ik (same edges and edge convention as ``reliability_bins``);
    in [0, 1]. Unlike top-label ECE it also scores the probabilities of the classes not predicted.
    References: Kull et al., "Beyond temperature scaling: Obtaining well-calibrated multiclass
    probabilities with Dirichlet calibration", NeurIPS 2019 (classwise-ECE, this definition);
    Nixon et al. 2019 call the same quantity static calibration error (SCE).

    Args:
        probs: (N, K) class probabilities, rows summing to 1.
        labels: (N,) integer labels in [0, K).
        n_bins: number of equal-width bins on [0, 1], >= 1.
    """
    probs, labels = _check_probs_labels(probs, labels)
    n_bins = check_n_bins(n_bins)
    errors = []
    for k in range(probs.shape[1]):
        bins = _equal_width_bins(probs[:, k], labels == k, n_bins)
        errors.append(_expected_gap(bins.count, bins.gap))
    return float(np.mean(errors))


# ---------------------------------------------------------------------------------------------------
# Proper scoring rules and accuracy


def negative_log_likelihood(probs, labels) -> float:
    """Mean negative log-likelihood of the true labels, in nats.

    NLL = −(1/N) Σ_i log max(p_{i, y_i}, NLL_EPS). The clamp at NLL_EPS = 1e-12 caps one sample's
    term at −log 1e-12 ≈ 27.6 nats, so a single probability that underflowed to 0 gives a large but
    finite value instead of inf. Reference: Guo et al. 2017, Sec. 2 (NLL as a calibration measure).

    Args:
        probs: (N, K) class probabilities, rows summing to 1.
        labels: (N,) integer labels in [0, K).
    """
    probs, labels = _check_probs_labels(probs, labels)
    p_true = probs[np.arange(len(labels)), labels]
    return float(-np.mean(np.log(np.maximum(p_true, NLL_EPS))))


def brier_score(probs, labels) -> float:
    """Multi-class Brier score (Brier 1950): mean over samples of the squared error to the one-hot label.

    BS = (1/N) Σ_i Σ_k (p_ik − 1[y_i = k])², in [0, 2]: 0 for a confident correct prediction, 2 for
    a confident wrong one. This is Brier's original multi-class form, not the binary (p − y)² of the
    top label, and not divided by K.

    Args:
        probs: (N, K) class probabilities, rows summing to 1.
        labels: (N,) integer labels in [0, K).
    """
    probs, labels = _check_probs_labels(probs, labels)
    one_hot = np.eye(probs.shape[1])[labels]
    return float(np.mean(np.sum((probs - one_hot) ** 2, axis=1)))


def accuracy(probs, labels) -> float:
    """Fraction of samples whose argmax class (first one on ties) equals the label, in [0, 1].

    Args:
        probs: (N, K) class probabilities, rows summing to 1.
        labels: (N,) integer labels in [0, K).
    """
    probs, labels = _check_probs_labels(probs, labels)
    return float(np.mean(_top_label(probs, labels)[1]))


def calibration_report(probs, labels, n_bins: int = N_BINS) -> dict[str, float]:
    """Every metric of this module on one set of predictions.

    Args:
        probs: (N, K) class probabilities, rows summing to 1.
        labels: (N,) integer labels in [0, K).
        n_bins: number of bins for the binned metrics, >= 1.

    Returns:
        dict with keys accuracy, ece, mce, adaptive_ece, classwise_ece, debiased_ece, smooth_ece, nll,
        brier (floats) and n (the number of samples, an int).
    """
    probs, labels = _check_probs_labels(probs, labels)
    return {
        "accuracy": accuracy(probs, labels),
        "ece": expected_calibration_error(probs, labels, n_bins),
        "mce": maximum_calibration_error(probs, labels, n_bins),
        "adaptive_ece": adaptive_calibration_error(probs, labels, n_bins),
        "classwise_ece": classwise_calibration_error(probs, labels, n_bins),
        "debiased_ece": debiased_calibration_error(probs, labels, n_bins),
        "smooth_ece": _smooth_ece(probs, labels, n_bins),
        "nll": negative_log_likelihood(probs, labels),
        "brier": brier_score(probs, labels),
        "n": len(labels),
    }


def _smooth_ece(probs, labels, n_bins: int = N_BINS) -> float:
    """:func:`explorer.measure.smooth_calibration.smooth_ece` (no bins: ``n_bins`` is not used)."""
    from explorer.measure.smooth_calibration import smooth_ece  # it imports this module

    return smooth_ece(probs, labels)


METRICS: dict[str, Callable[[np.ndarray, np.ndarray, int], float]] = {
    "accuracy": lambda p, y, n_bins: accuracy(p, y),
    "ece": expected_calibration_error,
    "mce": maximum_calibration_error,
    "adaptive_ece": adaptive_calibration_error,
    "classwise_ece": classwise_calibration_error,
    "debiased_ece": debiased_calibration_error,
    "smooth_ece": _smooth_ece,
    "nll": lambda p, y, n_bins: negative_log_likelihood(p, y),
    "brier": lambda p, y, n_bins: brier_score(p, y),
}
"""The metrics of :func:`calibration_report` by name, each called as ``metric(probs, labels, n_bins)``."""
