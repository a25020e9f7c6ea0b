"""Classifiers defined outside the project: a torchvision model by name, a factory imported from a folder
without touching the search path, a state dict loaded strictly and safely, grey images fitted to RGB."""

import importlib
import importlib.machinery
import sys

import pytest
import torch
from torch import nn

from explorer.core.errors import ArgumentError
from explorer.core.external import (
    factory_model, fit_channels, folder_first, import_from_folder, load_weights, one_line, torchvision_model,
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


SIBLINGS = {
    "vcx_mymodels.py": "from torch import nn\n\nfrom vcx_mylayers import features\n\n\n"
                       "def make():\n    from vcx_myheads import head  # imported when called\n\n"
                       "    return nn.Sequential(features(), head())\n",
    "vcx_mylayers.py": "from torch import nn\n\n\ndef features():\n    return nn.Flatten()\n",
    "vcx_myheads.py": "from torch import nn\n\n\ndef head():\n    return nn.Linear(64, 10)\n",
}


@pytest.fixture
def sibling_folder(tmp_path):
    """A folder (not the current one, not on the search path) whose factory module imports a module
    beside it at its top and another inside the factory; the modules are forgotten afterwards."""
    for name, text in SIBLINGS.items():
        (tmp_path / name).write_text(text)
    yield tmp_path
    for name in SIBLINGS:
        sys.modules.pop(name.removesuffix(".py"), None)


def test_a_factory_finds_the_modules_beside_it_when_imported_and_when_called(sibling_folder):
    path, meta_path = list(sys.path), list(sys.meta_path)
    network = factory_model("vcx_mymodels:make", folder=sibling_folder)
    assert isinstance(network[0], nn.Flatten) and network[1].out_features == 10
    assert sys.path == path and sys.meta_path == meta_path  # the finder was there for the import and the call
    for name in SIBLINGS:
        assert sys.modules[name.removesuffix(".py")].__file__ == str(sibling_folder / name)
    with pytest.raises(ArgumentError, match="has no attribute 'missing'"):
        factory_model("vcx_mymodels:missing", folder=sibling_folder)
    assert sys.meta_path == meta_path  # taken off after an error too


def test_modules_of_the_folder_come_before_the_search_path_and_nowhere_else(tmp_path, monkeypatch):
    mine, installed = tmp_path / "mine", tmp_path / "installed"
    for folder, value in ((mine, "mine"), (installed, "installed")):
        folder.mkdir()
        (folder / "vcx_shadowed.py").write_text(f"WHOSE = {value!r}\n")
    monkeypatch.syspath_prepend(str(installed))
    monkeypatch.delitem(sys.modules, "vcx_shadowed", raising=False)
    meta_path = list(sys.meta_path)
    with folder_first(mine):
        assert sys.meta_path.index(importlib.machinery.PathFinder) == sys.meta_path.index(
            next(f for f in sys.meta_path if f not in meta_path)) + 1  # just before the search path
        assert importlib.import_module("vcx_shadowed").WHOSE == "mine"  # as python -m run in `mine`
    assert sys.meta_path == meta_path
    del sys.modules["vcx_shadowed"]
    assert importlib.import_module("vcx_shadowed").WHOSE == "installed"  # the folder is forgotten afterwards
    del sys.modules["vcx_shadowed"]


def test_a_package_without_init_in_the_folder_is_found_as_python_m_finds_it(tmp_path):
    (tmp_path / "vcx_loose").mkdir()  # a namespace package: no __init__.py
    (tmp_path / "vcx_loose" / "nets.py").write_text(SIBLINGS["vcx_myheads.py"])
    try:
        assert factory_model("vcx_loose.nets:head", folder=tmp_path).out_features == 10
        assert sys.modules["vcx_loose.nets"].__file__ == str(tmp_path / "vcx_loose" / "nets.py")
    finally:
        for name in ("vcx_loose", "vcx_loose.nets"):
            sys.modules.pop(name, None)


def test_a_namespace_package_joins_its_portions_and_gives_way_to_a_regular_package(tmp_path, monkeypatch):
    mine, installed = tmp_path / "mine", tmp_path / "installed"
    for folder, package, module in ((mine, "vcx_joined", "here"), (installed, "vcx_joined", "there"),
                                    (mine, "vcx_beaten", "here"), (installed, "vcx_beaten", "__init__")):
        (folder / package).mkdir(parents=True, exist_ok=True)
        (folder / package / f"{module}.py").write_text(f"WHERE = {str(folder.name)!r}\n")
    monkeypatch.syspath_prepend(str(installed))
    try:
        with folder_first(mine):
            assert importlib.import_module("vcx_joined.here").WHERE == "mine"
            assert importlib.import_module("vcx_joined.there").WHERE == "installed"
            assert importlib.import_module("vcx_beaten").WHERE == "installed"  # a regular package: as python -m
    finally:
        for name in [n for n in sys.modules if n.startswith(("vcx_joined", "vcx_beaten"))]:
            del sys.modules[name]


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
