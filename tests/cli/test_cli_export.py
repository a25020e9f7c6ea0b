"""``export``: a bundle of a classifier made elsewhere (a torchvision model, or a factory of the user's
own module with its weights) that evaluate reads, and every mistake refused in one line before any work."""

import sys

import pytest

from cli_calls import evaluate_json, one_line_error, run_console_script
from explorer.cli import main


TINY_CNN = '''
import torch
from torch import nn


class TinyCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                                      nn.Linear(8 * 4 * 4, 32), nn.ReLU())
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        return self.fc(self.features(x))


def make():
    return TinyCNN()


def make_wider():
    model = TinyCNN()
    model.fc = nn.Linear(32, 12)
    return model


def not_a_model():
    return "a string"
'''


@pytest.fixture
def factory_folder(tmp_path, monkeypatch):
    """tmp_path as the current folder, holding tiny_digits_cnn.py; sys.path and sys.modules restored after."""
    (tmp_path / "tiny_digits_cnn.py").write_text(TINY_CNN)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    yield tmp_path
    sys.modules.pop("tiny_digits_cnn", None)


def test_export_a_factory_model_with_its_weights_then_evaluate_it(factory_folder, capsys):
    import runpy

    import torch

    from explorer.core.bundles import load_bundle
    from explorer.core.data import load_dataset

    torch.manual_seed(0)
    net = runpy.run_path(str(factory_folder / "tiny_digits_cnn.py"))["make"]()
    train, test = load_dataset("digits", "train"), load_dataset("digits", "test")
    optimiser = torch.optim.Adam(net.parameters(), lr=1e-2)
    for start in [*range(0, len(train), 64)] * 2:  # two epochs: far above chance, and the file's factory is not
        optimiser.zero_grad()
        torch.nn.functional.cross_entropy(net(train.x[start: start + 64]), train.y[start: start + 64]).backward()
        optimiser.step()
    net.eval()
    with torch.no_grad():
        own_accuracy = (net(test.x).argmax(1) == test.y).double().mean().item()
    torch.save({"state_dict": net.state_dict(), "epochs": 2}, factory_folder / "tiny.pt")

    assert main(["export", "--factory", "tiny_digits_cnn:make", "--weights", "tiny.pt", "--dataset", "digits",
                 "--out", "tiny.npz", "--validation", "--ood"]) == 0
    captured = capsys.readouterr()
    assert "random weights" not in captured.err
    assert "seed 0, val_fraction 0.1" in captured.out and "honest only if" in captured.out
    assert "running tiny_digits_cnn:make" in captured.out and "wrote tiny.npz: N = 450, K = 10, d = 32" in captured.out
    bundle = load_bundle(factory_folder / "tiny.npz")
    assert bundle.dataset_name == "digits" and list(bundle.class_names) == [str(i) for i in range(10)]
    assert bundle.images.shape == (450, 1, 8, 8) and bundle.weight.shape == (10, 32)
    assert bundle.val_logits.shape == (136, 10) and bundle.ood_latents.shape == (450, 32)
    metrics = evaluate_json(factory_folder / "tiny.npz", capsys=capsys)
    assert own_accuracy > 0.5 and metrics["accuracy"] == pytest.approx(own_accuracy, abs=1e-9)
    assert metrics["dataset"] == "digits" and metrics["n"] == 450


def test_a_factory_is_imported_from_the_current_folder_leaving_the_search_path_alone(factory_folder, capsys):
    before = list(sys.path)
    assert main(["export", "--factory", "tiny_digits_cnn:make", "--dataset", "digits", "--out", "tiny.npz",
                 "--no-images"]) == 0
    assert sys.path == before
    assert sys.modules["tiny_digits_cnn"].__file__ == str(factory_folder / "tiny_digits_cnn.py")
    assert "wrote tiny.npz" in capsys.readouterr().out


def test_the_installed_command_finds_a_factory_in_the_current_folder(factory_folder):
    """A console script's search path starts with its own folder, not the current one."""
    code, out, err = run_console_script(factory_folder, "export", "--factory", "tiny_digits_cnn:make", "--dataset",
                                        "digits", "--out", "tiny.npz", "--no-images")
    assert code == 0, err
    assert "running tiny_digits_cnn:make" in out and "wrote tiny.npz: N = 450, K = 10, d = 32" in out
    assert "warning: no --weights, so tiny_digits_cnn:make has random weights" in err


