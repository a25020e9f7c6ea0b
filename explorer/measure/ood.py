"""Out-of-distribution detection: scores that tell test inputs of the training distribution from others,
and how well each score tells them apart.

Scores (each (N,), higher = more in-distribution, :data:`SCORES`): four of the logits alone (max-softmax
probability, max logit, energy, negative entropy) and two of the latent z under the class Gaussians
(METHOD.md §4): the Mahalanobis score max_k −r²_k and log p(z). The Gaussians are a learnt head's own
or, for a linear softmax layer, the member of its implied family fitted to labelled latents
(:func:`explorer.measure.latents.fitted_reference`), passed as ``reference``. Metrics (:data:`METRICS`,
in-distribution the positive class): AUROC, AUPR-in, AUPR-out and the FPR at 95 % TPR, each with a
bootstrap interval (:func:`score_intervals`). Which set is out of distribution for a dataset is the
dataset's own fact (:attr:`explorer.core.data.DatasetInfo.ood`); :func:`noise_images` stands in where
there is none.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from explorer.core._validation import as_array
from explorer.core.bundles import Bundle
from explorer.core.data import subset_indices
from explorer.core.errors import ArgumentError, BundleError
from explorer.core.models import LinearHead
from explorer.measure.calibration import _CHUNK_CELLS, resample_counts
from explorer.measure.inference import predict
from explorer.measure.intervals import LEVEL, N_RESAMPLES, Interval


SCORES = {"max_softmax": "max-softmax probability", "max_logit": "max logit", "energy": "energy (T = 1)",
          "neg_entropy": "negative entropy", "mahalanobis": "Mahalanobis, max_k −r²_k",
          "log_density": "latent density log p(z)"}
"""Every score :func:`output_scores` gives, in its order, with its name in words. The last two need
latents and the class Gaussians they enter."""
METRICS = {"auroc": "AUROC", "aupr_in": "AUPR-in", "aupr_out": "AUPR-out", "fpr95": "FPR at 95 % TPR"}
"""The detection metrics of :func:`detection_metrics`, with their names in words. For FPR at 95 % TPR
lower is better; for the others higher."""
TPR = 0.95
"""The true-positive rate (share of in-distribution inputs kept) at which :data:`METRICS`' ``fpr95`` is read."""


def ood_scores(model: nn.Module, x: torch.Tensor, reference: nn.Module | None = None) -> dict[str, np.ndarray]:
    """The out-of-distribution scores of :data:`SCORES` for inputs x (N, ...) in [0, 1], each (N,).

    The two latent scores are under ``reference``'s Gaussians, by default a learnt head's own. A linear
    layer's Gaussians must be fitted to labelled latents first (the inputs scored here have no labels
    to fit on), so without ``reference`` a softmax model gets the four scores of its logits alone.
    """
    logits, z = predict(model, x)
    if reference is None and not isinstance(model.head, LinearHead):
        reference = model.head
    return output_scores(logits, z, reference)


