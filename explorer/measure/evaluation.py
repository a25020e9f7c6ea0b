"""A calibration report of a model, of its outputs, of a predictions bundle or of a checkpoint.

Where :mod:`explorer.measure.calibration` measures arrays and :mod:`explorer.measure.recalibration`
fits maps on them, this module supplies the arrays: it runs a model (:func:`evaluate`), reads a
bundle's test or validation outputs (:func:`evaluate_bundle`), and fits temperature scaling on the
held-out outputs a model or bundle comes with: the validation split a model's training held out
(:func:`validation_temperature`, :func:`checkpoint_temperature`, rebuilt by
:func:`explorer.core.checkpoints.validation_split`) or a bundle's ``val_logits``
(:func:`bundle_temperature`). The test split never informs T. Any other recalibrator of
:data:`~explorer.measure.recalibration.RECALIBRATORS` is fitted on the same held-out outputs by
:func:`checkpoint_recalibrator` and :func:`bundle_recalibrator`.
"""

from __future__ import annotations

from torch import Tensor, nn

from explorer.core.bundles import Bundle
from explorer.core.checkpoints import checkpoint_validation_split, validation_split
from explorer.core._validation import check_choice
from explorer.core.config import N_BINS, TrainConfig
from explorer.core.data import Dataset
from explorer.core.errors import ArgumentError, BundleError
from explorer.measure.calibration import calibration_report
from explorer.measure.inference import predict
from explorer.measure.intervals import LEVEL, N_RESAMPLES, metric_intervals
from explorer.measure.recalibration import RECALIBRATORS, Recalibrator, apply_temperature, fit_recalibrator, fit_temperature


def evaluate(model: nn.Module, x: Tensor, y: Tensor, n_bins: int = N_BINS,
             temperature: float = 1.0) -> dict[str, float]:
    """accuracy, ece, mce, adaptive_ece, classwise_ece, nll, brier and n of the model on (x, y).

    ``temperature`` divides the logits first (post-hoc temperature scaling; 1 leaves them as they are).
    """
    logits, _ = predict(model, x)
    return evaluate_outputs(logits.numpy(), y.numpy(), n_bins=n_bins, temperature=temperature)


def evaluate_outputs(logits, labels, n_bins: int = N_BINS, temperature: float = 1.0) -> dict[str, float]:
    """:func:`evaluate` for logits already computed: :func:`calibration_report` of softmax(logits / T).

    Args:
        logits: (N, K) finite logits (numpy array or torch tensor).
        labels: (N,) integer labels in [0, K).
        n_bins: number of bins for the binned metrics, >= 1.
        temperature: T > 0 (1 leaves the logits as they are).
    """
    return calibration_report(apply_temperature(logits, temperature), labels, n_bins=n_bins)


def recalibrated_report(logits, labels, recalibrator: Recalibrator | None = None, n_bins: int = N_BINS,
                        n_resamples: int = N_RESAMPLES, level: float = LEVEL) -> dict[str, object]:
    """The :func:`calibration_report` of the outputs' probabilities, recalibrated or not, and each
    metric's bootstrap interval over the examples.

    Args:
        logits: (N, K) finite logits.
        labels: (N,) integer labels in [0, K).
        recalibrator: a fitted :class:`~explorer.measure.recalibration.Recalibrator` (fitted on held-out
            outputs, never these), or None for softmax(logits).
        n_bins: number of bins for the binned metrics, >= 1.
        n_resamples: bootstrap resamples of the examples for the intervals; 0: no intervals.
        level: the intervals' confidence level.

    Returns:
        the report's keys; ``recalibration`` (the recalibrator's name and parameters, or None); with
        intervals, ``intervals`` ({measure: [low, high]}, percentile intervals,
        :func:`~explorer.measure.intervals.metric_intervals`), ``level`` and ``n_resamples``.
    """
    probs = apply_temperature(logits, 1.0) if recalibrator is None else recalibrator.probs(logits)
    out: dict[str, object] = {**calibration_report(probs, labels, n_bins=n_bins),
                              "recalibration": None if recalibrator is None else
                              f"{recalibrator.name}: {recalibrator.describe()}"}
    if n_resamples:
        found = metric_intervals(probs, labels, n_bins=n_bins, n_resamples=n_resamples, level=level)
        out.update(intervals={k: [i.low, i.high] for k, i in found.items()}, level=level, n_resamples=n_resamples)
    return out


BUNDLE_SPLITS = ("test", "validation")
"""What :func:`evaluate_bundle` measures: a bundle's ``logits``/``labels`` or ``val_logits``/``val_labels``."""


def _held_out(bundle: Bundle, what: str):
    if bundle.val_logits is None:
        raise BundleError(f"the bundle has no val_logits/val_labels, so no {what} can be fitted "
                          "(export it with --validation, or add held-out outputs)")
    return bundle.val_logits, bundle.val_labels


