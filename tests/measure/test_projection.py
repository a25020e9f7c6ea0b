"""Tests for explorer.measure.projection: identity, PCA and UMAP maps, joint fits, and the disk cache."""

import numpy as np
import pytest
import torch
from scipy.spatial.distance import pdist
from sklearn.manifold import trustworthiness

from explorer.core.errors import ArgumentError
from explorer.measure import projection as proj
from explorer.measure.projection import ProjectionConfig, cached_projection, fit_projection

PCA = ProjectionConfig(method="pca")


def gaussian(n, d, seed=0, shift=0.0):
    return np.random.default_rng(seed).normal(size=(n, d)) + shift


@pytest.mark.parametrize("bad, match", [
    ({"method": "tsne"}, "unknown projection method 'tsne'"),
    ({"n_neighbors": 1}, "n_neighbors"),
    ({"min_dist": 1.5}, "min_dist"),
    ({"seed": -1}, "seed"),
])
def test_config_validation(bad, match):
    with pytest.raises(ValueError, match=match):
        ProjectionConfig(**bad)


def test_auto_is_identity_for_d2_and_pca_otherwise():
    assert ProjectionConfig().resolve(2) == "identity"
    assert ProjectionConfig().resolve(16) == "pca"
    with pytest.raises(ValueError, match="'identity' needs d = 2, got d = 3"):
        ProjectionConfig(method="identity").resolve(3)


def test_identity_returns_the_latents_exactly():
    latents, extra = gaussian(30, 2), gaussian(5, 2, seed=1)
    p = fit_projection(torch.as_tensor(latents), extra=extra, extra_name="prior samples")
    assert p.method == "identity"
    np.testing.assert_array_equal(p.points, latents)
    np.testing.assert_array_equal(p.extra_points, extra)
    np.testing.assert_array_equal(p.transform(extra), extra)
    assert p.note == "the latents themselves (d = 2), with the 5 prior samples in the same coordinates"


def test_pca_of_a_plane_preserves_distances():
    rng = np.random.default_rng(0)
    basis, _ = np.linalg.qr(rng.normal(size=(5, 2)))  # orthonormal columns spanning a plane in R^5
    data = rng.normal(size=(50, 2)) * [3.0, 1.0] @ basis.T + rng.normal(size=5)
    p = fit_projection(data, ProjectionConfig())  # auto: d = 5 → PCA
    assert p.method == "pca" and p.points.shape == (50, 2) and p.extra_points is None
    np.testing.assert_allclose(pdist(p.points), pdist(data), rtol=0, atol=1e-9)
    assert p.note == "PCA (100% of the variance) fitted on 50 latents"


def test_joint_fit_places_extra_points_by_the_same_map():
    latents, extra = gaussian(60, 5), gaussian(20, 5, seed=1, shift=[4.0, 0, 0, 0, 0])
    p = fit_projection(latents, PCA, extra=extra, extra_name="prior samples")
    assert p.extra_points.shape == (20, 2)
    np.testing.assert_allclose(p.extra_points, p.transform(extra), atol=1e-12)
    np.testing.assert_allclose(p.points, p.transform(latents), atol=1e-12)
    assert p.note.endswith("fitted jointly on 60 latents and 20 prior samples")
    # The extra points shaped the map: fitting the latents alone gives another one.
    assert not np.allclose(fit_projection(latents, PCA).points, p.points)


def test_pca_is_deterministic_and_validates_inputs():
    latents = gaussian(40, 8)
    np.testing.assert_array_equal(fit_projection(latents, PCA).points, fit_projection(latents, PCA).points)
    with pytest.raises(ValueError, match="latents must be finite, got nan"):
        fit_projection(np.full((3, 4), np.nan), PCA)
    with pytest.raises(ValueError, match=r"extra must have shape \(N, 8\), got \(3, 7\)"):
        fit_projection(latents, PCA, extra=gaussian(3, 7))
    with pytest.raises(ValueError, match=r"new must have shape \(N, 8\), got \(3, 2\)"):
        fit_projection(latents, PCA).transform(gaussian(3, 2))


