"""The latent map of a checkpoint: a seeded sample of its test latents and of its class Gaussians,
placed in 2-D by one projection and cached on disk under the checkpoint's identity.

The Latent space page and ``python -m explorer project`` both call :func:`latent_map`, so the
projections shipped in ``checkpoints/projections/`` are exactly what the page would compute: a page
showing a shipped checkpoint reads them and never waits for UMAP.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch import nn

from explorer.core.checkpoints import SHIPPED_DIR
from explorer.core.config import ProjectionConfig
from explorer.core.data import subset_indices
from explorer.measure.latents import prior_samples
from explorer.measure.projection import Projection, cached_projection

MAX_POINTS = 2000
"""Test latents drawn on a map by default (all of them for a smaller test split)."""
MAX_MARKERS = 100_000
"""Markers a map draws at most (WebGL keeps 10⁵ responsive): more points are drawn as a density image
under a seeded sample of this many (:func:`explorer.figures.latent_scatter`)."""
POINT_CHOICES = (2_000, 10_000, MAX_MARKERS, None)
"""How many test latents a map may place: None places every one."""
PRIOR_PER_CLASS = 60
"""Samples of each class Gaussian placed with them."""
SHIPPED_PROJECTIONS = SHIPPED_DIR / "projections"


@dataclass(frozen=True, eq=False)
class LatentMap:
    """Drawn test latents and prior samples in 2-D.

    Attributes:
        keep: test-split indices of the drawn latents, in the order of ``projection.points``.
        projection: ``points`` for the latents, ``extra_points`` for the prior samples.
        prior_labels: the class of each prior sample.
    """

    keep: np.ndarray
    projection: Projection
    prior_labels: np.ndarray


def latent_map(model: nn.Module | None, latents: np.ndarray, digest: str, config: ProjectionConfig, seed: int,
               cache_dir: str | os.PathLike | None = None,
               shipped_dir: str | os.PathLike | None = SHIPPED_PROJECTIONS,
               fit: Callable[..., Projection] | None = None, points: int | None = MAX_POINTS) -> LatentMap:
    """Draw ``points`` of ``latents`` (the test split's, (N, d); all of them when N is smaller or
    ``points`` is None) and
    :data:`PRIOR_PER_CLASS` samples of each of ``model``'s class Gaussians with ``seed``, and place
    both by one projection.
    ``model`` may be a head alone (for a softmax model, the member of its implied family to draw,
    :func:`explorer.core.implied.reference_head`), or None for latents with no Gaussians (a bundle
    without its last layer): they are placed alone.

    ``digest`` (:func:`explorer.core.checkpoints.file_digest` of the checkpoint) names the inputs in
    the cache, so a projection computed on another machine, whose latents may differ in the last
    bits, is found all the same. ``shipped_dir`` is searched first and never written; new projections
    go to ``cache_dir``, fitted by ``fit`` (see :func:`explorer.measure.projection.cached_projection`).
    """
    keep = subset_indices(len(latents), points, seed)
    if model is not None:
        prior_z, prior_y = prior_samples(model, PRIOR_PER_CLASS, seed=seed)
    else:
        prior_z, prior_y = None, np.zeros(0, dtype=np.int64)
    key = f"{digest}:test:seed={seed}:points={'all' if points is None else points}:prior={PRIOR_PER_CLASS if model is not None else 0}"
    implied = getattr(getattr(model, "head", model), "covariance", None)
    if implied is not None:  # a linear layer's Gaussians: which member of its family was sampled
        key += f":implied={implied}"
    projection = cached_projection(latents[keep], config, extra=prior_z, extra_name="prior samples",
                                   cache_dir=cache_dir, key=key,
                                   read_only_dirs=[Path(shipped_dir)] if shipped_dir else [], fit=fit)
    return LatentMap(keep=keep, projection=projection, prior_labels=prior_y)


__all__ = ["LatentMap", "MAX_MARKERS", "MAX_POINTS", "POINT_CHOICES", "PRIOR_PER_CLASS", "SHIPPED_PROJECTIONS", "latent_map"]
