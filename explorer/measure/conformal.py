"""Split conformal prediction sets: for each test example, the classes a model cannot rule out at level α.

Calibrated on held-out outputs (a checkpoint's validation split, a bundle's ``val_logits``), never on
the test split the sets are measured on. A conformity score s(x, y) says how unusual label y is for x;
the threshold q̂ is the ⌈(n + 1)(1 − α)⌉-th smallest of the n calibration examples' scores of their true
labels (:func:`conformal_quantile`), and the set of x is {y : s(x, y) ≤ q̂}. If calibration and test
examples are exchangeable, P(y ∈ set) ≥ 1 − α over both (Vovk et al. 2005; Angelopoulos and Bates, "A
gentle introduction to conformal prediction", 2021, §1), marginally, not per class: the Mondrian variant
(``mondrian=True``) takes one threshold per class from that class's calibration examples, and then holds
per class (Vovk et al. 2005, §4.5).

Scores (:data:`SCORES`), p the model's probabilities:

- ``lac``: 1 − p_y (Sadinle, Lei and Wasserman 2019): the smallest sets on average.
- ``aps``: the probability mass of the classes ranked above y, plus U·p_y (Romano, Sesia and Candès
  2020), U ~ Uniform(0, 1) per example when ``randomized``, else U = 1. Randomised by default: with U = 1
  a confident model's true-label scores all sit near 1 and its sets grow to hold most classes; the
  randomised scores have no ties, so their sets cover between 1 − α and 1 − α + 1/(n + 1) in expectation
  over calibration and test examples (n calibration examples; Romano et al. 2020, Theorem 1). They may be
  empty: the top class's score is U·p_top, and where that exceeds q̂ the set holds nothing, which happens
  most to the most confident examples (a large p_top), not to doubtful ones. ``keep_top`` puts the top
  class in every set (Angelopoulos et al.'s ``allow_zero_sets=False``): no empty sets, coverage at least
  as high, so still at least 1 − α, but no longer bounded above by 1 − α + 1/(n + 1). Off by default, so
  the sets are the ones the guarantee and MAPIE describe.
- ``raps``: APS plus λ·max(0, o_y − k_reg), o_y the rank of y (1 = top), which penalises long tails of
  unlikely classes (Angelopoulos, Bates, Malik and Jordan 2021). λ = :data:`RAPS_LAMBDA` and
  k_reg = :data:`RAPS_K_REG` unless given: fixed choices, not fitted, and named wherever RAPS is shown.
  λ = 0 is APS.

Ranks break ties between equal probabilities by class index. Seeds: U for calibration examples comes from
``numpy.random.default_rng((seed, 0))``, for test examples from ``(seed, 1)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from explorer.core._validation import as_array, check_choice, check_labels
from explorer.core.errors import ArgumentError
from explorer.measure.calibration import _check_probs

SCORES = ("lac", "aps", "raps")
"""The conformity scores, see the module's docstring."""

ALPHA = 0.1
"""The default miscoverage α: sets meant to hold the true label 90 % of the time."""

DEFAULT_SCORE = "aps"

RAPS_LAMBDA = 0.01
"""RAPS's penalty per class beyond the k_reg-th (a fixed choice, Angelopoulos et al. 2021 use 0.01-0.1)."""

RAPS_K_REG = 1
"""RAPS's count of classes admitted without penalty: only the top one, as our classifiers' true label is
the top class for most examples."""


def _check_alpha(alpha: float) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.floating)) or not 0 < alpha < 1:
        raise ArgumentError(f"alpha must lie in (0, 1), got {alpha!r}")
    return float(alpha)


