"""Predictions bundles: plain arrays in, the same arrays out, every bad field named, no code run."""

from pathlib import Path

import numpy as np
import pytest
import torch

from explorer import load_bundle, save_bundle
from explorer.core.bundles import check_bundle, is_bundle_path
from explorer.core.errors import BundleError


def arrays(n=6, k=3, d=2, seed=0):
    rng = np.random.default_rng(seed)
    return {"logits": rng.normal(size=(n, k)), "labels": np.arange(n) % k, "latents": rng.normal(size=(n, d)),
            "weight": rng.normal(size=(k, d)), "bias": rng.normal(size=k),
            "class_names": np.array(["cat", "dog", "eel"]), "images": rng.uniform(size=(n, 4, 4)),
            "val_logits": rng.normal(size=(4, k)), "val_labels": np.array([0, 1, 2, 0]),
            "ood_logits": rng.normal(size=(5, k)), "ood_latents": rng.normal(size=(5, d))}


def test_a_saved_bundle_loads_back_field_for_field(tmp_path):
    given = arrays()
    save_bundle(tmp_path / "b.npz", **given)
    bundle = load_bundle(tmp_path / "b.npz")
    assert set(bundle.arrays()) == set(given) and bundle.num_classes == 3
    for name, value in given.items():
        np.testing.assert_allclose(bundle.arrays()[name], value, rtol=1e-6) if value.dtype.kind == "f" else \
            np.testing.assert_array_equal(bundle.arrays()[name], value)
    minimal = save_bundle(tmp_path / "m.npz", logits=given["logits"], labels=given["labels"])
    assert minimal.latents is None and load_bundle(tmp_path / "m.npz").images is None


@pytest.mark.parametrize("change, message", [
    ({"extra": np.zeros(3)}, "unknown field"),
    ({"labels": None}, "needs labels"),
    ({"bias": None}, "weight and bias come together"),
    ({"val_labels": None}, "val_logits and val_labels come together"),
    ({"logits": np.full((6, 3), np.nan)}, "logits has 18 values that are not finite"),
    ({"logits": np.zeros((6, 1))}, "K >= 2"),
    ({"labels": np.array([0, 1, 2, 0, 1, 3])}, r"labels must lie in \[0, 3\)"),
    ({"labels": np.zeros(6)}, "labels must be a 1-D array of integers"),
    ({"labels": np.zeros(5, dtype=int)}, "labels has 5 rows but logits has 6"),
    ({"latents": np.zeros((5, 2))}, "latents has 5 rows"),
    ({"weight": np.zeros((3, 4))}, r"weight must be \(K, d\) = \(3, 2\)"),
    ({"class_names": np.array(["a", "b"])}, "class_names must be 3 strings"),
    ({"images": np.full((6, 4, 4), 2.0)}, r"images must lie in \[0, 1\]"),
    ({"images": np.zeros((6, 16))}, "images must be"),
    ({"val_logits": np.zeros((4, 2))}, "val_logits has 2 classes"),
    ({"ood_latents": np.zeros((5, 3))}, "ood_latents must have as many dimensions"),
])
def test_every_bad_field_is_named(change, message):
    given = {k: v for k, v in {**arrays(), **change}.items() if v is not None}
    with pytest.raises(BundleError, match=message):
        check_bundle(**given)


def test_a_refused_save_leaves_no_file(tmp_path):
    with pytest.raises(BundleError):
        save_bundle(tmp_path / "b.npz", logits=np.zeros((2, 3)), labels=np.array([0, 7]))
    assert list(tmp_path.iterdir()) == []


