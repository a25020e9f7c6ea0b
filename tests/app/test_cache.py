"""The app's caches (explorer/app/cache.py): a function of a checkpoint file is cached per file version."""

import os
import shutil

import numpy as np
import pytest

from explorer.app import cache
from explorer.core.checkpoints import SHIPPED_DIR

pytestmark = pytest.mark.usefixtures("fresh_app")


def test_a_checkpoint_is_read_once_and_again_when_the_file_changes(tmp_path):
    path = tmp_path / "model.pt"
    shutil.copy(SHIPPED_DIR / "digits-mlp-d2-softmax.pt", path)
    first, _ = cache.model(path)
    logits = cache.outputs(path, "digits")["logits"]
    assert cache.model(str(path))[0] is first  # the same file version: the cached object
    assert cache.outputs(path, "digits")["logits"] is logits

    shutil.copy(SHIPPED_DIR / "digits-mlp-d2-vc.pt", path)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # a later modification time
    second, meta = cache.model(path)
    assert second is not first and meta["method"] == "vc"
    assert not np.array_equal(cache.outputs(path, "digits")["logits"], logits)  # outputs follow the file

    cache.model.clear()
    assert cache.model(path)[0] is not second


def test_the_results_report_is_read_once_and_again_when_the_file_changes(tmp_path, monkeypatch):
    from explorer.core._io import SHIPPED_RESULTS

    path = tmp_path / "results.json"
    shutil.copy(SHIPPED_RESULTS, path)
    monkeypatch.setattr(cache, "SHIPPED_RESULTS", path)
    first = cache.shipped_results()
    assert first is not None and cache.shipped_results() is first  # the same file version: the cached object

    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # a later modification time
    second = cache.shipped_results()
    assert second is not first and second.suites == first.suites

    path.unlink()
    assert cache.shipped_results() is None  # no report: the lesson quotes none


def test_a_low_data_point_trains_the_checkpoints_own_configuration_with_the_seed_given(monkeypatch):
    import dataclasses

    from explorer.core.checkpoints import train_config_of

    calls = []
    monkeypatch.setattr(cache, "low_data_run", lambda train, test, m, t, f, callback:
                        calls.append((m, t, f, callback)) or {"accuracy": 0.5, "ece": 0.1})
    path = SHIPPED_DIR / "digits-mlp-d2-vc-released.pt"
    progress = []
    assert cache.low_data_point(path, 0.05, 7, _progress=progress.append) == {"accuracy": 0.5, "ece": 0.1}
    assert cache.low_data_point(path, 0.05, 7, _progress=None)["ece"] == 0.1  # the callback is not in the key
    ((model_config, config, fraction, callback),) = calls
    net, meta = cache.model(path)
    assert model_config == net.config and fraction == 0.05 and callback == progress.append
    assert config == dataclasses.replace(train_config_of(meta), seed=7) and config.objective == "released"


def _toy_map(path, k: int):
    """A figure of a file and an array beside it, as a view's figure function returns them."""
    import plotly.graph_objects as go

    _toy_map.built += 1
    return go.Figure(go.Scatter(y=[k, len(path.name)])), np.arange(3)


_toy_map.built = 0
toy_map = cache.shared_figure_of_file(_toy_map)


def test_the_local_and_gaussian_gaps_are_read_only_for_every_session():
    path = SHIPPED_DIR / "digits-mlp-d2-softmax.pt"
    local = cache.local_gap(path, "digits")
    for array in (local.gap, local.se, local.effective_n, local.null_low, local.null_high):
        assert not array.flags.writeable
    gap = cache.gaussian_gap(path, "digits")
    assert not gap.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        gap[0] = 1.0


