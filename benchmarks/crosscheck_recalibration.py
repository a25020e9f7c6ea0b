"""Every recalibrator of ``explorer.measure.recalibration`` against reference libraries, on a shipped
checkpoint's held-out outputs, printed (not asserted): run

    EXPLORER_DATA_DIR=/path/to/data PYTHONPATH=/path/to/references python benchmarks/crosscheck_recalibration.py

Each map is fitted on the checkpoint's validation split (the one its training held out) and measured
on the test split. The references, when importable: scikit-learn (``CalibratedClassifierCV`` with
``method="isotonic"`` on a frozen classifier), TorchUncertainty 0.13.0 (``TemperatureScaler``,
``VectorScaler``, ``MatrixScaler``, ``DirichletScaler``, ``HistogramBinningScaler``,
``IsotonicRegressionScaler``) and netcal 1.4.0 (``TemperatureScaling``, ``LogisticCalibration``,
``HistogramBinning``, ``IsotonicRegression``). Neither of the last two is a dependency of the project
(netcal needs pyro, TorchUncertainty lightning): install them with ``pip install --no-deps --target DIR``
beside ``pyro-ppl``, ``pyro-api`` and ``opt_einsum``; TorchUncertainty's calibration modules are
loaded without its package ``__init__`` (which imports lightning).

For each pair it prints the largest difference of a test probability, max |Δp|, and the test NLL
of both; for the parametric maps also the largest difference of a parameter. Also printed: the time
of each of our fits on the validation split, and on 10 000 x 10 synthetic logits (one process, one
thread; wall and CPU seconds: on a busy machine they differ).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import time
import types
import warnings
from pathlib import Path

import numpy as np
import torch
from scipy.special import log_softmax, softmax

from explorer.core._io import PROJECT_DIR
from explorer.core.checkpoints import checkpoint_validation_split, load_checkpoint
from explorer.core.data import load_dataset
from explorer.measure.calibration import accuracy, brier_score, expected_calibration_error, negative_log_likelihood
from explorer.measure.decompositions import brier_decomposition, nll_calibration_map, nll_decomposition
from explorer.measure.inference import predict
from explorer.measure.recalibration import RECALIBRATORS, fit_affine, fit_recalibrator


def held_out_outputs(path: Path):
    """(validation logits, labels), (test logits, labels) of a checkpoint, float64 numpy."""
    model, meta = load_checkpoint(path)
    val = checkpoint_validation_split(model, meta, load_dataset(meta["dataset"], "train"))
    test = load_dataset(meta["dataset"], "test")
    out = []
    for data in (val, test):
        logits, _ = predict(model, data.x)
        out.append((logits.double().numpy(), data.y.numpy()))
    return out


def objective(ours: np.ndarray, theirs: np.ndarray, labels: np.ndarray) -> str:
    """The validation NLL both fits minimise: the lower one is the better optimum."""
    return (f"   validation NLL ours {negative_log_likelihood(ours, labels):.6f} "
            f"theirs {negative_log_likelihood(theirs, labels):.6f}")


def row(name: str, ours: np.ndarray, theirs: np.ndarray, labels: np.ndarray, extra: str = "") -> str:
    return (f"  {name:<44} max|Δp| {np.abs(ours - theirs).max():.2e}   NLL ours {negative_log_likelihood(ours, labels):.5f}"
            f" theirs {negative_log_likelihood(np.clip(theirs, 0, None) / theirs.sum(1, keepdims=True), labels):.5f}"
            f"{extra}")


def sklearn_isotonic(val, test):
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator

    class Softmax(ClassifierMixin, BaseEstimator):
        def fit(self, x, y):
            self.classes_ = np.arange(x.shape[1])
            return self

        def predict_proba(self, x):
            return softmax(x, axis=1)

        def predict(self, x):
            return x.argmax(axis=1)

    reference = CalibratedClassifierCV(FrozenEstimator(Softmax().fit(*val)), method="isotonic").fit(*val)
    return reference.predict_proba(test[0])


def torch_uncertainty_calibration():
    """TorchUncertainty's calibration modules without its package ``__init__`` (which needs lightning)."""
    spec = importlib.util.find_spec("torch_uncertainty")
    if spec is None:
        return None
    root = Path(spec.submodule_search_locations[0])
    for name, folder in (("torch_uncertainty", root), ("torch_uncertainty.post_processing", root / "post_processing")):
        stub = types.ModuleType(name)
        stub.__path__ = [str(folder)]
        sys.modules[name] = stub
    abstract = importlib.import_module("torch_uncertainty.post_processing.abstract")
    sys.modules["torch_uncertainty.post_processing"].PostProcessing = abstract.PostProcessing
    return importlib.import_module("torch_uncertainty.post_processing.calibration")