def test_the_installed_command_finds_the_modules_a_factory_imports_beside_it(factory_folder):
    """mymodels.py imports mylayers.py at its top, and myheads.py when its factory is called: all three are
    found in the current folder, which is not on the console script's search path."""
    (factory_folder / "mymodels.py").write_text(
        "from torch import nn\n\nfrom mylayers import features\n\n\nclass Net(nn.Module):\n"
        "    def __init__(self, fc):\n        super().__init__()\n        self.features, self.fc = features(), fc\n\n"
        "    def forward(self, x):\n        return self.fc(self.features(x))\n\n\n"
        "def make():\n    from myheads import head\n\n    return Net(head())\n")
    (factory_folder / "mylayers.py").write_text(
        "from torch import nn\n\n\ndef features():\n    return nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU())\n")
    (factory_folder / "myheads.py").write_text("from torch import nn\n\n\ndef head():\n    return nn.Linear(32, 10)\n")
    code, out, err = run_console_script(factory_folder, "export", "--factory", "mymodels:make", "--dataset", "digits",
                                        "--out", "mine.npz", "--no-images")
    assert code == 0, err
    assert "running mymodels:make" in out and "wrote mine.npz: N = 450, K = 10, d = 32" in out


def test_export_a_torchvision_resnet_on_grey_digits(tmp_path, capsys):
    from explorer.core.bundles import load_bundle

    out = tmp_path / "r18.npz"
    assert main(["export", "--torchvision", "resnet18", "--dataset", "digits", "--out", str(out),
                 "--no-images"]) == 0
    captured = capsys.readouterr()
    assert "random weights" in captured.err and "grey images repeated to the 3 channels" in captured.out
    bundle = load_bundle(out)
    assert bundle.logits.shape == (450, 10) and bundle.latents.shape == (450, 512)
    assert bundle.weight.shape == (10, 512) and bundle.images is None and bundle.val_logits is None
    assert bundle.dataset_name == "digits"


@pytest.mark.parametrize("flags, message", [
    (["--torchvision", "resnet81"], "did you mean resnet18"),
    (["--torchvision", "resnet18", "--last-layer", "head"], "its linear layers: fc"),
    (["--torchvision", "resnet18", "--mean", "0.5", "0.5"], "give both --mean and --std"),
    (["--torchvision", "resnet18", "--mean", "0.5", "0.5", "--std", "0.2", "0.2"], "3 once repeated"),
    (["--torchvision", "alexnet", "--last-layer", "classifier.6"], "the model fails on the digits images"),
    (["--factory", "tiny_digits_cnn"], "MODULE:FUNCTION"),
    (["--factory", "no_such_module_here:make"], "No module named 'no_such_module_here'"),
    (["--factory", "tiny_digits_cnn:missing"], "has no attribute 'missing'"),
    (["--factory", "tiny_digits_cnn:not_a_model"], "returned a str, not an nn.Module"),
    (["--factory", "tiny_digits_cnn:make_wider"], "gives 12 outputs but digits has 10 classes"),
    (["--factory", "tiny_digits_cnn:make", "--weights", "missing.pt"], "missing.pt: no such file"),
    (["--factory", "tiny_digits_cnn:make", "--weights", "wider.pt"], "fc.weight is (12, 32) in the file"),
    (["--factory", "tiny_digits_cnn:make", "--weights", "partial.pt"], "missing fc.weight, fc.bias"),
    (["--factory", "tiny_digits_cnn:make", "--weights", "code.pt"], "would run code from it"),
    (["--factory", "tiny_digits_cnn:make", "--weights", "tiny_digits_cnn.py"], "not a file torch.load reads"),
])
def test_export_errors_are_one_line_and_write_nothing(factory_folder, flags, message, capsys):
    import runpy

    import torch

    module = runpy.run_path(str(factory_folder / "tiny_digits_cnn.py"))
    torch.save(module["make_wider"]().state_dict(), "wider.pt")
    torch.save({k: v for k, v in module["make"]().state_dict().items() if not k.startswith("fc.")}, "partial.pt")
    torch.save({"model": torch.nn.Linear(2, 2)}, "code.pt")  # a pickled module, not its weights
    err = one_line_error(["export", "--dataset", "digits", "--out", "never.npz", *flags], capsys)
    assert message in err
    assert not (factory_folder / "never.npz").exists()


def test_export_refuses_an_output_that_is_not_a_writable_npz(tmp_path, capsys):
    assert "ends in .npz" in one_line_error(["export", "--torchvision", "resnet18", "--dataset", "digits",
                                              "--out", str(tmp_path / "b.pt")], capsys)
    assert "cannot write" in one_line_error(["export", "--torchvision", "resnet18", "--dataset", "digits",
                                              "--out", "/proc/forbidden.npz"], capsys)


def test_export_and_bundle_help(capsys):
    with pytest.raises(SystemExit):
        main(["export", "--help"])
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps the help: compare words
    assert "channel repeated to 3 inside the model" in out and "--last-layer still names" in out
    assert "(seed 0, val_fraction 0.1); honest only if the model did not train on those images" in out
    assert "default: none, the model gets pixels in [0, 1]" in out and "list_models" in out
    with pytest.raises(SystemExit):
        main(["evaluate", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "predictions bundle (a name ending in .npz" in out and "val_logits/val_labels" in out
