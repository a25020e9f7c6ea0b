"""Out-of-distribution detection: scores that tell test images of the training distribution from others.

Two scores per image (higher = more in-distribution): the classifier's max-softmax probability and
the latent density log p(z) under the class Gaussians (METHOD.md §4): a learnt head's own, or for a
linear softmax layer the member of its implied family fitted to labelled latents
(:func:`explorer.measure.latents.fitted_reference`), passed as ``reference``. Which set is
out of distribution for a dataset is the dataset's own fact (:attr:`explorer.core.data.DatasetInfo.ood`);
:func:`noise_images` stands in where there is none.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import stats
from torch import Tensor, nn

from explorer.core._validation import as_array
from explorer.core.errors import ArgumentError
from explorer.core.models import LinearHead
from explorer.measure.inference import predict


def ood_scores(model: nn.Module, x: torch.Tensor, reference: nn.Module | None = None) -> dict[str, np.ndarray]:
    """Two out-of-distribution scores of images x (N, C, H, W) in [0, 1], each (N,); higher = more in-distribution.

    ``"max_softmax"``: max_k p(y = k | x), the usual baseline (Hendrycks & Gimpel 2017).
    ``"log_density"``: log p(z) = log Σ_k π_k p(z | k) under ``reference``'s Gaussians (METHOD.md §4),
    by default a learnt head's own. A linear layer's Gaussians must be fitted to labelled latents first
    (the images scored here have no labels to fit on), so without ``reference`` a softmax model gets
    ``"max_softmax"`` alone.
    """
    logits, z = predict(model, x)
    if reference is None and not isinstance(model.head, LinearHead):
        reference = model.head
    return output_scores(logits, z, reference)


def output_scores(logits, z=None, head: nn.Module | None = None) -> dict[str, np.ndarray]:
    """:func:`ood_scores` from outputs already computed: logits (N, K), and latents z (N, d) with the
    head they enter for ``"log_density"`` (left out without them: a bundle of logits alone)."""
    logits = torch.as_tensor(as_array(logits, "logits", (None, None)))
    # float64 softmax: saturated float32 probabilities tie at 1.0 and lose their order.
    scores = {"max_softmax": torch.softmax(logits, dim=1).max(dim=1).values.numpy()}
    if z is not None and head is not None:
        like = head.class_means()  # a fitted member of softmax's family holds buffers, not parameters
        z = torch.as_tensor(as_array(z, "z", (len(logits), None)), dtype=like.dtype, device=like.device)
        with torch.no_grad():
            scores["log_density"] = head.log_marginal(z).cpu().double().numpy()
    return scores


def auroc(in_scores, out_scores) -> float:
    """Area under the ROC curve for telling in-distribution (positive class) from OOD inputs by score.

    The probability that a random in-distribution input scores higher than a random OOD one (ties
    count ½): 1 = perfectly separated, 0.5 = no better than chance. AUROC depends only on the order
    of the scores, so their ranks go to sklearn's ``roc_auc_score``; this admits ±inf (a log-density
    that underflowed). Shapes: (N_in,) and (N_out,).
    """
    in_scores = as_array(in_scores, "in_scores", (None,), nonempty=False)
    out_scores = as_array(out_scores, "out_scores", (None,), nonempty=False)
    if not len(in_scores) or not len(out_scores):
        raise ArgumentError(f"need scores on both sides, got {len(in_scores)} in and {len(out_scores)} out")
    scores = np.concatenate([in_scores, out_scores])
    if np.isnan(scores).any():
        raise ArgumentError("scores contain NaN")
    labels = np.r_[np.ones(len(in_scores)), np.zeros(len(out_scores))]
    from sklearn.metrics import roc_auc_score  # here: importing scikit-learn takes half a second

    return float(roc_auc_score(labels, stats.rankdata(scores)))


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


def compare_scores(scores_in: dict[str, np.ndarray], scores_out: dict[str, np.ndarray]
                   ) -> dict[str, dict[str, object]]:
    """:func:`ood_comparison`'s result from scores already computed (:func:`output_scores`), for the
    scores both sides have."""
    return {name: {"in": scores_in[name], "out": scores_out[name],
                   "auroc": auroc(scores_in[name], scores_out[name])} for name in scores_in if name in scores_out}


__all__ = ["auroc", "compare_scores", "noise_images", "ood_comparison", "ood_scores", "output_scores"]