def tu_probs(scaler, val, test, fitted=True):
    from torch.utils.data import DataLoader, TensorDataset

    if fitted:
        scaler.fit(DataLoader(TensorDataset(torch.as_tensor(val[0]), torch.as_tensor(val[1])), batch_size=len(val[1])),
                   progress=False)
    with torch.no_grad():
        return torch.softmax(scaler(torch.as_tensor(test[0])).double(), dim=1).numpy()


def compare_torch_uncertainty(tu, ours, val, test) -> None:
    k = val[0].shape[1]
    print("TorchUncertainty 0.13.0 (float64, LBFGS lr 0.1, its default iterations)")
    temperature = tu.TemperatureScaler()
    p = tu_probs(temperature, val, test)
    t_theirs = float(temperature.temperature[0])
    print(row("TemperatureScaler vs temperature", ours["temperature"].probs(test[0]), p, test[1],
              f"   T ours {ours['temperature'].temperature:.5f} theirs {t_theirs:.5f}"))
    vector = tu.VectorScaler(num_classes=k)
    p = tu_probs(vector, val, test)
    scale = vector.inv_temperature[0].detach().numpy()
    print(row("VectorScaler vs vector", ours["vector"].probs(test[0]), p, test[1],
              f"   max|Δscale| {np.abs(scale - np.diag(ours['vector'].weight)).max():.2e}"
              + objective(ours["vector"].probs(val[0]), tu_probs(vector, val, val, fitted=False), val[1])))
    w, b = fit_affine(val[0], val[1])  # TorchUncertainty's matrix scaling is not regularised
    matrix = tu.MatrixScaler(num_classes=k, max_iter=1000)
    p = tu_probs(matrix, val, test)
    print(row("MatrixScaler vs fit_affine(λ = 0)", softmax(test[0] @ w.T + b, axis=1), p, test[1],
              objective(softmax(val[0] @ w.T + b, axis=1), tu_probs(matrix, val, val, fitted=False), val[1])))
    print(row("MatrixScaler vs matrix (ODIR, λ by CV)", ours["matrix"].probs(test[0]), p, test[1]))
    lam = ours["dirichlet"].strength
    dirichlet = tu.DirichletScaler(num_classes=k, lambda_reg=lam, mu_reg=lam, max_iter=1000)
    p = tu_probs(dirichlet, val, test)
    diff = np.abs(dirichlet.inv_temperature[0].detach().numpy() - ours["dirichlet"].weight).max()
    print(row(f"DirichletScaler(λ = μ = {lam:g}) vs dirichlet", ours["dirichlet"].probs(test[0]), p, test[1],
              f"   max|ΔW| {diff:.2e}"))
    bins = len(ours["histogram"].values[0])
    p = tu_probs(tu.HistogramBinningScaler(num_bins=bins), val, test)
    print(row(f"HistogramBinningScaler({bins}) vs histogram", ours["histogram"].probs(test[0]), p, test[1]))
    p = tu_probs(tu.IsotonicRegressionScaler(), val, test)
    print(row("IsotonicRegressionScaler vs isotonic", ours["isotonic"].probs(test[0]), p, test[1]))


def compare_netcal(ours, val, test) -> None:
    tensorboard = types.ModuleType("torch.utils.tensorboard")  # netcal imports it and never uses it here
    tensorboard.SummaryWriter = object
    sys.modules.setdefault("torch.utils.tensorboard", tensorboard)
    try:
        import netcal
        from netcal.binning import HistogramBinning, IsotonicRegression
        from netcal.scaling import LogisticCalibration, TemperatureScaling
    except ImportError as error:
        print(f"netcal: not importable ({error})")
        return
    print(f"netcal {netcal.__version__} (input: softmax probabilities, as netcal takes them)")
    p_val, p_test = softmax(val[0], axis=1), softmax(test[0], axis=1)
    temperature = TemperatureScaling(method="mle")
    temperature.fit(p_val, val[1])
    print(row("TemperatureScaling vs temperature", ours["temperature"].probs(test[0]), temperature.transform(p_test),
              test[1], f"   1/T theirs {float(np.ravel(temperature.weights)[0]):.5f} ours "
                       f"{1 / ours['temperature'].temperature:.5f}"))
    logistic = LogisticCalibration(method="mle")
    logistic.fit(p_val, val[1])
    # netcal's multi-class LogisticCalibration is vector scaling of log p, not of the logits: a_k (z_k −
    # logsumexp z) + b_k gives each class its own share of the logsumexp, which vector scaling does not.
    w, b = fit_affine(log_softmax(val[0], axis=1), val[1], diagonal=True)
    same_model = softmax(log_softmax(test[0], axis=1) @ w.T + b, axis=1)
    theirs = logistic.transform(p_test)
    print(row("LogisticCalibration vs diagonal W on log p", same_model, theirs, test[1],
              f"   max|Δscale| {np.abs(np.ravel(logistic.weights) - np.diag(w)).max():.2e}"))
    print(row("LogisticCalibration vs vector (on logits)", ours["vector"].probs(test[0]), theirs, test[1]))
    bins = len(ours["histogram"].values[0])
    histogram = HistogramBinning(bins=bins)
    histogram.fit(p_val, val[1])
    print(row(f"HistogramBinning({bins}) vs histogram", ours["histogram"].probs(test[0]), histogram.transform(p_test),
              test[1]))
    isotonic = IsotonicRegression()
    isotonic.fit(p_val, val[1])
    print(row("IsotonicRegression vs isotonic", ours["isotonic"].probs(test[0]), isotonic.transform(p_test), test[1]))