def test_loading_runs_no_code_and_names_the_file(tmp_path):
    np.savez(tmp_path / "pickled.npz", logits=np.zeros((2, 3)), labels=np.array([0, 1], dtype=object))
    with pytest.raises(BundleError, match="pickled.npz cannot be read without running code"):
        load_bundle(tmp_path / "pickled.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(BundleError, match="junk.npz is not a readable .npz bundle"):
        load_bundle(tmp_path / "junk.npz")
    np.save(tmp_path / "one.npy", np.zeros(3))
    with pytest.raises(BundleError, match="one.npy holds one array"):
        load_bundle(tmp_path / "one.npy")
    np.savez(tmp_path / "bad.npz", logits=np.zeros((2, 3)), labels=np.array([0, 5]))
    with pytest.raises(BundleError, match=r"bad.npz: labels must lie in \[0, 3\)"):
        load_bundle(tmp_path / "bad.npz")
    with pytest.raises(BundleError, match="no bundle at"):
        load_bundle(tmp_path / "missing.npz")


def test_the_linear_head_of_a_bundle_gives_back_its_logits():
    given = arrays()
    given["logits"] = given["latents"] @ given["weight"].T + given["bias"]
    head = check_bundle(**given).linear_head()
    np.testing.assert_allclose(head(torch.from_numpy(given["latents"])).detach().numpy(), given["logits"],
                               rtol=1e-6)
    assert check_bundle(logits=given["logits"], labels=given["labels"]).linear_head() is None


def test_a_bundle_names_the_project_dataset_whose_test_split_it_holds():
    given = {"logits": np.zeros((4, 10)), "labels": np.arange(4)}
    assert check_bundle(**given, dataset="digits").dataset_name == "digits"
    assert check_bundle(**given).dataset_name is None
    with pytest.raises(BundleError, match="dataset must be one of"):
        check_bundle(**given, dataset="imagenet")
    with pytest.raises(BundleError, match="has 10 classes but logits has 3"):
        check_bundle(logits=np.zeros((4, 3)), labels=np.arange(4) % 3, dataset="digits")


@pytest.mark.parametrize("path, bundle", [("b.npz", True), ("runs/B.NPZ", True), ("model.Npz", True),
                                          ("model.pt", False), ("latents.npy", False), ("npz", False)])
def test_a_bundle_is_told_by_its_name_in_any_case(path, bundle):
    assert is_bundle_path(path) is bundle
    assert is_bundle_path(Path(path)) is bundle


def test_the_command_line_the_catalogue_and_the_cache_agree_on_an_upper_case_bundle(tmp_path, monkeypatch,
                                                                                    fresh_app, capsys):
    """``evaluate`` and ``project`` read X.NPZ as a bundle, the catalogue lists it as one, and the app's
    cache refuses to load a model from it."""
    import json

    from explorer.app import cache
    from explorer.cli import main
    from explorer.core.checkpoints import describe
    from explorer.core.errors import ModelNeededError

    path = tmp_path / "X.NPZ"
    save_bundle(path, **arrays(n=30))
    assert main(["evaluate", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == 30
    assert main(["project", str(path), "--method", "pca", "--out-dir", str(tmp_path / "maps")]) == 0
    assert "X.NPZ: 30 latents, d = 2" in capsys.readouterr().out and (tmp_path / "maps" / "X-pca.npz").exists()
    assert describe(path, "uploaded").method == "bundle"
    assert cache.bundle(path).logits.shape == (30, 3)
    with pytest.raises(ModelNeededError):
        cache.model(path)


def test_a_zip_bomb_is_refused_from_its_headers_unread(tmp_path):
    """200 KB of zip declaring 7.5 GiB of float32: refused from the .npy header, nothing decompressed."""
    import time
    import zipfile

    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive, \
            archive.open("logits.npy", "w", force_zip64=True) as member:
        np.lib.format.write_array_header_1_0(member, {"descr": "<f4", "fortran_order": False,
                                                      "shape": (1_000_000_000, 2)})
        for _ in range(200):
            member.write(bytes(1 << 20))  # 200 MiB of zeros compress to ~200 KB
    assert path.stat().st_size < 1_000_000
    started = time.perf_counter()
    with pytest.raises(BundleError, match=r"declares 7\.5 GiB of arrays, more than the 2 GiB"):
        load_bundle(path)
    assert time.perf_counter() - started < 1.0


def test_a_member_that_is_not_an_array_is_refused(tmp_path):
    import zipfile

    path = tmp_path / "odd.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("logits.npy", b"not an array at all")
    with pytest.raises(BundleError, match="member logits.npy is not a plain NumPy array"):
        load_bundle(path)