def class_scores(probs, score: str = DEFAULT_SCORE, u=None, lam: float = RAPS_LAMBDA, k_reg: int = RAPS_K_REG
                 ) -> np.ndarray:
    """(N, K) the conformity score s(x_i, y) of every class y of every example: larger, more unusual.

    Args:
        probs: (N, K) class probabilities, rows summing to 1.
        score: one of :data:`SCORES`.
        u: for ``aps`` and ``raps``, (N,) the randomisation U_i in [0, 1] of each example, or None for
            the non-randomised score (U = 1); ignored by ``lac``.
        lam, k_reg: RAPS's penalty λ >= 0 and free count k_reg >= 0; ignored by the other scores.
    """
    check_choice("score", score, SCORES)
    probs = _check_probs(probs)
    if score == "lac":
        return 1.0 - probs
    n, k = probs.shape
    order = np.argsort(-probs, axis=1, kind="stable")
    ranked = np.take_along_axis(probs, order, axis=1)
    weight = np.ones((n, 1)) if u is None else as_array(u, "u", (n,))[:, None]
    sorted_scores = np.cumsum(ranked, axis=1) - ranked + weight * ranked
    if score == "raps":
        if lam < 0 or k_reg < 0:
            raise ArgumentError(f"RAPS needs lam >= 0 and k_reg >= 0, got lam = {lam}, k_reg = {k_reg}")
        sorted_scores = sorted_scores + lam * np.maximum(0, np.arange(1, k + 1) - k_reg)
    scores = np.empty_like(sorted_scores)
    np.put_along_axis(scores, order, sorted_scores, axis=1)
    return scores


def conformal_quantile(scores, alpha: float = ALPHA) -> float:
    """q̂: the ⌈(n + 1)(1 − α)⌉-th smallest of n calibration scores (n,), the empirical quantile at level
    ⌈(n + 1)(1 − α)⌉/n, the finite-sample correction that makes the coverage ≥ 1 − α; +inf when that
    rank exceeds n (too few examples for α: every set is then every class)."""
    alpha = _check_alpha(alpha)
    scores = as_array(scores, "scores", (None,), finite=True)
    n = len(scores)
    rank = math.ceil(round((n + 1) * (1 - alpha), 9))  # (n + 1)·0.9 in floats may overshoot an integer
    if rank > n:
        return math.inf
    return float(np.partition(scores, rank - 1)[rank - 1])


@dataclass(frozen=True)
class ConformalPredictor:
    """A calibrated split conformal predictor: :meth:`sets` gives the prediction sets of new outputs.

    Attributes:
        score, alpha, randomized, lam, k_reg, seed: how it was calibrated (see the module's docstring).
        keep_top: the top class is in every set, which is then never empty.
        threshold: () q̂, or (K,) one q̂ per class for the Mondrian variant; read-only (a cached predictor
            is shared). +inf where too few calibration examples for α: see :attr:`infinite_classes`.
        n_calibration: the calibration examples it was fitted on.
    """

    score: str
    alpha: float
    threshold: np.ndarray
    randomized: bool
    lam: float
    k_reg: int
    seed: int
    n_calibration: int
    keep_top: bool = False

    def __post_init__(self):
        threshold = np.array(self.threshold, dtype=np.float64)  # a copy: the caller's array stays writable
        threshold.flags.writeable = False
        object.__setattr__(self, "threshold", threshold)

    @property
    def mondrian(self) -> bool:
        return self.threshold.ndim == 1

    @property
    def infinite(self) -> bool:
        """Whether a threshold is +inf: too few calibration examples for α (overall, or in a Mondrian class),
        so the sets hold every class there and cover by construction, saying nothing."""
        return bool(np.isinf(self.threshold).any())

    @property
    def infinite_classes(self) -> tuple[int, ...] | None:
        """The Mondrian classes whose threshold is +inf (their label is in every set); None for the one
        marginal threshold, see :attr:`infinite`."""
        return tuple(int(y) for y in np.flatnonzero(np.isinf(self.threshold))) if self.mondrian else None

    def warning(self, class_names=None) -> str | None:
        """One line saying which threshold is +inf and what that does to the sets, or None when none is.
        ``class_names`` (K,) name the Mondrian classes (else their indices)."""
        if not self.infinite:
            return None
        if not self.mondrian:
            return (f"threshold +inf: {self.n_calibration} calibration examples are too few for alpha = "
                    f"{self.alpha:g}, so every set holds every class and its coverage of 1 says nothing")
        names = [str(y) if class_names is None else str(class_names[y]) for y in self.infinite_classes]
        return (f"threshold +inf for class{'es' if len(names) > 1 else ''} {', '.join(names)}: too few calibration "
                f"examples of them for alpha = {self.alpha:g}, so those labels are in every set and their "
                "coverage of 1 says nothing")

    def as_dict(self) -> dict:
        """How it was calibrated, plain values for JSON: the thresholds (None for +inf) and the flags of
        :attr:`infinite` and :attr:`infinite_classes`."""
        def plain(value):
            return None if np.isinf(value) else float(value)

        raps = {"raps_lambda": self.lam, "raps_k_reg": self.k_reg} if self.score == "raps" else {}
        threshold = [plain(v) for v in self.threshold] if self.mondrian else plain(self.threshold)
        classes = self.infinite_classes
        return {"alpha": self.alpha, "score": self.score, "randomized": self.randomized, **raps,
                "mondrian": self.mondrian, "keep_top": self.keep_top, "n_calibration": self.n_calibration,
                "seed": self.seed,
                "threshold": threshold, "infinite_threshold": self.infinite,
                "infinite_threshold_classes": None if classes is None else list(classes)}

    def scores(self, probs, stream: int = 1) -> np.ndarray:
        """(N, K) every class's score, randomised from the seed's ``stream`` (0: calibration, 1: test)."""
        n = len(probs)
        u = np.random.default_rng((self.seed, stream)).random(n) if self.randomized else None
        return class_scores(probs, self.score, u, self.lam, self.k_reg)

    def sets(self, probs) -> np.ndarray:
        """(N, K) bool: class y is in example i's set when s(x_i, y) ≤ q̂ (q̂_y for Mondrian), and with
        ``keep_top`` when y is the top class (the first of equal probabilities)."""
        probs = _check_probs(probs)
        if self.mondrian and probs.shape[1] != len(self.threshold):
            raise ArgumentError(f"probs have {probs.shape[1]} classes, the predictor was calibrated on "
                                f"{len(self.threshold)}")
        sets = self.scores(probs) <= self.threshold
        if self.keep_top:
            sets[np.arange(len(probs)), probs.argmax(axis=1)] = True
        return sets