@pytest.fixture
def fit_spy(monkeypatch):
    calls = []

    def spy(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    real = proj.fit_projection
    monkeypatch.setattr(proj, "fit_projection", spy)
    return calls


def test_cache_hit_returns_the_same_projection_without_refitting(tmp_path, fit_spy):
    latents, extra = gaussian(50, 6), gaussian(10, 6, seed=1)
    first = cached_projection(latents, PCA, extra, cache_dir=tmp_path, extra_name="prior samples")
    second = cached_projection(latents, PCA, extra, cache_dir=tmp_path, extra_name="prior samples")
    assert len(fit_spy) == 1
    for name in ("points", "extra_points", "mean", "components"):
        np.testing.assert_array_equal(getattr(second, name), getattr(first, name))
    assert (second.method, second.d, second.note) == (first.method, first.d, first.note)
    np.testing.assert_array_equal(second.transform(extra), first.transform(extra))  # PCA stays exact
    # One file, written through a temporary file that was renamed into place: none left behind.
    assert [f.suffix for f in tmp_path.iterdir()] == [".npz"]
    cached_projection(latents, ProjectionConfig(method="pca", seed=1), extra, cache_dir=tmp_path)
    assert len(fit_spy) == 2 and len(list(tmp_path.iterdir())) == 2


def test_cache_defaults_to_the_environment_and_refits_a_corrupt_file(tmp_path, monkeypatch, fit_spy):
    monkeypatch.setenv("EXPLORER_CACHE_DIR", str(tmp_path))
    latents = gaussian(20, 3)
    cached_projection(latents, PCA)
    [path] = tmp_path.iterdir()
    path.write_bytes(b"not an npz file")
    with pytest.warns(UserWarning, match="unreadable projection cache file"):
        cached_projection(latents, PCA)
    assert len(fit_spy) == 2
    assert cached_projection(latents, PCA).points.shape == (20, 2) and len(fit_spy) == 2


def test_a_key_names_the_inputs_and_read_only_folders_are_searched_first(tmp_path, fit_spy):
    shipped, cache = tmp_path / "shipped", tmp_path / "cache"
    latents = gaussian(30, 4)
    first = cached_projection(latents, PCA, cache_dir=shipped, key="model-1")
    # The same key finds the file though the latents differ in the last bits (another machine).
    nudged = latents + 1e-12
    again = cached_projection(nudged, PCA, cache_dir=cache, key="model-1", read_only_dirs=[shipped])
    assert len(fit_spy) == 1 and not cache.exists()  # found in the read-only folder, nothing written
    np.testing.assert_array_equal(again.points, first.points)
    cached_projection(nudged, PCA, cache_dir=cache, key="model-2", read_only_dirs=[shipped])
    assert len(fit_spy) == 2 and len(list(cache.iterdir())) == 1 and len(list(shipped.iterdir())) == 1


def test_a_cached_file_with_other_points_is_ignored(tmp_path, fit_spy):
    cached_projection(gaussian(30, 4), PCA, cache_dir=tmp_path, key="model")
    with pytest.warns(UserWarning, match="different number of points"):
        refit = cached_projection(gaussian(40, 4), PCA, cache_dir=tmp_path, key="model")
    assert refit.points.shape == (40, 2) and len(fit_spy) == 2


def test_failed_cache_write_leaves_no_file(tmp_path, monkeypatch):
    def broken_savez(file, **arrays):
        file.write(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(proj.np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        cached_projection(gaussian(20, 3), PCA, cache_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


# UMAP: one compiled process-wide fit is expensive (numba), later fits take a fraction of a second.
CLUSTERS = 3


@pytest.fixture(scope="module")
def umap_fits(tmp_path_factory):
    """Three well-separated clusters of 100 points in R^10, fitted twice with seed 0 and once via the cache."""
    centres = 10.0 * np.eye(CLUSTERS, 10)
    labels = np.repeat(np.arange(CLUSTERS), 100)
    data = centres[labels] + gaussian(len(labels), 10)
    config = ProjectionConfig(method="umap", n_neighbors=10, seed=0)
    fits = [fit_projection(data, config) for _ in range(2)]
    cached = cached_projection(data, config, cache_dir=tmp_path_factory.mktemp("cache"))
    return data, labels, centres, fits, cached


def test_umap_is_deterministic_and_keeps_clusters_apart(umap_fits):
    data, labels, _, (first, second), _ = umap_fits
    assert first.method == "umap" and first.points.shape == (300, 2)
    assert first.note == "UMAP (n_neighbors=10, min_dist=0.1, seed 0) fitted on 300 latents"
    np.testing.assert_array_equal(first.points, second.points)
    assert trustworthiness(data, first.points, n_neighbors=10) > 0.9
    centroids = np.stack([first.points[labels == k].mean(axis=0) for k in range(CLUSTERS)])
    nearest = np.linalg.norm(first.points[:, None] - centroids, axis=2).argmin(axis=1)
    np.testing.assert_array_equal(nearest, labels)


def test_umap_transform_places_new_points_near_their_cluster(umap_fits):
    _, labels, centres, (first, _), _ = umap_fits
    new = centres[1] + gaussian(5, 10, seed=2)
    placed = first.transform(new)
    centroids = np.stack([first.points[labels == k].mean(axis=0) for k in range(CLUSTERS)])
    assert (np.linalg.norm(placed[:, None] - centroids, axis=2).argmin(axis=1) == 1).all()


def test_umap_beyond_its_fit_size_fits_a_stated_sample_and_transforms_the_rest(umap_fits):
    data, labels, centres, _, _ = umap_fits
    extra = centres + gaussian(CLUSTERS, 10, seed=3)  # one extra point per cluster, always fitted
    config = ProjectionConfig(method="umap", n_neighbors=10, seed=0)
    sampled = fit_projection(data, config, extra=extra, extra_name="prior samples", fit_max=150)
    assert sampled.points.shape == (300, 2) and sampled.extra_points.shape == (CLUSTERS, 2)
    assert sampled.note == ("UMAP (n_neighbors=10, min_dist=0.1, seed 0) fitted on a random sample of 147 of the "
                            "300 latents and the 3 prior samples; the other 153 latents placed by its transform")
    centroids = np.stack([sampled.points[labels == k].mean(axis=0) for k in range(CLUSTERS)])
    nearest = np.linalg.norm(sampled.points[:, None] - centroids, axis=2).argmin(axis=1)
    np.testing.assert_array_equal(nearest, labels)  # transformed points land in their cluster too
    placed_extra = np.linalg.norm(sampled.extra_points[:, None] - centroids, axis=2).argmin(axis=1)
    np.testing.assert_array_equal(placed_extra, np.arange(CLUSTERS))
    again = fit_projection(data, config, extra=extra, extra_name="prior samples", fit_max=150)
    np.testing.assert_array_equal(again.points, sampled.points)  # the sample is seeded
    with pytest.raises(ArgumentError, match="too few latents"):
        fit_projection(data, config, extra=extra, fit_max=12)


def test_pca_never_samples():
    data = gaussian(500, 4)
    assert fit_projection(data, PCA, fit_max=10).note.startswith("PCA") and "sample" not in \
        fit_projection(data, PCA, fit_max=10).note


def test_cached_umap_has_the_points_but_no_transform(umap_fits):
    data, _, _, (first, _), cached = umap_fits
    np.testing.assert_array_equal(cached.points, first.points)
    with pytest.raises(RuntimeError, match="needs a fresh fit_projection"):
        cached.transform(data[:3])
