"""Classifiers defined outside the project: a torchvision model by name, a factory imported from a folder
without touching the search path, a state dict loaded strictly and safely, grey images fitted to RGB."""

import sys

import pytest
import torch
from torch import nn

from explorer.core.errors import ArgumentError
from explorer.core.external import (
    factory_model, fit_channels, import_from_folder, load_weights, one_line, torchvision_model,
)
from explorer.core.wrapped import GreyToRGB, wrap_classifier

PACKAGE = "vcx_external_models"


@pytest.fixture
def package_folder(tmp_path):
    """A folder (not the current one) holding the package ``PACKAGE`` with a ``nets`` module; the
    package is forgotten afterwards."""
    (tmp_path / PACKAGE).mkdir()
    (tmp_path / PACKAGE / "__init__.py").write_text("")
    (tmp_path / PACKAGE / "nets.py").write_text(
        "from torch import nn\n\n\ndef small():\n    return nn.Sequential(nn.Flatten(), nn.Linear(64, 10))\n\n"
        "WIDTH = 3\n")
    yield tmp_path
    for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
        del sys.modules[name]


def test_a_dotted_module_is_imported_from_the_folder_and_the_search_path_is_left_alone(package_folder):
    before = list(sys.path)
    nets = import_from_folder(f"{PACKAGE}.nets", package_folder)
    assert sys.path == before
    assert nets.__file__ == str(package_folder / PACKAGE / "nets.py") and nets.WIDTH == 3
    assert sys.modules[f"{PACKAGE}.nets"] is nets  # imported once, as import does
    assert import_from_folder("json", package_folder) is sys.modules["json"]  # then the installed packages
    with pytest.raises(ModuleNotFoundError, match="No module named 'vcx_nowhere'"):
        import_from_folder("vcx_nowhere", package_folder)


def test_a_factory_returns_the_network_and_its_errors_name_the_argument(package_folder):
    network = factory_model(f"{PACKAGE}.nets:small", folder=package_folder)
    assert isinstance(network, nn.Sequential) and network[1].out_features == 10
    for spec, message in ((PACKAGE, "factory takes MODULE:FUNCTION"),
                          (f"{PACKAGE}.nets:WIDTH", "WIDTH is a int, not a function"),
                          (f"{PACKAGE}.nets:missing", f"modules are looked for in {package_folder}")):
        with pytest.raises(ArgumentError, match=message):
            factory_model(spec, folder=package_folder)
    with pytest.raises(ArgumentError, match="^--factory vcx_"):
        factory_model(f"{PACKAGE}.nets:missing", folder=package_folder, argument="--factory")


def test_a_torchvision_model_by_name_with_the_classes_asked_for():
    assert torchvision_model("resnet18", 7).fc.out_features == 7
    with pytest.raises(ArgumentError, match="^model 'resnet81' is not a torchvision classification model; "
                                            "did you mean resnet18"):
        torchvision_model("resnet81", 10)


def test_weights_load_strictly_from_a_state_dict_or_a_training_checkpoint(tmp_path):
    source, target = nn.Linear(4, 3), nn.Linear(4, 3)
    torch.save({"model": source.state_dict(), "epoch": 5}, tmp_path / "run.pt")
    load_weights(target, tmp_path / "run.pt")
    torch.testing.assert_close(target.weight, source.weight)
    torch.save(nn.Linear(4, 2).state_dict(), tmp_path / "other.pt")
    with pytest.raises(ArgumentError, match=r"weight is \(2, 4\) in the file but \(3, 4\) in the model"):
        load_weights(target, tmp_path / "other.pt")
    torch.save({"model": source}, tmp_path / "pickled.pt")  # a module, not its weights: never unpickled
    with pytest.raises(ArgumentError, match="^weights .*pickled.pt holds more than weights: loading it would run"):
        load_weights(target, tmp_path / "pickled.pt")
    with pytest.raises(ArgumentError, match="^--weights missing.pt: no such file$"):
        load_weights(target, "missing.pt", argument="--weights")


def test_grey_images_are_repeated_for_a_network_that_takes_rgb():
    rgb = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(4 * 6 * 6, 10))  # 8 x 8 images
    fitted = fit_channels(rgb, 1, (0.4, 0.5, 0.6), (0.2, 0.2, 0.2))  # RGB statistics: applied after the repeat
    assert isinstance(fitted.module[0], GreyToRGB) and fitted.module[1] is rgb
    assert (fitted.prefix, fitted.mean, fitted.std) == ("1.", None, None) and "repeated" in fitted.note
    model = wrap_classifier(fitted.module, fitted.prefix + "2", fitted.mean, fitted.std)
    assert model(torch.rand(2, 1, 8, 8)).shape == (2, 10)
    grey = fit_channels(rgb, 1, (0.5,), (0.25,))  # the grey channel's statistics: before the repeat
    assert (grey.mean, grey.std) == ((0.5,), (0.25,))
    same = fit_channels(rgb, 3)
    assert same.module is rgb and same.prefix == "" and same.note is None


@pytest.mark.parametrize("channels, mean, std, message", [
    (1, (0.5,), None, "^give both mean and std"),
    (1, (0.5, 0.5), (0.2, 0.2), "^mean and std give 2 and 2 values; the images have 1 channel"),
    (2, None, None, "first convolution takes 3 channels but the images have 2"),
])
def test_statistics_and_channels_that_do_not_fit_are_refused(channels, mean, std, message):
    with pytest.raises(ArgumentError, match=message):
        fit_channels(nn.Conv2d(3, 4, 3), channels, mean, std)


def test_one_line_keeps_the_first_line_and_cuts_it():
    assert one_line(RuntimeError("shapes do not match\n  at layer 3")) == "shapes do not match"
    assert one_line("x" * 200, limit=10) == "xxxxxxx..."