def fit_conformal(probs, labels, alpha: float = ALPHA, score: str = DEFAULT_SCORE, *, mondrian: bool = False,
                  randomized: bool = True, lam: float = RAPS_LAMBDA, k_reg: int = RAPS_K_REG, seed: int = 0,
                  keep_top: bool = False) -> ConformalPredictor:
    """Calibrate a split conformal predictor on held-out outputs (never the test split).

    Args:
        probs: (n, K) the model's probabilities on the calibration (validation) examples.
        labels: (n,) their labels.
        alpha: miscoverage in (0, 1).
        score: one of :data:`SCORES`.
        mondrian: one threshold per class, from that class's calibration examples (class-conditional
            coverage); a class with too few examples for α gets +inf (its label is always in the set).
        randomized: APS and RAPS with U ~ Uniform(0, 1) (else U = 1); LAC ignores it.
        lam, k_reg: RAPS's λ and k_reg.
        seed: seed of U.
        keep_top: put the top class in every set (no empty sets; coverage only grows). The threshold is
            calibrated as without it.
    """
    alpha = _check_alpha(alpha)
    probs = _check_probs(probs)
    labels = check_labels(labels, *probs.shape)
    randomized = bool(randomized) and score != "lac"
    predictor = ConformalPredictor(score, alpha, np.array(np.nan), randomized, float(lam), int(k_reg), int(seed),
                                   len(labels))
    true = predictor.scores(probs, stream=0)[np.arange(len(labels)), labels]
    if mondrian:
        threshold = np.array([conformal_quantile(true[labels == y], alpha) if (labels == y).any() else math.inf
                              for y in range(probs.shape[1])])
    else:
        threshold = np.array(conformal_quantile(true, alpha))
    return ConformalPredictor(score, alpha, threshold, randomized, float(lam), int(k_reg), int(seed), len(labels),
                              bool(keep_top))


def prediction_sets(cal_probs, cal_labels, probs, alpha: float = ALPHA, score: str = DEFAULT_SCORE, **options
                    ) -> np.ndarray:
    """(N, K) bool prediction sets of ``probs`` (N, K), calibrated on ``cal_probs`` (n, K) and
    ``cal_labels`` (n,): :func:`fit_conformal` (``options`` are its keywords), then its ``sets``."""
    return fit_conformal(cal_probs, cal_labels, alpha, score, **options).sets(probs)