def bundle_temperature(bundle: Bundle) -> float:
    """Temperature scaling's T for a predictions bundle, fitted by NLL on its ``val_logits``/``val_labels``.

    Raises :class:`~explorer.core.errors.BundleError` when the bundle has no validation outputs.
    """
    return fit_temperature(*_held_out(bundle, "temperature"))


def bundle_recalibrator(bundle: Bundle, name: str) -> Recalibrator:
    """The recalibrator ``name`` (:func:`~explorer.measure.recalibration.fit_recalibrator`) fitted on a
    bundle's ``val_logits``/``val_labels``; apply it with ``.probs(bundle.logits)``.

    Raises :class:`~explorer.core.errors.BundleError` when the bundle has no validation outputs, and
    :class:`~explorer.core.errors.ArgumentError` for an unknown name or held-out outputs it cannot fit.
    """
    return fit_recalibrator(name, *_held_out(bundle, f"{name} recalibrator"))


def bundle_outputs(bundle: Bundle, split: str = "test"):
    """(logits (N, K), labels (N,)) of a bundle's ``split``: ``"test"`` (``logits``, ``labels``) or
    ``"validation"`` (``val_logits``, ``val_labels``). Raises :class:`~explorer.core.errors.BundleError`
    when the outputs asked for are absent."""
    if split not in BUNDLE_SPLITS:
        raise ArgumentError(f"split must be one of {', '.join(BUNDLE_SPLITS)}, got {split!r}")
    if split == "validation":
        if bundle.val_logits is None:
            raise BundleError("the bundle has no val_logits/val_labels to evaluate")
        return bundle.val_logits, bundle.val_labels
    return bundle.logits, bundle.labels


def evaluate_bundle(bundle: Bundle, split: str = "test", n_bins: int = N_BINS,
                    temperature_scaling: bool = False) -> dict[str, object]:
    """dataset, split, temperature and the :func:`calibration_report` keys of a bundle's outputs.

    ``split``: see :func:`bundle_outputs`; ``temperature_scaling`` divides the logits by
    :func:`bundle_temperature` (fitted on the validation outputs) first, else T = 1. ``dataset`` is the
    bundle's project dataset or None. Raises :class:`~explorer.core.errors.BundleError` when the
    outputs asked for are absent.
    """
    logits, labels = bundle_outputs(bundle, split)
    temperature = bundle_temperature(bundle) if temperature_scaling else 1.0
    return {"dataset": bundle.dataset_name, "split": split, "temperature": temperature,
            **evaluate_outputs(logits, labels, n_bins=n_bins, temperature=temperature)}


def _fitted_on(model: nn.Module, held_out: Dataset, fit=fit_temperature):
    """``fit(logits, labels)`` of the model's logits of ``held_out``: temperature scaling's T by default."""
    logits, _ = predict(model, held_out.x)
    return fit(logits.numpy(), held_out.y.numpy())


def validation_temperature(model: nn.Module, data_train: Dataset, train_config: TrainConfig) -> float:
    """Temperature scaling's T, fitted by NLL on the validation split that training held out.

    ``data_train`` is the training split the model was trained on and ``train_config`` its
    :class:`~explorer.core.config.TrainConfig`; the split is rebuilt from its seed and fractions
    (:func:`~explorer.core.checkpoints.validation_split`), so the test split never informs T.
    """
    return _fitted_on(model, validation_split(model, data_train, train_config))


def checkpoint_temperature(model: nn.Module, meta: dict, data_train: Dataset) -> float:
    """:func:`validation_temperature` of a loaded checkpoint, from the training config in its ``meta``.

    Raises :class:`~explorer.core.errors.ArgumentError` if the checkpoint does not record how it was trained
    (:func:`~explorer.core.checkpoints.checkpoint_validation_split`).
    """
    return _fitted_on(model, checkpoint_validation_split(model, meta, data_train))


def checkpoint_recalibrator(model: nn.Module, meta: dict, data_train: Dataset, name: str) -> Recalibrator:
    """The recalibrator ``name`` (:func:`~explorer.measure.recalibration.fit_recalibrator`) fitted on the
    validation split a loaded checkpoint's training held out, as :func:`checkpoint_temperature` fits T.

    Raises :class:`~explorer.core.errors.ArgumentError` for an unknown name (before running the model),
    held-out outputs it cannot fit, or a checkpoint that does not record how it was trained.
    """
    check_choice("recalibrator", name, RECALIBRATORS)
    return _fitted_on(model, checkpoint_validation_split(model, meta, data_train),
                      lambda logits, labels: fit_recalibrator(name, logits, labels))
