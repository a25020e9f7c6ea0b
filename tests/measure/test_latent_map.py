"""Tests for explorer.measure.latent_map: the drawn points, the projection keyed by the checkpoint, and the
projections shipped with the checkpoints (so no page waits for UMAP on a shipped model)."""

import numpy as np
import pytest

from explorer.core._io import file_digest
from explorer.core.checkpoints import SHIPPED_DIR, load_checkpoint
from explorer.core.data import load_dataset
from explorer.measure import projection as proj
from explorer.measure.inference import predict
from explorer.measure.latent_map import PRIOR_PER_CLASS, SHIPPED_PROJECTIONS, latent_map
from explorer.measure.latents import checkpoint_reference
from explorer.measure.projection import ProjectionConfig

PCA = ProjectionConfig(method="pca")
SHIPPED_D16 = sorted(p for p in SHIPPED_DIR.glob("*.pt") if "-d2-" not in p.name)


@pytest.fixture
def no_fitting(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a projection was fitted")

    monkeypatch.setattr(proj, "fit_projection", refuse)


def test_latent_map_places_drawn_latents_and_prior_samples_and_caches_them(tmp_path, monkeypatch):
    net, _ = load_checkpoint(SHIPPED_DIR / "digits-mlp-d16-vc.pt")
    test = load_dataset("digits", "test")
    _, z = predict(net, test.x)
    first = latent_map(net, z.numpy(), "digest", PCA, seed=0, cache_dir=tmp_path, shipped_dir=None)
    assert first.projection.points.shape == (len(test.y), 2)
    assert first.projection.extra_points.shape == (10 * PRIOR_PER_CLASS, 2)
    np.testing.assert_array_equal(first.prior_labels, np.repeat(np.arange(10), PRIOR_PER_CLASS))
    assert "prior samples" in first.projection.note

    monkeypatch.setattr(proj, "fit_projection", lambda *a, **k: pytest.fail("refitted a cached map"))
    again = latent_map(net, z.numpy(), "digest", PCA, seed=0, cache_dir=tmp_path, shipped_dir=None)
    np.testing.assert_array_equal(again.projection.points, first.projection.points)


@pytest.mark.parametrize("path", SHIPPED_D16, ids=lambda p: p.stem)
def test_every_shipped_d16_checkpoint_has_its_umap_map_shipped(path, tmp_path, request, monkeypatch, no_fitting):
    net, meta = load_checkpoint(path)
    if meta["dataset"] != "digits":
        monkeypatch.setenv("EXPLORER_DATA_DIR", str(request.getfixturevalue("data_copy")))
    test = load_dataset(meta["dataset"], "test")
    _, z = predict(net, test.x)
    gaussians = checkpoint_reference(net, meta, test=test)  # for softmax: the member the app draws
    placed = latent_map(gaussians, z.numpy(), file_digest(path), ProjectionConfig(method="umap"), seed=0,
                        cache_dir=tmp_path / "cache")
    assert placed.projection.method == "umap" and len(placed.projection.points) == len(placed.keep)
    assert not (tmp_path / "cache").exists()


def test_shipped_projections_belong_to_shipped_checkpoints():
    # Every file in checkpoints/projections is reachable: 1 UMAP map per d > 2 checkpoint, no strays.
    assert len(list(SHIPPED_PROJECTIONS.glob("*.npz"))) == len(SHIPPED_D16)


def test_latents_without_gaussians_are_placed_alone(tmp_path):
    import numpy as np

    from explorer.core.config import ProjectionConfig
    from explorer.measure.latent_map import latent_map

    latents = np.random.default_rng(0).normal(size=(50, 5))
    placed = latent_map(None, latents, "bundle", ProjectionConfig(method="pca"), 0, cache_dir=tmp_path)
    assert placed.projection.points.shape == (50, 2) and placed.projection.extra_points is None
    assert len(placed.prior_labels) == 0