def output_scores(logits, z=None, head: nn.Module | None = None) -> dict[str, np.ndarray]:
    """:func:`ood_scores` from outputs already computed: logits (N, K), and latents z (N, d) with the
    head whose Gaussians they are scored under (the latent scores are left out without them: a bundle
    of logits alone).

    ``"max_softmax"``: max_k p(k | x) (Hendrycks & Gimpel 2017). ``"max_logit"``: max_k ℓ_k (Hendrycks
    et al. 2022). ``"energy"``: the negative free energy log Σ_k exp ℓ_k at T = 1 (Liu et al. 2020).
    ``"neg_entropy"``: Σ_k p_k log p_k (nats). ``"mahalanobis"``: max_k −r²_k, r²_k = (z − μ_k)ᵀ Σ_k⁻¹
    (z − μ_k) under each class's own covariance (Lee et al. 2018 with the head's covariances; not the
    class-conditional log-density, whose log-determinant and prior terms log p(z) keeps).
    ``"log_density"``: log p(z) = log Σ_k π_k p(z | k) (METHOD.md §4).
    """
    logits = torch.as_tensor(as_array(logits, "logits", (None, None))).double()
    # float64: saturated float32 probabilities tie at 1.0 and lose their order.
    log_probs = torch.log_softmax(logits, dim=1)
    scores = {"max_softmax": log_probs.exp().max(dim=1).values.numpy(),
              "max_logit": logits.max(dim=1).values.numpy(),
              "energy": torch.logsumexp(logits, dim=1).numpy(),
              "neg_entropy": (log_probs.exp() * log_probs).sum(dim=1).numpy()}
    if z is not None and head is not None:
        like = head.class_means()  # a fitted member of softmax's family holds buffers, not parameters
        z = torch.as_tensor(as_array(z, "z", (len(logits), None)), dtype=like.dtype, device=like.device)
        with torch.no_grad():
            scores["mahalanobis"] = -class_r2(head, z).min(dim=1).values.cpu().double().numpy()
            scores["log_density"] = head.log_marginal(z).cpu().double().numpy()
    return scores


def class_r2(head: nn.Module, z: Tensor) -> Tensor:
    """r²_ik = (z_i − μ_k)ᵀ Σ_k⁻¹ (z_i − μ_k), the squared Mahalanobis distance of every latent to every
    class under the head's covariances (:meth:`explorer.core.models.Head.covariances`, a Student-t's
    squared scale): z (N, d) → (N, K)."""
    with torch.no_grad():
        trils = torch.linalg.cholesky(head.covariances().to(z.dtype))  # (K, d, d)
        diff = (z.unsqueeze(0) - head.class_means().to(z.dtype).unsqueeze(1)).transpose(1, 2)  # (K, d, N)
        white = torch.linalg.solve_triangular(trils, diff, upper=False)
    return white.square().sum(1).T


def auroc(in_scores, out_scores) -> float:
    """Area under the ROC curve for telling in-distribution (positive class) from OOD inputs by score:
    :func:`detection_metrics`' ``"auroc"``.

    The probability that a random in-distribution input scores higher than a random OOD one (ties
    count ½): 1 = perfectly separated, 0.5 = no better than chance. Shapes: (N_in,) and (N_out,);
    ±inf (a log-density that underflowed) ranks like any score.
    """
    return detection_metrics(in_scores, out_scores)["auroc"]


def detection_metrics(in_scores, out_scores) -> dict[str, float]:
    """Every metric of :data:`METRICS` for telling in-distribution inputs (positive) from OOD ones by a
    score (higher = more in-distribution): in_scores (N_in,), out_scores (N_out,).

    ``"auroc"``: P(s_in > s_out) + ½ P(s_in = s_out). ``"aupr_in"``: the average precision
    Σ_t (R_t − R_{t−1}) P_t with in-distribution positive, thresholds t at the distinct scores (the
    step sum of scikit-learn's ``average_precision_score``, no interpolation). ``"aupr_out"``: the same
    with OOD positive and the score negated. ``"fpr95"``: the share of OOD inputs scoring ≥ t at the
    highest threshold t that keeps at least :data:`TPR` of the in-distribution inputs (inputs scoring
    ≥ t are called in-distribution). Ties are one threshold: they enter or leave together.
    """
    ordered = _Ordered(in_scores, out_scores)
    return {k: float(v[0]) for k, v in ordered.metrics(ordered.ones()).items()}


