"""export_classifier: the export job called from Python, its progress through callbacks, its messages
naming its parameters."""

import sys
import warnings

import pytest

from explorer.core.bundles import load_bundle
from explorer.core.errors import ArgumentError
from explorer.jobs.export import export_classifier

SMALL_RGB = "vcx_small_rgb"
"""A module of the current folder whose ``make()`` returns a small network for 8 x 8 RGB images."""


@pytest.fixture
def small_rgb(tmp_path, monkeypatch):
    (tmp_path / f"{SMALL_RGB}.py").write_text(
        "from torch import nn\n\n\ndef make():\n    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), "
        "nn.Linear(4 * 6 * 6, 16), nn.ReLU(), nn.Linear(16, 10))\n")
    monkeypatch.chdir(tmp_path)
    yield f"{SMALL_RGB}:make"
    sys.modules.pop(SMALL_RGB, None)


def test_the_job_reports_through_its_callbacks_and_returns_the_bundle_it_wrote(tmp_path, small_rgb):
    lines, caveats = [], []
    bundle = export_classifier("digits", tmp_path / "small.npz", factory=small_rgb, last_layer="5",
                               keep_images=False, validation=True, log=lines.append, warn=caveats.append)
    assert bundle.logits.shape == (450, 10) and bundle.val_logits.shape == (136, 10) and bundle.images is None
    assert load_bundle(tmp_path / "small.npz").dataset_name == "digits"
    assert caveats == [f"no weights, so {small_rgb} has random weights: its outputs say nothing about a "
                       "trained model"]
    assert lines[0].startswith("validation: 136 images of the digits training split")
    assert lines[1] == "grey images repeated to the 3 channels the model's first convolution takes"
    assert lines[2].startswith(f"running {small_rgb} (") and "+ 136 validation" in lines[2]
    assert lines[3].startswith(f"wrote {tmp_path / 'small.npz'}: N = 450, K = 10, d = 16;") and len(lines) == 4


def test_without_a_warn_callback_the_caveat_is_a_warning(tmp_path, small_rgb):
    with pytest.warns(UserWarning, match="has random weights"):
        export_classifier("digits", tmp_path / "small.npz", factory=small_rgb, last_layer="5")


@pytest.mark.parametrize("arguments, message", [
    ({"torchvision": "resnet18", "factory": "m:f"}, "^give one of torchvision and factory$"),
    ({}, "^give one of torchvision and factory$"),
    ({"torchvision": "resnet18", "mean": (0.5,)}, "^give both mean and std"),
    ({"torchvision": "resnet18", "weights": "missing.pt"}, "^weights missing.pt: no such file$"),
])
def test_a_python_caller_reads_its_own_parameter_names(tmp_path, arguments, message):
    with warnings.catch_warnings(), pytest.raises(ArgumentError, match=message):
        warnings.simplefilter("ignore")
        export_classifier("digits", tmp_path / "b.npz", **arguments)
    assert not (tmp_path / "b.npz").exists()


def test_the_output_and_the_dataset_are_checked_first(tmp_path):
    with pytest.raises(ArgumentError, match="^out .*b.pt: a bundle's name ends in .npz"):
        export_classifier("digits", tmp_path / "b.pt", torchvision="resnet18")
    with pytest.raises(ArgumentError, match="^unknown image dataset 'reuters-r8'; choose one of digits"):
        export_classifier("reuters-r8", tmp_path / "b.npz", torchvision="resnet18")
