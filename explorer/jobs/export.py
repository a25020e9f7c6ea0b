"""Export a classifier trained elsewhere as a predictions bundle: build it, load its weights, wrap it,
run it on a dataset's test split (and optionally its validation and out-of-distribution sets) and write
the outputs with :func:`explorer.measure.inference.export_bundle`. What ``vc-explorer export`` runs
between parsing its flags and printing; progress leaves through callbacks, as training's does.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

from explorer.core._validation import check_choice
from explorer.core.bundles import Bundle, is_bundle_path
from explorer.core.checkpoints import validation_split
from explorer.core.config import TrainConfig
from explorer.core.data import DATASETS, datasets_of, load_dataset
from explorer.core.errors import ArgumentError
from explorer.core.external import factory_model, fit_channels, load_weights, one_line, torchvision_model
from explorer.core.wrapped import wrap_classifier
from explorer.jobs.runs import check_writable
from explorer.measure.inference import export_bundle, predict
from explorer.measure.ood import noise_images


def _as_is(name: str) -> str:
    return name


def _warn(message: str) -> None:
    warnings.warn(message, stacklevel=3)


def _size(n_bytes: int) -> str:
    return f"{n_bytes / 1e6:.1f} MB" if n_bytes >= 1e5 else f"{n_bytes / 1e3:.1f} kB"


def export_classifier(
    dataset: str,
    out: str | os.PathLike,
    *,
    torchvision: str | None = None,
    factory: str | None = None,
    weights: str | os.PathLike | None = None,
    last_layer: str = "fc",
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    validation: bool = False,
    ood: bool = False,
    keep_images: bool = True,
    log: Callable[[str], None] | None = None,
    warn: Callable[[str], None] = _warn,
    argument_name: Callable[[str], str] = _as_is,
) -> Bundle:
    """Write the predictions bundle ``out`` (a name ending in ``.npz``) of one classifier on the test
    split of the image dataset ``dataset``; returns the written :class:`~explorer.core.bundles.Bundle`.

    The classifier is ``torchvision.models.get_model(torchvision)`` or ``factory`` = ``"MODULE:FUNCTION"``
    (exactly one; :mod:`explorer.core.external`), with the state dict in file ``weights`` if given
    (random weights otherwise, which ``warn`` says). ``last_layer`` is the dotted name of its last
    ``nn.Linear``, whose input is the latent z; ``mean`` and ``std`` are the per-channel statistics it
    normalises pixels in [0, 1] by (:func:`~explorer.core.external.fit_channels`: grey images reach a
    3-channel network repeated). The bundle holds logits, latents, that layer, the class names, the
    dataset's name and, with ``keep_images``, the images; ``validation`` adds the outputs on the
    project's validation split of the training split (``TrainConfig``'s seed and ``val_fraction``), for
    temperature scaling, and ``ood`` those on the dataset's out-of-distribution set (uniform noise,
    seed 0, for a dataset without one).

    Everything that can fail quickly is checked before the pass over the data: the output's name and
    folder, the model, its weights and layer, the number of classes, and a forward pass on two images.
    ``log`` receives the progress lines; ``warn`` the caveats (default: :func:`warnings.warn`);
    ``argument_name`` says how messages name a parameter (the command line: its flag, ``--weights``).
    Failures a user can cause raise :class:`~explorer.core.errors.ArgumentError` in one line.
    """
    log = log or (lambda line: None)
    out = Path(out)
    if not is_bundle_path(out):
        raise ArgumentError(f"{argument_name('out')} {out}: a bundle's name ends in .npz (evaluate tells bundles "
                            "by it)")
    check_writable(out)
    check_choice("image dataset", dataset, datasets_of("image"))
    if (torchvision is None) == (factory is None):
        raise ArgumentError(f"give one of {argument_name('torchvision')} and {argument_name('factory')}")
    info = DATASETS[dataset]
    if torchvision is not None:
        network = torchvision_model(torchvision, info.num_classes, argument=argument_name("torchvision"))
        source = f"torchvision {torchvision}"
    else:
        network, source = factory_model(factory, argument=argument_name("factory")), factory
    if weights is not None:
        load_weights(network, weights, argument=argument_name("weights"))
    wrap_classifier(network, last_layer)  # a bad name is reported with the network's own layer names
    fitted = fit_channels(network, info.input_shape[0], mean, std,
                          arguments=(argument_name("mean"), argument_name("std")))
    model = wrap_classifier(fitted.module, fitted.prefix + last_layer, fitted.mean, fitted.std)
    if model.head.linear.out_features != info.num_classes:
        raise ArgumentError(f"layer {last_layer!r} gives {model.head.linear.out_features} outputs but "
                            f"{dataset} has {info.num_classes} classes")
    test = load_dataset(dataset, "test")
    try:  # two images first: a model that cannot take these images fails in a second, not after a pass
        predict(model, test.x[:2])
    except RuntimeError as error:
        raise ArgumentError(f"the model fails on the {dataset} images {tuple(info.input_shape)}: "
                            f"{one_line(error)}") from None
    held_out = ood_images = None
    extras = []
    if validation:
        config = TrainConfig()
        val = validation_split(model, load_dataset(dataset, "train"), config)
        held_out = (val.x, val.y)
        log(f"validation: {len(val)} images of the {dataset} training split, the project's validation split "
            f"(seed {config.seed}, val_fraction {config.val_fraction:g}); honest only if the model did not train "
            "on them")
        extras.append(f"{len(val)} validation")
    if ood:
        other = info.ood
        ood_images = load_dataset(other, "test").x if other else noise_images(test.x, len(test.x), seed=0)
        extras.append(f"{len(ood_images)} OOD ({f'{other} test split' if other else 'uniform noise, seed 0'})")
    if weights is None:
        warn(f"no {argument_name('weights')}, so {source} has random weights: its outputs say nothing about a "
             "trained model")
    if fitted.note:
        log(fitted.note)
    n_params = sum(p.numel() for p in network.parameters())
    log(f"running {source} ({n_params / 1e6:.2f} M parameters) on {len(test)} {dataset} test images"
        f"{' + ' + ' + '.join(extras) if extras else ''}, on the CPU ...")
    started = time.perf_counter()
    bundle = export_bundle(model, test.x, test.y, out, class_names=info.class_names, validation=held_out,
                           ood=ood_images, keep_images=keep_images, dataset=dataset)
    n, k = bundle.logits.shape
    log(f"wrote {out}: N = {n}, K = {k}, d = {bundle.latents.shape[1]}; {', '.join(bundle.arrays())}; "
        f"{_size(out.stat().st_size)} ({time.perf_counter() - started:.1f} s)")
    return bundle


__all__ = ["export_classifier"]