def _binomial_se(share: np.ndarray, count: np.ndarray) -> np.ndarray:
    """√(p(1 − p)/n), NaN where n = 0."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sqrt(share * (1 - share) / count)


@dataclass(frozen=True)
class SetCoverage:
    """How prediction sets did on labelled test examples.

    Attributes:
        coverage: the share of examples whose set holds their label; se: its binomial standard error
            √(c(1 − c)/N).
        n: the examples.
        per_class, per_class_se: (K,) the same among each class's examples (NaN for a class with none).
        per_class_count: (K,) int, the examples of each class.
        mean_size: the mean set size, in classes.
        size_counts: (K + 1,) int, how many sets hold 0, 1, …, K classes.
    """

    coverage: float
    se: float
    n: int
    per_class: np.ndarray
    per_class_se: np.ndarray
    per_class_count: np.ndarray
    mean_size: float
    size_counts: np.ndarray

    def as_dict(self) -> dict:
        """Plain values for JSON: lists for the arrays, None for NaN."""
        def plain(values):
            return [None if np.isnan(v) else float(v) for v in values]

        return {"coverage": self.coverage, "coverage_se": self.se, "n": self.n,
                "per_class_coverage": plain(self.per_class), "per_class_se": plain(self.per_class_se),
                "per_class_count": self.per_class_count.tolist(), "mean_set_size": self.mean_size,
                "set_size_counts": self.size_counts.tolist()}


def set_coverage(sets, labels) -> SetCoverage:
    """Marginal and class-conditional coverage of prediction sets (N, K) bool on labels (N,), with binomial
    standard errors, and the sets' sizes."""
    sets = as_array(sets, "sets", (None, None), dtype=bool)
    labels = check_labels(labels, *sets.shape)
    n, k = sets.shape
    covered = sets[np.arange(n), labels].astype(np.float64)
    count = np.bincount(labels, minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.bincount(labels, weights=covered, minlength=k) / count
    coverage = float(covered.mean())
    sizes = sets.sum(axis=1)
    return SetCoverage(coverage, float(_binomial_se(np.array(coverage), np.array(n))), n, per_class,
                       _binomial_se(per_class, count), count, float(sizes.mean()), np.bincount(sizes, minlength=k + 1))


def _from_logits(logits) -> np.ndarray:
    from scipy.special import softmax

    return softmax(as_array(logits, "logits", (None, None), finite=True), axis=1)


def checkpoint_conformal(model, meta: dict, data_train, alpha: float = ALPHA, score: str = DEFAULT_SCORE,
                         **options) -> ConformalPredictor:
    """:func:`fit_conformal` on the validation split a loaded checkpoint's training held out, rebuilt as
    the recalibrations rebuild it (:func:`explorer.measure.evaluation.checkpoint_recalibrator`)."""
    from explorer.core.checkpoints import checkpoint_validation_split
    from explorer.measure.evaluation import _fitted_on

    check_choice("score", score, SCORES)
    return _fitted_on(model, checkpoint_validation_split(model, meta, data_train),
                      lambda logits, labels: fit_conformal(_from_logits(logits), labels, alpha, score, **options))


def bundle_conformal(bundle, alpha: float = ALPHA, score: str = DEFAULT_SCORE, **options) -> ConformalPredictor:
    """:func:`fit_conformal` on a bundle's ``val_logits``/``val_labels``; a
    :class:`~explorer.core.errors.BundleError` when it has none."""
    from explorer.measure.evaluation import _held_out

    logits, labels = _held_out(bundle, "conformal calibration")
    return fit_conformal(_from_logits(logits), labels, alpha, score, **options)


__all__ = ["ALPHA", "ConformalPredictor", "DEFAULT_SCORE", "RAPS_K_REG", "RAPS_LAMBDA", "SCORES", "SetCoverage",
           "bundle_conformal", "checkpoint_conformal", "class_scores", "conformal_quantile", "fit_conformal",
           "prediction_sets", "set_coverage"]
