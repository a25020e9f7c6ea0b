"""vc-explorer: softmax classifiers read as latent-variable models, and variational classification.

The public API, importable from ``explorer`` itself::

    from explorer import default_configs, load_dataset, train, evaluate

    model_config, train_config = default_configs("digits", "vc", latent_dim=2)
    result = train(load_dataset("digits", "train"), model_config, train_config)

The package is layered (see ``docs/ARCHITECTURE.md``): ``explorer.core`` (configs, data, models, loss
terms, checkpoints), ``explorer.measure`` (inference, calibration metrics, recalibration, evaluation,
attacks, corruptions, latent fit, OOD, projections), ``explorer.figures`` (plotly builders),
``explorer.jobs`` (training, whole runs, the export of a classifier, the benchmark and its report),
``explorer.app`` (the Streamlit layer) and ``explorer.cli`` (the ``vc-explorer`` command). Names are
loaded on first use, so ``import explorer`` stays cheap and imports neither torch nor Streamlit. The method is specified in ``../shared/docs/METHOD.md``.
"""

from __future__ import annotations

from explorer.core._lazy import lazy_exports

__version__ = "0.2.0"

__getattr__, __dir__, __all__ = lazy_exports(globals(), {
    "explorer.core.errors": ("ArgumentError", "BundleError", "CheckpointError", "DatasetUnavailableError",
                             "ExplorerError"),
    "explorer.core.config": ("N_BINS", "METHODS", "AttackConfig", "ModelConfig", "ProjectionConfig", "TrainConfig",
                             "default_configs"),
    "explorer.core.data": ("DATASETS", "Dataset", "DatasetInfo", "ImageData", "TextData", "load_dataset"),
    "explorer.core.models": ("Classifier", "build_model"),
    "explorer.core.wrapped": ("wrap_classifier",),
    "explorer.core.bundles": ("Bundle", "load_bundle", "save_bundle"),
    "explorer.core.checkpoints": ("list_checkpoints", "load_checkpoint", "save_checkpoint"),
    "explorer.measure.inference": ("export_bundle", "predict"),
    "explorer.measure.calibration": ("calibration_report", "reliability_bins"),
    "explorer.measure.smooth_calibration": ("smooth_ece", "smooth_reliability"),
    "explorer.measure.intervals": ("difference_intervals", "metric_intervals", "reliability_bands"),
    "explorer.measure.recalibration": ("RECALIBRATORS", "apply_temperature", "fit_recalibrator", "fit_temperature"),
    "explorer.measure.decompositions": ("brier_decomposition", "nll_decomposition"),
    "explorer.measure.evaluation": ("bundle_recalibrator", "checkpoint_recalibrator", "evaluate", "evaluate_bundle",
                                    "evaluate_outputs", "recalibrated_report", "validation_temperature"),
    "explorer.measure.attacks": ("fgsm", "pgd", "robust_accuracy"),
    "explorer.measure.corruptions": ("CORRUPTIONS", "corrupt"),
    "explorer.measure.latents": ("latent_fit", "discriminator_kl", "prior_samples"),
    "explorer.measure.ood": ("auroc", "ood_scores"),
    "explorer.measure.projection": ("fit_projection",),
    "explorer.jobs.training": ("train",),
    "explorer.jobs.export": ("export_classifier",),
})
