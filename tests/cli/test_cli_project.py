"""``project``: a checkpoint's latent map as the Latent space page reads it, every latent of an array or a
bundle into a map file, and files it cannot map refused before any work."""

import pytest

from explorer.cli import main
from explorer.core.checkpoints import SHIPPED_DIR


def test_project_writes_the_maps_the_latent_page_reads(tmp_path, capsys):
    d16, d2 = SHIPPED_DIR / "digits-mlp-d16-vc.pt", SHIPPED_DIR / "digits-mlp-d2-vc.pt"
    assert main(["project", str(d16), str(d2), "--method", "pca", "--out-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "PCA" in out and "fitted jointly on 450 latents and 600 prior samples" in out
    assert "d = 2, drawn as it is" in out
    assert len(list(tmp_path.glob("*.npz"))) == 1


def test_project_maps_every_latent_of_an_array_or_a_bundle(tmp_path, capsys, logistic_bundle):
    import numpy as np

    from explorer.measure.projection import load_projection

    bundle = logistic_bundle[0] / "full.npz"
    latents = np.random.default_rng(0).normal(size=(5000, 8))
    np.save(tmp_path / "big.npy", latents)
    assert main(["project", str(tmp_path / "big.npy"), str(bundle), "--method", "pca",
                 "--out-dir", str(tmp_path / "maps")]) == 0
    out = capsys.readouterr().out
    assert "big.npy: 5,000 latents, d = 8: PCA" in out and "peak memory" in out
    placed = load_projection(tmp_path / "maps" / "big-pca.npz")
    assert placed.points.shape == (5000, 2) and placed.d == 8
    with np.load(tmp_path / "maps" / "full-pca.npz") as f:  # a bundle's labels travel
        assert len(f["labels"]) == len(f["points"])


def test_project_refuses_latent_files_it_cannot_map(tmp_path, capsys):
    import numpy as np

    np.save(tmp_path / "flat.npy", np.zeros(10))
    assert main(["project", str(tmp_path / "flat.npy"), "--method", "pca", "--out-dir", str(tmp_path)]) == 1
    assert "shape (10,); latents are (N, d) with d >= 2" in capsys.readouterr().err
    (tmp_path / "junk.npy").write_bytes(b"no array")
    assert main(["project", str(tmp_path / "junk.npy"), "--out-dir", str(tmp_path)]) == 1
    assert "is not a readable .npy array" in capsys.readouterr().err


def test_project_refuses_a_bad_file_before_any_work(tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    assert main(["project", str(SHIPPED_DIR / "digits-mlp-d16-vc.pt"), str(bad), "--out-dir", str(tmp_path)]) == 1
    assert "error" in capsys.readouterr().err and not list(tmp_path.glob("*.npz"))


# ---------------------------------------------------------------------------------------------------
# Predictions bundles: evaluate FILE.npz, and export


def test_project_help_is_the_configs_own(capsys, monkeypatch):
    from explorer.core.config import ProjectionConfig, help_of

    monkeypatch.setenv("COLUMNS", "10000")  # no wrapping: argparse may break a line at a hyphen
    with pytest.raises(SystemExit):
        main(["project", "--help"])
    out = capsys.readouterr().out
    for name in ("method", "n_neighbors", "min_dist", "seed"):
        assert help_of(ProjectionConfig, name) in out, name
    assert f"{help_of(ProjectionConfig, 'method')} (default: umap)" in out
    assert f"{help_of(ProjectionConfig, 'n_neighbors')} (default: 15)" in out