def test_the_class_prior_is_counted_on_the_training_labels_where_there_are_some(tmp_path):
    from explorer.core.bundles import save_bundle

    path = SHIPPED_DIR / "digits-mlp-d2-softmax.pt"
    frequencies, words = cache.class_frequencies(path, "digits")
    train = cache.train_split("digits").y.numpy()
    np.testing.assert_allclose(frequencies, np.bincount(train, minlength=10) / len(train))
    assert words == "the training split's"
    rng = np.random.default_rng(0)
    logits, labels, held_out = rng.normal(size=(40, 3)), np.arange(40) % 3, np.array([0, 0, 0, 1])
    save_bundle(tmp_path / "held.npz", logits=logits, labels=labels, val_logits=logits[:4], val_labels=held_out)
    save_bundle(tmp_path / "bare.npz", logits=logits, labels=labels)
    frequencies, words = cache.class_frequencies(tmp_path / "held.npz", "own data")
    np.testing.assert_allclose(frequencies, [0.75, 0.25, 0.0])
    assert "validation" in words
    frequencies, words = cache.class_frequencies(tmp_path / "bare.npz", "own data")
    np.testing.assert_allclose(frequencies, [14 / 40, 13 / 40, 13 / 40])
    assert "test split's (the bundle has no val_labels)" in words


def test_a_figure_of_a_file_is_built_once_shared_prepared_and_built_again_when_the_file_changes(tmp_path):
    from explorer.figures.prepared import Prepared

    path = tmp_path / "model.pt"
    path.write_bytes(b"one")
    figure, rows = toy_map(path, 1)
    assert isinstance(figure, Prepared) and not rows.flags.writeable  # shared: nobody may change them
    built = _toy_map.built
    assert toy_map(str(path), 1)[0] is figure and _toy_map.built == built  # every session gets the same one
    assert toy_map(path, 2)[0] is not figure  # other settings: another figure

    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # a later modification time
    assert toy_map(path, 1)[0] is not figure


def test_a_figure_of_arrays_is_keyed_by_their_values():
    import plotly.graph_objects as go

    made = []
    shared = cache.shared_figure(lambda values: made.append(1) or go.Figure(go.Bar(y=values)))
    first = shared(np.array([1.0, 2.0]))
    assert shared(np.array([1.0, 2.0])) is first and len(made) == 1
    assert shared(np.array([1.0, 3.0])) is not first


def test_the_ood_scores_and_latents_share_one_run_of_the_model_and_are_read_only(monkeypatch):
    from explorer.measure import ood
    from explorer.measure.inference import predict

    runs = []
    for home in (cache, ood):  # wherever the model would be run
        monkeypatch.setattr(home, "predict", lambda *a: runs.append(1) or predict(*a))
    path, seed = SHIPPED_DIR / "digits-mlp-d2-vc.pt", 12345  # a seed no other test draws: nothing cached yet
    compared = cache.ood(path, "digits", 60, seed)
    z_in, labels, z_out = cache.ood_latents(path, "digits", 60, seed)
    assert len(runs) == 2  # one run a side, for the scores and the latents alike
    assert z_in.shape == z_out.shape == (60, 2) and labels.shape == (60,)
    arrays = [z_in, labels, z_out, *(r[side] for r in compared.values() for side in ("in", "out"))]
    assert not any(a.flags.writeable for a in arrays)  # shared by every session: nobody may change them
    net, _ = cache.model(path)
    direct = ood.ood_comparison(net, *cache._ood_inputs(net, "digits", 60, seed), cache.gaussians(path))
    for name, result in direct.items():  # the same scores as the model run on the inputs afresh
        np.testing.assert_allclose(compared[name]["in"], result["in"], rtol=1e-5)
        np.testing.assert_allclose(compared[name]["out"], result["out"], rtol=1e-5)


def test_the_shared_conformal_predictor_cannot_be_changed():
    predictor = cache.conformal(SHIPPED_DIR / "digits-mlp-d2-vc.pt", 0.1, "aps")
    assert cache.conformal(SHIPPED_DIR / "digits-mlp-d2-vc.pt", 0.1, "aps") is predictor  # one, shared
    with pytest.raises(ValueError, match="read-only"):
        predictor.threshold[...] = np.inf