def fit_times(n: int = 10_000, k: int = 10, seed: int = 0) -> None:
    """Seconds of each fit on n × k synthetic logits, three times too sharp, with labels drawn from the
    calibrated probabilities."""
    rng = np.random.default_rng(seed)
    logits = 4.0 * rng.normal(size=(n, k))
    labels = (softmax(logits, axis=1).cumsum(axis=1) < rng.random((n, 1))).sum(axis=1).clip(max=k - 1)
    times = []
    for name in RECALIBRATORS:
        start, cpu = time.perf_counter(), time.process_time()
        fitted = fit_recalibrator(name, 3.0 * logits, labels)
        times.append(f"{name} {time.perf_counter() - start:.2f} s, CPU {time.process_time() - cpu:.2f} s "
                     f"({fitted.describe()})")
    print(f"fit on {n} x {k} synthetic logits: " + "; ".join(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", default=str(PROJECT_DIR / "checkpoints" / "fashion-mnist-cnn-d16-softmax.pt"),
                        help="a checkpoint that records its training split")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float64)  # the references' parameters in float64, as ours are
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)  # TorchUncertainty warns on every fit that it has no model
    fit_times()
    start = time.perf_counter()
    val, test = held_out_outputs(Path(args.checkpoint))
    print(f"{Path(args.checkpoint).name}: validation {val[0].shape}, test {test[0].shape} "
          f"(inference {time.perf_counter() - start:.1f} s)")
    print(f"{'':<12} {'CPU s':>6} {'NLL':>8} {'ECE':>8} {'Brier':>8} {'acc':>7}   NLL cal+ref            Brier cal+ref")
    ours = {}
    for name in ("none",) + RECALIBRATORS:
        start = time.process_time()
        if name != "none":
            ours[name] = fit_recalibrator(name, *val)
        seconds = time.process_time() - start
        p = ours[name].probs(test[0]) if name != "none" else softmax(test[0], axis=1)
        nll, brier = nll_decomposition(p, test[1]), brier_decomposition(p, test[1])
        print(f"{name:<12} {seconds:6.2f} {negative_log_likelihood(p, test[1]):8.4f} "
              f"{expected_calibration_error(p, test[1]):8.4f} {brier_score(p, test[1]):8.4f} {accuracy(p, test[1]):7.4f}"
              f"   {nll.calibration:.4f}+{nll.refinement:.4f}   {brier.calibration:.4f}+{brier.refinement:.4f}"
              + (f"   {ours[name].describe()}" if name != "none" else ""))
    p = softmax(test[0], axis=1)
    fitted = nll_calibration_map(p, test[1])
    kl = np.mean(np.sum(fitted * np.log(fitted / np.maximum(p, 1e-300)), axis=1))
    print(f"NLL decomposition of the test outputs: calibration {nll_decomposition(p, test[1]).calibration:.6f}, "
          f"mean KL(ĉ ‖ p) {kl:.6f} (equal at the maximum-likelihood ĉ)")
    print("scikit-learn")
    print(row("CalibratedClassifierCV(isotonic) vs isotonic", ours["isotonic"].probs(test[0]),
              sklearn_isotonic(val, test), test[1]))
    tu = torch_uncertainty_calibration()
    if tu is None:
        print("TorchUncertainty: not importable")
    else:
        compare_torch_uncertainty(tu, ours, val, test)
    compare_netcal(ours, val, test)


if __name__ == "__main__":
    main()
