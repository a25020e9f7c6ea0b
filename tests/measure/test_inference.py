import numpy as np
import pytest
import torch

from conftest import quick_configs
from explorer.core.data import load_dataset
from explorer.core.models import build_model
from explorer.measure.evaluation import evaluate
from explorer.measure.inference import predict


def test_predict_restores_the_mode_and_batches_consistently():
    model = build_model(quick_configs("softmax")[0], seed=0).train()
    x = torch.rand(10, 1, 8, 8)
    logits, z = predict(model, x, batch_size=3)
    assert model.training and logits.shape == (10, 10) and z.shape == (10, 2)
    assert torch.allclose(logits, predict(model, x, batch_size=10)[0], atol=1e-6)


def test_export_bundle_writes_what_the_model_gives_and_a_bundle_measures_the_same(tmp_path):
    from collections import OrderedDict

    from torch import nn

    from explorer import export_bundle, load_bundle, wrap_classifier
    from explorer.core.checkpoints import SHIPPED_DIR, load_checkpoint
    from explorer.measure.calibration import calibration_report

    model, _ = load_checkpoint(SHIPPED_DIR / "digits-mlp-d16-softmax.pt")
    test = load_dataset("digits", "test")
    x, y, noise = test.x[:100], test.y[:100], torch.rand(20, 1, 8, 8)
    bundle = export_bundle(model, x, y, tmp_path / "b.npz", class_names=range(10), validation=(test.x[100:150],
                           test.y[100:150]), ood=noise)
    loaded = load_bundle(tmp_path / "b.npz")
    logits, latents = predict(model, x)
    np.testing.assert_allclose(loaded.logits, logits.numpy(), rtol=1e-6)
    np.testing.assert_allclose(loaded.latents, latents.numpy(), rtol=1e-6)
    np.testing.assert_array_equal(loaded.weight, model.head.linear.weight.detach().numpy())
    assert loaded.images.shape == (100, 1, 8, 8) and list(loaded.class_names) == [str(i) for i in range(10)]
    assert loaded.val_logits.shape == (50, 10) and loaded.ood_latents.shape == (20, 16)
    probs = torch.softmax(torch.from_numpy(loaded.logits).double(), 1).numpy()
    assert calibration_report(probs, loaded.labels)["ece"] == pytest.approx(evaluate(model, x, y)["ece"])
    assert set(bundle.arrays()) == set(loaded.arrays()) and loaded.dataset_name is None
    # A Bayes-rule head has no linear layer to describe; a wrapped module does, even without a bias.
    vc, _ = load_checkpoint(SHIPPED_DIR / "digits-mlp-d16-vc.pt")
    whole = export_bundle(vc, test.x, test.y, tmp_path / "vc.npz", keep_images=False, dataset="digits")
    assert whole.weight is None and load_bundle(tmp_path / "vc.npz").dataset_name == "digits"
    plain = wrap_classifier(nn.Sequential(OrderedDict(flat=nn.Flatten(), fc=nn.Linear(64, 10, bias=False))))
    assert not export_bundle(plain, x, y, tmp_path / "w.npz").bias.any()