def score_intervals(in_scores, out_scores, n_resamples: int = N_RESAMPLES, seed: int = 0,
                    level: float = LEVEL) -> dict[str, Interval]:
    """Every metric of :func:`detection_metrics` with its percentile bootstrap interval: the in- and
    out-of-distribution sets resampled independently (each with replacement, its own size; the two
    are drawn separately, so neither's share of the pool moves), ``n_resamples`` times, and the
    (1 ± level)/2 quantiles of the metric over the resamples.

    Returns:
        {metric: Interval(value on the scores themselves, low, high, level)}.
    """
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, (int, np.integer)) or n_resamples < 2:
        raise ArgumentError(f"n_resamples must be an integer >= 2, got {n_resamples!r}")
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise ArgumentError(f"level must lie in (0, 1), got {level!r}")
    ordered = _Ordered(in_scores, out_scores)
    observed = ordered.metrics(ordered.ones())
    drawn: dict[str, list[np.ndarray]] = {k: [] for k in METRICS}
    for w_in, w_out in _paired_counts(ordered.n_in, ordered.n_out, n_resamples, seed):
        for k, v in ordered.metrics(np.concatenate([w_in, w_out], axis=1)).items():
            drawn[k].append(v)
    return {k: Interval(float(observed[k][0]), *map(float, np.quantile(np.concatenate(v),
                                                                         [(1 - level) / 2, (1 + level) / 2])), level)
            for k, v in drawn.items()}


class _Ordered:
    """The pooled scores of one comparison sorted once (highest first) into tie groups, measured under
    weights: w copies of each input, R sets of weights at a time (a bootstrap's counts)."""

    def __init__(self, in_scores, out_scores) -> None:
        in_scores = as_array(in_scores, "in_scores", (None,), nonempty=False)
        out_scores = as_array(out_scores, "out_scores", (None,), nonempty=False)
        if not len(in_scores) or not len(out_scores):
            raise ArgumentError(f"need scores on both sides, got {len(in_scores)} in and {len(out_scores)} out")
        scores = np.concatenate([in_scores, out_scores])
        if np.isnan(scores).any():
            raise ArgumentError("scores contain NaN")
        self.n_in, self.n_out = len(in_scores), len(out_scores)
        self.order = np.argsort(-scores, kind="stable")
        ranked = scores[self.order]
        # group g holds the inputs tied at its score; a threshold sits between groups
        self.starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])
        self.is_in = self.order < self.n_in

    def ones(self) -> np.ndarray:
        return np.ones((1, self.n_in + self.n_out))

    def metrics(self, w: np.ndarray) -> dict[str, np.ndarray]:
        """Every metric of :data:`METRICS` under each row of weights w (R, N_in + N_out): {metric: (R,)}."""
        w = w[:, self.order]
        tp, fp = self._grouped(w * self.is_in), self._grouped(w * ~self.is_in)  # (R, G) per tie group
        p, n = tp.sum(1, keepdims=True), fp.sum(1, keepdims=True)
        cum_tp, cum_fp = tp.cumsum(1), fp.cumsum(1)
        above = cum_tp - tp  # in-distribution weight strictly above each group
        auroc = (fp * (above + tp / 2)).sum(1) / (p * n)[:, 0]
        # OOD positive, thresholds from the lowest score up: the same groups counted from the other end
        out_fp, out_tp = tp[:, ::-1], fp[:, ::-1]
        first = np.argmax(cum_tp / p >= TPR - 1e-12, axis=1)  # the first group reaching the TPR
        return {"auroc": auroc, "aupr_in": _average_precision(tp, cum_tp, cum_fp, p),
                "aupr_out": _average_precision(out_tp, out_tp.cumsum(1), out_fp.cumsum(1), n),
                "fpr95": np.take_along_axis(cum_fp, first[:, None], 1)[:, 0] / n[:, 0]}

    def _grouped(self, w: np.ndarray) -> np.ndarray:
        """(R, N) weights in score order → (R, G) sums per tie group."""
        return np.add.reduceat(w, self.starts, axis=1)


