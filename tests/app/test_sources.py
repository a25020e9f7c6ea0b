"""Bundles in the app (explorer/app/sources.py and the pages): a bundle as model A beside a project VC
model, a bundle of other data on its own, and the pages that need the model saying so in one line."""

import numpy as np
import pytest
import torch

from explorer.core.bundles import save_bundle
from explorer.core.checkpoints import SHIPPED_DIR, load_checkpoint
from explorer.core.data import OWN_DATA, load_dataset
from explorer.measure.inference import predict
from figure_json import figure_json, texts

pytestmark = pytest.mark.usefixtures("fresh_app")
VC = str(SHIPPED_DIR / "digits-mlp-d2-vc.pt")


def _shared(tmp_path, name: str) -> str:
    folder = tmp_path / "runs" / "shared"
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder / name)


@pytest.fixture
def digits_bundle(tmp_path) -> str:
    """The shipped softmax d = 2 model's outputs on digits' test split, as a user would export them."""
    model, _ = load_checkpoint(SHIPPED_DIR / "digits-mlp-d2-softmax.pt")
    test, train = load_dataset("digits", "test"), load_dataset("digits", "train")
    logits, latents = predict(model, test.x)
    val_logits, _ = predict(model, train.x[:300])
    path = _shared(tmp_path, "theirs.npz")
    save_bundle(path, logits=logits.numpy(), labels=test.y.numpy(), latents=latents.numpy(),
                weight=model.head.linear.weight.detach().numpy(), bias=model.head.linear.bias.detach().numpy(),
                val_logits=val_logits.numpy(), val_labels=train.y[:300].numpy(), dataset="digits")
    return path


@pytest.fixture
def own_bundle(tmp_path) -> str:
    """A scikit-learn classifier of other data (two features of digits), with images and OOD outputs."""
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression

    test, train = load_dataset("digits", "test"), load_dataset("digits", "train")
    pca = PCA(2).fit(train.x.flatten(1).numpy())
    z_train, z_test = pca.transform(train.x.flatten(1).numpy()), pca.transform(test.x.flatten(1).numpy())
    clf = LogisticRegression(max_iter=500).fit(z_train, train.y.numpy())
    noise = np.random.default_rng(0).uniform(0, 1, (100, 64))
    path = _shared(tmp_path, "sklearn.npz")
    save_bundle(path, logits=clf.decision_function(z_test), labels=test.y.numpy(), latents=z_test,
                weight=clf.coef_, bias=clf.intercept_, images=test.x[:, 0].numpy(),
                ood_logits=clf.decision_function(pca.transform(noise)), ood_latents=pca.transform(noise),
                class_names=[f"digit {k}" for k in range(10)])
    return path


def test_a_bundle_is_model_a_beside_a_vc_model_on_every_page(open_page, digits_bundle):
    state = {"model_a": digits_bundle, "model_b": VC}
    app = open_page("latent_space", state=state)
    assert not app.error and len(app.get("plotly_chart")) == 6  # both maps, χ² and norm histograms
    assert "bundle theirs, d = 2" in texts(figure_json(app)) and "Ellipses" in texts(figure_json(app))
    app = open_page("calibration", state=state)
    next(s for s in app.selectbox if s.label == "Recalibration").set_value("temperature").run()
    assert not app.exception and not app.error and "+ temperature scaling" in texts(figure_json(app))
    assert any(c.value.startswith("Fitted on each model's validation split: Model A: T = ") for c in app.caption)
    next(s for s in app.selectbox if s.label == "Corruption").set_value("gaussian_noise").run()
    assert not app.exception and any("corruptions need the model itself" in i.value for i in app.info)
    app = open_page("adversarial", state=state)
    assert not app.exception and any("attacks need the model itself" in i.value for i in app.info)
    assert app.get("plotly_chart")  # model B is still attacked


def _without(bundle: str, tmp_path, name: str, *fields: str) -> str:
    """A copy of ``bundle`` in the shared folder, named ``name``, without ``fields``."""
    from explorer.core.bundles import load_bundle

    arrays = load_bundle(bundle).arrays()
    for field in fields:
        del arrays[field]
    path = _shared(tmp_path, name)
    save_bundle(path, **arrays)
    return path


