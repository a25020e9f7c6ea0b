"""2-D pictures of the latent space: the latents themselves (d = 2), PCA or UMAP, fitted once and cached.

METHOD.md's projection caveat: UMAP preserves no density, and where it puts points added later
depends on the batch. So overlays (prior samples, adversarial points) are passed as ``extra`` and
fitted jointly with the latents by one map, and every :class:`Projection` carries a one-line ``note``
saying how its points were placed. This module is not called ``umap.py``: that would shadow the
library (STYLE.md, principle 11), which is imported lazily because its first use compiles numba code
for tens of seconds.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import logging
import os
import warnings
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from explorer.core._io import atomic_write, user_folder
from explorer.core._validation import as_array
from explorer.core.config import UMAP_FIT_MAX, ProjectionConfig
from explorer.core.errors import ArgumentError

logger = logging.getLogger(__name__)

CACHE_FORMAT = 1
"""Part of every cache key: bump it when the stored fields change."""


@dataclass(frozen=True, eq=False)
class Projection:
    """Points placed in 2-D by one fitted map.

    Attributes:
        points: (N, 2) positions of the latents.
        extra_points: (M, 2) positions of the extra points, placed by the same fit; None without any.
        method: ``"identity"``, ``"pca"`` or ``"umap"``.
        d: dimension of the latents the map was fitted on.
        note: one sentence saying how the points were placed, for a figure's caption.
        mean, components: PCA only: the map p = (z − mean) @ components.T, with mean (d,) and
            components (2, d).
        umap_model: UMAP only: the fitted ``umap.UMAP``; None for a projection from the cache.
    """

    points: np.ndarray
    extra_points: np.ndarray | None
    method: str
    d: int
    note: str
    mean: np.ndarray | None = None
    components: np.ndarray | None = None
    umap_model: object | None = field(default=None, repr=False)

    def transform(self, new) -> np.ndarray:
        """Place new latents (n, d) with the fitted map: (n, 2).

        Exact for identity and PCA. For UMAP it is approximate: ``umap.UMAP.transform`` initialises
        each new point from its nearest fitted neighbours and optimises it against the fixed
        embedding, so its position depends on the batch passed with it (METHOD.md's caveat); fit the
        points jointly (``extra``) where the placement matters. A UMAP projection from
        :func:`cached_projection` cannot transform (the UMAP object is not stored): fit afresh.
        """
        new = _points(new, "new", d=self.d)
        if self.method == "identity":
            return new
        if self.method == "pca":
            return (new - self.mean) @ self.components.T
        if self.umap_model is None:
            raise RuntimeError(
                "this UMAP projection came from the cache, which keeps no UMAP model: transforming new "
                "points needs a fresh fit_projection(...) (or pass them as extra when fitting)"
            )
        return self.umap_model.transform(new).astype(np.float64)


def _points(x, name: str, d: int | None = None) -> np.ndarray:
    """x as a float64 (n, d) array of finite values, a copy: results never alias the caller's arrays."""
    return as_array(x, name, (None, d), finite=True, copy=True)


def _umap(config: ProjectionConfig, **options):
    import umap  # lazy: importing it and the first fit compile numba code for tens of seconds

    # n_jobs=1 is what a random_state implies anyway (reproducible, single-threaded); saying so avoids
    # UMAP's warning that it overrode n_jobs.
    return umap.UMAP(n_components=2, n_neighbors=config.n_neighbors, min_dist=config.min_dist,
                     random_state=config.seed, transform_seed=config.seed, n_jobs=1, **options)


def fit_projection(latents, config: ProjectionConfig = ProjectionConfig(), extra=None,
                   extra_name: str = "extra points", fit_max: int = UMAP_FIT_MAX) -> Projection:
    """Fit one map to 2-D on latents (N, d) ∪ extra (M, d), so overlays are placed consistently.

    ``extra``: points to overlay (prior samples, adversarial latents), fitted jointly with the latents
    (METHOD.md's projection caveat); ``extra_name`` names them in the note. UMAP on more than
    ``fit_max`` points is fitted on a sample (see :data:`UMAP_FIT_MAX`), never silently: the note
    gives its size.
    """
    latents = _points(latents, "latents")
    n, d = latents.shape
    extra = None if extra is None else _points(extra, "extra", d=d)
    data = latents if extra is None else np.vstack([latents, extra])
    method = config.resolve(d)
    mean = components = umap_model = None
    if method == "identity":
        placed, how = data, "the latents themselves (d = 2)"
    elif method == "pca":
        if d < 2 or len(data) < 2:
            raise ArgumentError(f"PCA to 2-D needs d >= 2 and at least 2 points, got {len(data)} points, d = {d}")
        from sklearn.decomposition import PCA  # here: importing scikit-learn takes a second

        pca = PCA(n_components=2, random_state=config.seed).fit(data)
        mean, components = pca.mean_, pca.components_
        placed = (data - mean) @ components.T
        how = f"PCA ({pca.explained_variance_ratio_.sum():.0%} of the variance)"
    else:
        if len(data) <= config.n_neighbors:
            raise ArgumentError(f"UMAP with n_neighbors={config.n_neighbors} needs more than that many points, "
                                f"got {len(data)}")
        umap_model = _umap(config)
        how = f"UMAP (n_neighbors={config.n_neighbors}, min_dist={config.min_dist}, seed {config.seed})"
        if len(data) <= fit_max:
            placed = umap_model.fit_transform(data).astype(np.float64)
        else:
            placed, sample = _sampled_umap(umap_model, latents, extra, fit_max, config.seed)
            return Projection(
                points=placed[:n], extra_points=None if extra is None else placed[n:], method=method, d=d,
                note=f"{how} fitted on a random sample of {sample:,} of the {n:,} latents"
                     + ("" if extra is None else f" and the {len(extra)} {extra_name}")
                     + f"; the other {n - sample:,} latents placed by its transform",
                umap_model=umap_model)
    if extra is None:
        note = how if method == "identity" else f"{how} fitted on {n} latents"
    elif method == "identity":
        note = f"{how}, with the {len(extra)} {extra_name} in the same coordinates"
    else:
        note = f"{how} fitted jointly on {n} latents and {len(extra)} {extra_name}"
    return Projection(points=placed[:n], extra_points=None if extra is None else placed[n:], method=method,
                      d=d, note=note, mean=mean, components=components, umap_model=umap_model)


def default_cache_dir() -> Path:
    """``$EXPLORER_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/vc-explorer/projections`` (default ``~/.cache/...``)."""
    return user_folder("EXPLORER_CACHE_DIR", "projections")


def _sampled_umap(umap_model, latents: np.ndarray, extra: np.ndarray | None, fit_max: int,
                  seed: int) -> tuple[np.ndarray, int]:
    """Fit ``umap_model`` on a seeded sample of the latents and every extra point, place the rest with
    its transform; (N + M, 2) in the order latents, extra, and the sample's size."""
    n_extra = 0 if extra is None else len(extra)
    if fit_max <= n_extra + umap_model.n_neighbors:
        raise ArgumentError(f"a UMAP sample of {fit_max} points leaves too few latents beside the {n_extra} "
                            f"extra points (n_neighbors={umap_model.n_neighbors})")
    n = len(latents)
    chosen = np.zeros(n, dtype=bool)
    chosen[np.random.default_rng(seed).choice(n, fit_max - n_extra, replace=False)] = True
    fitted = latents[chosen] if extra is None else np.vstack([latents[chosen], extra])
    placed_fit = umap_model.fit_transform(fitted).astype(np.float64)
    points = np.empty((n, 2))
    points[chosen] = placed_fit[: chosen.sum()]
    points[~chosen] = umap_model.transform(latents[~chosen]).astype(np.float64)
    return (points if extra is None else np.vstack([points, placed_fit[chosen.sum():]])), int(chosen.sum())


def _cache_key(latents: np.ndarray, extra: np.ndarray | None, config: ProjectionConfig, extra_name: str,
               key: str | None) -> str:
    digest = hashlib.sha256(repr((CACHE_FORMAT, dataclasses.astuple(config), extra_name, key)).encode())
    if key is None:  # the inputs identify themselves by their bytes
        for array in (latents, extra):
            if array is not None:
                digest.update(repr(array.shape).encode())  # the bytes alone do not tell (4, 2) from (2, 4)
                digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def _load(path: Path) -> Projection | None:
    try:
        with np.load(path, allow_pickle=False) as f:
            return Projection(
                points=f["points"], extra_points=f["extra_points"] if "extra_points" in f else None,
                method=str(f["method"]), d=int(f["d"]), note=str(f["note"]),
                mean=f["mean"] if "mean" in f else None, components=f["components"] if "components" in f else None,
            )
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as error:
        warnings.warn(f"ignoring unreadable projection cache file {path}: {error}", stacklevel=3)
        return None


def load_projection(path: str | os.PathLike) -> Projection:
    """A projection written by :func:`save_projection` (or held in a projection cache)."""
    projection = _load(Path(path))
    if projection is None:
        raise ArgumentError(f"{path} is not a readable projection file")
    return projection


def save_projection(projection: Projection, path: str | os.PathLike, **more: np.ndarray) -> None:
    """Write ``projection`` to the ``.npz`` file ``path`` atomically (no pickle): the fields
    :func:`load_projection` reads back, without a UMAP object, and ``more`` beside them (e.g. the
    points' ``labels``)."""
    arrays = {**more, "points": projection.points, "method": np.array(projection.method),
              "d": np.array(projection.d), "note": np.array(projection.note)}
    optional = {"extra_points": projection.extra_points, "mean": projection.mean, "components": projection.components}
    arrays.update({k: v for k, v in optional.items() if v is not None})
    # A reader (another session, a crash) never sees a half-written file; the cache stays the user's.
    with atomic_write(path, mode=0o600) as f:
        np.savez(f, **arrays)


def cached_projection(latents, config: ProjectionConfig = ProjectionConfig(), extra=None,
                      cache_dir: str | os.PathLike | None = None, extra_name: str = "extra points",
                      key: str | None = None, read_only_dirs: Sequence[str | os.PathLike] = (),
                      fit: Callable[..., Projection] | None = None) -> Projection:
    """:func:`fit_projection`, remembered on disk under ``cache_dir`` (default :func:`default_cache_dir`).

    Keyed by a SHA-256 of the config, ``extra_name`` and either ``key``, a caller's name for the
    inputs (e.g. a checkpoint's digest and the seed that drew its points), or else the inputs' shapes
    and float64 bytes. ``read_only_dirs`` are searched first and never written (projections shipped
    with the checkpoints). Stores an ``.npz`` of the points, the note and, for PCA, the map (so
    ``transform`` stays exact), written atomically. The UMAP object itself is not stored (it would
    need a pickle, and loading a pickle runs code), so a UMAP projection from here never has
    ``transform``, whether or not the cache was hit: call :func:`fit_projection` when new points must
    be placed later. ``fit``: called as ``fit(latents, config, extra, extra_name)`` on a cache miss
    (default :func:`fit_projection`), e.g. to fit in another process.
    """
    latents = _points(latents, "latents")
    extra = None if extra is None else _points(extra, "extra", d=latents.shape[1])
    name = f"{_cache_key(latents, extra, config, extra_name, key)}.npz"
    cache_dir = Path(cache_dir or default_cache_dir())
    for folder in (*map(Path, read_only_dirs), cache_dir):
        path = folder / name
        if path.exists() and (projection := _load(path)) is not None:
            if _fits(projection, latents, extra):
                logger.debug("projection cache hit: %s", path)
                return projection
            warnings.warn(f"ignoring projection cache file {path}: it holds a different number of points",
                          stacklevel=2)
    projection = dataclasses.replace((fit or fit_projection)(latents, config, extra, extra_name), umap_model=None)
    save_projection(projection, cache_dir / name)
    logger.debug("projection cached: %s", cache_dir / name)
    return projection


def _fits(projection: Projection, latents: np.ndarray, extra: np.ndarray | None) -> bool:
    n_extra = None if extra is None else len(extra)
    got_extra = None if projection.extra_points is None else len(projection.extra_points)
    return len(projection.points) == len(latents) and got_extra == n_extra and projection.d == latents.shape[1]


def fit_without_model(latents, config: ProjectionConfig = ProjectionConfig(), extra=None,
                      extra_name: str = "extra points") -> Projection:
    """:func:`fit_projection` without the fitted UMAP object: what another process sends back."""
    return dataclasses.replace(fit_projection(latents, config, extra, extra_name), umap_model=None)


@functools.cache
def warm_up_umap(large_data: bool = True) -> None:
    """Import umap and fit and transform a tiny random dataset, so the numba compilation is paid now.

    Call it off the request path (a background thread at app start); later calls return at once.
    UMAP takes another code path, nearest-neighbour descent, from 4096 points on; ``large_data``
    compiles that one too (a minute or more on the first run, less once numba's disk cache is warm).
    """
    x = np.random.default_rng(0).normal(size=(64, 4))
    config = ProjectionConfig(method="umap", n_neighbors=5)
    for approximate in (False, True) if large_data else (False,):
        _umap(config, force_approximation_algorithm=approximate).fit(x).transform(x[:4])


__all__ = [
    "Projection", "UMAP_FIT_MAX", "cached_projection", "default_cache_dir", "fit_projection", "fit_without_model",
    "load_projection", "save_projection", "warm_up_umap",
]