def _paired_counts(n_in: int, n_out: int, n_resamples: int, seed: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The bootstrap counts of the in- and out-of-distribution sets, drawn independently
    (:func:`explorer.measure.calibration.resample_counts`, seeds ``seed`` and ``seed + 1``), in chunks of
    resamples paired up: (R, n_in) and (R, n_out), the R adding up to ``n_resamples``."""
    pairs = zip((row for chunk in resample_counts(n_in, n_resamples, seed) for row in chunk),
                (row for chunk in resample_counts(n_out, n_resamples, seed + 1) for row in chunk))
    size = max(1, _CHUNK_CELLS // (n_in + n_out))
    for first in range(0, n_resamples, size):
        chunk = [next(pairs) for _ in range(min(size, n_resamples - first))]
        yield np.stack([a for a, _ in chunk]), np.stack([b for _, b in chunk])


def _average_precision(tp: np.ndarray, cum_tp: np.ndarray, cum_fp: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Σ_g (tp_g / P) · precision_g over thresholds g: all (R, G) but p (R, 1) → (R,)."""
    called = cum_tp + cum_fp
    precision = np.divide(cum_tp, called, out=np.zeros_like(cum_tp), where=called > 0)
    return (tp / p * precision).sum(1)


PLACEMENT = {"norm": "median |z|", "centre_distance": "median distance to the class means' centre",
             "r2_nearest": "median r² to the nearest class", "closer_than_typical": "share nearer a class than "
             "the r² law's median", "nearest_log_det": "mean −½ log det Σ of the nearest class (nats)",
             "log_density": "median log p(z) (nats)"}
"""What :func:`latent_placement` measures of a set of latents, in words."""


@dataclass(frozen=True)
class Placement:
    """Where in- and out-of-distribution latents land among the class Gaussians (:func:`latent_placement`).

    ``inside`` and ``outside``: {measure of :data:`PLACEMENT`: value}; ``typical_r2``: the median of the
    r² law (χ²_d for Gaussians), the r² of a typical in-class latent; ``nearest_classes``: {class index:
    share of the OOD latents nearest it}, the three largest; ``auroc``: {score: AUROC} of ``"log_density"``,
    ``"mahalanobis"`` and ``"norm"`` (|z|, higher = in), in-distribution positive; ``d``: the latent dimension.
    """

    inside: dict[str, float]
    outside: dict[str, float]
    typical_r2: float
    nearest_classes: dict[int, float]
    auroc: dict[str, float]
    d: int


def latent_placement(head: nn.Module, z_in, z_out) -> Placement:
    """Where the OOD latents z_out (M, d) land relative to the class Gaussians of ``head``, beside the
    in-distribution latents z_in (N, d): their norms, their distance to the centre of the class means,
    their r² to the nearest class against the r² law's median, the height of the nearest class's
    density (−½ log det Σ_k: a tighter class is denser at the same r²) and log p(z).

    Which of these lets log p(z) rank OOD inputs above in-distribution ones differs by model and by d:
    :func:`placement_causes` reads it from the figures.
    """
    like = head.class_means()
    z_in, z_out = (torch.as_tensor(as_array(z, name, (None, like.shape[1])), dtype=like.dtype)
                   for z, name in ((z_in, "z_in"), (z_out, "z_out")))
    typical = float(head.r2_law().median())
    (inside, _, scores_in), (outside, nearest, scores_out) = (_placed(head, z, typical) for z in (z_in, z_out))
    shares = np.bincount(nearest, minlength=len(like)) / len(nearest)
    top = np.argsort(-shares, kind="stable")[:3]
    return Placement(inside, outside, typical, {int(k): float(shares[k]) for k in top},
                     {k: auroc(scores_in[k], scores_out[k]) for k in scores_in}, int(like.shape[1]))


COLLAPSE = 0.5
"""OOD latents have collapsed toward the centre (:func:`placement_causes`' ``"collapse"``) when their median
distance to the centre of the class means is at most this share of the in-distribution latents'."""
CAUSES = {"nearer": "they land nearer a class mean than the test latents do (median r² to the nearest class {r2})",
          "collapse": "they collapse toward the centre of the class means (median distance {centre}, |z| {norm}), "
                      "where the overlapping class Gaussians add up; |z| alone tells the sets apart there (AUROC "
                      "{norm_auroc})",
          "tight": "they land on tighter classes (mean −½ log det Σ of the nearest class {log_det} nats)"}
"""The causes :func:`placement_causes` can read from a placement, in words, with the figures that show them."""


def placement_causes(inside: dict[str, float], outside: dict[str, float]) -> list[str]:
    """Which of :data:`CAUSES` the placement figures of :func:`latent_placement` (``Placement.inside`` and
    ``.outside``, :data:`PLACEMENT`'s keys) show, in its order: ``"nearer"`` when the OOD latents' median r² to
    the nearest class is below the in-distribution latents'; ``"collapse"`` when their median distance to the
    means' centre is at most :data:`COLLAPSE` of the in-distribution latents'; ``"tight"`` when their nearest
    classes are tighter on average (larger −½ log det Σ). Each is a reason log p(z) can score the OOD set
    higher; whether it does is its AUROC's to say (:func:`cause_sentence`)."""
    shown = {"nearer": outside["r2_nearest"] < inside["r2_nearest"],
             "collapse": outside["centre_distance"] <= COLLAPSE * inside["centre_distance"],
             "tight": outside["nearest_log_det"] > inside["nearest_log_det"]}
    return [k for k in CAUSES if shown[k]]


def cause_sentence(inside: dict[str, float], outside: dict[str, float], aurocs: dict[str, float]) -> str:
    """Why log p(z) ranks the OOD latents as it does, from the figures of :func:`latent_placement`
    (``inside``, ``outside`` and ``aurocs``: a :class:`Placement`'s ``auroc``) and :func:`placement_causes`: below
    chance, the causes the figures show (each with its in → out figures); at or above chance, that the OOD
    latents score lower and, where they land farther from the nearest mean, that they do."""
    def pair(key: str) -> str:
        return f"{inside[key]:.2f} → {outside[key]:.2f}"
    auroc_log_density = aurocs["log_density"]
    figures = {"r2": pair("r2_nearest"), "centre": pair("centre_distance"), "norm": pair("norm"),
               "log_det": pair("nearest_log_det"), "norm_auroc": f"{aurocs['norm']:.2f}"}
    if auroc_log_density < 0.5:
        causes = placement_causes(inside, outside)
        if not causes:
            return (f"log p(z) ranks the OOD latents above the test latents (AUROC {auroc_log_density:.3f}), "
                    "though none of nearer, collapsed or tighter shows in these medians")
        return (f"log p(z) ranks the OOD latents above the test latents (AUROC {auroc_log_density:.3f}): "
                + "; ".join(CAUSES[k].format(**figures) for k in causes))
    farther = outside["r2_nearest"] >= inside["r2_nearest"]
    return (f"log p(z) ranks the OOD latents below the test latents (AUROC {auroc_log_density:.3f})"
            + (f": they land farther from the nearest class mean (median r² {figures['r2']})" if farther else ""))


def _placed(head: nn.Module, z: Tensor, typical: float) -> tuple[dict[str, float], np.ndarray, dict[str, np.ndarray]]:
    """One side of :func:`latent_placement`: its :data:`PLACEMENT` figures, each latent's nearest class
    (N,), and its scores {"log_density", "mahalanobis", "norm"} (N,) each."""
    with torch.no_grad():
        means = head.class_means().detach()
        r2 = class_r2(head, z).min(dim=1)
        log_density = head.log_marginal(z).detach()
        half_log_det = -0.5 * torch.logdet(head.covariances().detach())  # (K,)
        norms = z.norm(dim=1)
        figures = {"norm": norms.median().item(),
                   "centre_distance": (z - means.mean(dim=0)).norm(dim=1).median().item(),
                   "r2_nearest": r2.values.median().item(),
                   "closer_than_typical": (r2.values < typical).double().mean().item(),
                   "nearest_log_det": half_log_det[r2.indices].mean().item(),
                   "log_density": log_density.median().item()}
    scores = {"log_density": log_density.double().numpy(), "mahalanobis": -r2.values.double().numpy(),
              "norm": norms.double().numpy()}
    return figures, r2.indices.numpy(), scores


def noise_images(like: Tensor, n: int, seed: int = 0) -> Tensor:
    """Uniform-noise images in [0, 1] shaped like ``like`` (N, C, H, W): an out-of-distribution set
    for datasets with no natural counterpart (digits)."""
    generator = torch.Generator().manual_seed(seed)
    return torch.rand((n, *like.shape[1:]), generator=generator)


def ood_comparison(model: nn.Module, x_in: Tensor, x_out: Tensor, reference: nn.Module | None = None
                   ) -> dict[str, dict[str, object]]:
    """In- and out-of-distribution scores and AUROC for each score of :func:`ood_scores` (``reference``
    as there).

    Returns {score name: {"in": array, "out": array, "auroc": float}}; AUROC treats in-distribution
    as positive (0.5: no separation, 1: perfect).
    """
    return compare_scores(ood_scores(model, x_in, reference), ood_scores(model, x_out, reference))


def bundle_comparison(found: Bundle, head: nn.Module | None, n: int | None = None, seed: int = 0
                      ) -> dict[str, dict[str, object]]:
    """:func:`ood_comparison` of a predictions bundle: at most n of its rows (its ``logits``, and
    ``latents`` where it has them) against at most n of its ``ood_logits`` (and ``ood_latents``), each
    drawn with ``seed`` (:func:`explorer.core.data.subset_indices`; None: all). ``head``: the Gaussians
    the latents are scored under (:meth:`Bundle.implied_gaussians <explorer.core.bundles.Bundle.implied_gaussians>`),
    or None for the scores of the logits alone."""
    if found.ood_logits is None:
        raise BundleError("has no ood_logits: no out-of-distribution outputs to compare")
    keep, away = subset_indices(len(found.logits), n, seed), subset_indices(len(found.ood_logits), n, seed)
    inside = output_scores(found.logits[keep], None if found.latents is None else found.latents[keep], head)
    outside = output_scores(found.ood_logits[away], None if found.ood_latents is None else found.ood_latents[away],
                            head)
    return compare_scores(inside, outside)


def comparison_intervals(comparison: dict[str, dict[str, object]], n_resamples: int = N_RESAMPLES, seed: int = 0,
                         level: float = LEVEL) -> dict[str, dict[str, Interval]]:
    """{score: {metric: Interval}}: :func:`score_intervals` of every score of a comparison
    (:func:`ood_comparison`, :func:`bundle_comparison`), the same resamples for each score."""
    return {name: score_intervals(result["in"], result["out"], n_resamples, seed, level)
            for name, result in comparison.items()}


def compare_scores(scores_in: dict[str, np.ndarray], scores_out: dict[str, np.ndarray]
                   ) -> dict[str, dict[str, object]]:
    """:func:`ood_comparison`'s result from scores already computed (:func:`output_scores`), for the
    scores both sides have."""
    return {name: {"in": scores_in[name], "out": scores_out[name],
                   "auroc": auroc(scores_in[name], scores_out[name])} for name in scores_in if name in scores_out}


__all__ = ["CAUSES", "COLLAPSE", "METRICS", "PLACEMENT", "SCORES", "TPR", "Placement", "auroc", "bundle_comparison",
           "cause_sentence", "class_r2", "compare_scores", "comparison_intervals", "detection_metrics",
           "latent_placement", "noise_images", "ood_comparison", "ood_scores", "output_scores", "placement_causes",
           "score_intervals"]