def test_a_bundle_without_validation_outputs_says_no_recalibration_can_be_fitted(open_page, tmp_path, digits_bundle):
    bare = _without(digits_bundle, tmp_path, "no-val.npz", "val_logits", "val_labels")
    app = open_page("calibration", state={"model_a": bare, "model_b": VC})
    assert not app.exception and not app.error
    next(s for s in app.selectbox if s.label == "Recalibration").set_value("isotonic").run()
    assert not app.exception
    assert any("no-val.npz: the bundle has no val_logits/val_labels" in e.value for e in app.error)


def test_a_bundle_without_its_last_layer_shows_its_latents_alone(open_page, tmp_path, digits_bundle):
    bare = _without(digits_bundle, tmp_path, "bare.npz", "weight", "bias")
    app = open_page("latent_space", state={"model_a": bare, "model_b": VC})
    assert not app.exception
    assert "no class Gaussians to draw" in texts(figure_json(app)).replace("<br>", " ")  # the note wraps
    assert any("no latents with the weight and bias" in e.value for e in app.error)  # its χ² check only


def test_a_bundle_of_other_data_is_listed_under_own_data_with_its_images(open_page, own_bundle):
    app = open_page("latent_space", query={"dataset": OWN_DATA})
    assert app.session_state["model_a"] == own_bundle and not app.error
    app.session_state["selected_index"] = 3
    app.run()
    assert "digit" in texts(figure_json(app)) and any("#3" in c.value for c in app.caption)
    app = open_page("shift", query={"dataset": OWN_DATA})
    assert not app.exception and any("corruptions need the model itself" in i.value for i in app.info)
    app = open_page("shift", query={"dataset": OWN_DATA}, state={"shift_tab": "Out-of-distribution"})
    assert not app.exception and not app.error and len(app.get("plotly_chart")) == 6  # 2 OOD maps, 4 histograms


def test_an_uploaded_bundle_becomes_model_a_and_a_bad_one_leaves_nothing(tmp_path, digits_bundle):
    from types import SimpleNamespace

    from explorer.app.sidebar import _save_upload

    good = open(digits_bundle, "rb").read()
    assert _save_upload(SimpleNamespace(name="again.npz", getvalue=lambda: good)).name == "again.npz"
    assert _save_upload(SimpleNamespace(name="cut.npz", getvalue=lambda: good[: len(good) // 2])) is None
    arrays = dict(np.load(digits_bundle))
    arrays["labels"] = np.roll(arrays["labels"], 1)  # says digits, but not its test split in order
    shuffled = tmp_path / "shuffled.npz"
    np.savez(shuffled, **arrays)
    assert _save_upload(SimpleNamespace(name="shuffled.npz", getvalue=shuffled.read_bytes)) is None
    (folder,) = (tmp_path / "runs" / "uploaded").iterdir()  # this session's own folder
    assert sorted(p.name for p in folder.iterdir()) == ["again.npz"]


def test_a_source_reads_a_checkpoint_and_a_bundle_alike(digits_bundle):
    from explorer.app import sources

    bundle, model = sources.source(digits_bundle), sources.source(VC)
    assert bundle.is_bundle and bundle.latent_dim == 2 and bundle.dataset == "digits"
    assert not model.is_bundle and model.method == "vc" and model.class_names == bundle.class_names[:10]
    from explorer.app import cache

    z = torch.zeros(3, 2, dtype=torch.float64)
    gaussians = cache.gaussians(digits_bundle)  # a bundle's implied Gaussians, fitted to its own latents
    assert gaussians(z).shape == (3, 10) and "no validation latents" in gaussians.fitted_on


def test_a_refused_upload_names_no_temporary_file(tmp_path):
    from explorer.app.sidebar import _check_bundle
    from explorer.core.errors import BundleError

    cut = tmp_path / ".cut.npz.x1y2.tmp"  # how the upload is checked before it is kept
    cut.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(BundleError, match=r"^the file is not a readable \.npz bundle") as error:
        _check_bundle(cut)
    assert ".tmp" not in str(error.value)
