"""One training function for every method (METHOD.md §3), reporting through a callback.

It sits above :mod:`explorer.measure` because every epoch is measured on the validation split
(accuracy, ECE, NLL) with the very metrics the rest of the project reports.

Per mini-batch (x, y): z = f(x); logits = head(z); the network and prior optimisers step on
``cross_entropy + λ_prior·prior_nll + λ_kl·kl_estimate`` (terms as the method uses them), then the
discriminator, with its own AdamW optimiser, steps on latents (detached) against prior samples.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor

from explorer.core._io import seeded
from explorer.core.augment import as_float, compact, crop_flip
from explorer.core.config import TEXT_ENCODERS, ModelConfig, TrainConfig
from explorer.core.data import Dataset, drop_words, split_indices
from explorer.core.errors import ArgumentError
from explorer.core.models import Classifier, build_model
from explorer.core.objectives import (
    METHOD_TERMS, ClassConditionalDiscriminator, cross_entropy, discriminator_loss, kl_estimate, moment_kl,
    prior_nll,
)
from explorer.jobs import distributed
from explorer.jobs.distributed import World
from explorer.measure.calibration import expected_calibration_error, negative_log_likelihood
from explorer.measure.inference import predict


@dataclass(frozen=True)
class Progress:
    """What the callback receives: after every step, and with ``record`` set at the end of an epoch."""

    epoch: int
    """1-based epoch in progress."""
    epochs: int
    step: int
    """1-based step within the epoch."""
    steps: int
    terms: dict[str, float]
    """Loss terms of the last batch."""
    record: dict[str, object] | None = None
    """The epoch's history record (see :func:`train`), only on the epoch's last step."""
    result: TrainResult | None = None
    """The run so far, only on an epoch's last step, so that a callback can save every finished
    epoch: the model (in eval mode during the call, on its device, still being trained: copy it
    before keeping it, never modify it), the history and the snapshots up to this epoch."""


@dataclass
class TrainResult:
    """The trained model (eval mode, on the CPU) and what was recorded on the way."""

    model: Classifier
    history: list[dict[str, object]]
    snapshots: Tensor | None = None
    """Latents of a fixed sample of validation points: (epochs + 1, n, d), epoch 0 = initialisation."""
    snapshot_labels: Tensor | None = None
    class_counts: list[int] = field(default_factory=list)
    prior_means: Tensor | None = None
    """The head's class means (learned or implied) after every epoch: (epochs + 1, K, d)."""
    prior_variances: Tensor | None = None
    """The head's class variances (squared scales for a Student-t head) after every epoch: (epochs + 1, K, d)."""


def resolve_device(name: str = "auto") -> torch.device:
    """``"auto"`` picks CUDA, then Apple's MPS, then the CPU; a named device must be available."""
    available = {"cpu": True, "cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available()}
    if name != "auto":
        if not available.get(name):
            raise ArgumentError(f"device {name!r} is not available here; available: "
                                f"{', '.join(['auto'] + [d for d, ok in available.items() if ok])}")
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


class _Outputs(torch.nn.Module):
    """The classifier as one forward pass returning (z, logits), the form the data-parallel wrapper
    takes: encoder and head both run inside it.

    With ``amp`` the encoder runs under ``torch.autocast`` in bfloat16 and z returns to float32, so
    the head and every term of z (prior, KL, discriminator) stay in float32. With ``compiled`` the
    encoder's pass goes through ``torch.compile``; the modules themselves are left as they are, so
    the state dict (and a checkpoint) has the names of an uncompiled model.
    """

    def __init__(self, model: Classifier, amp: str = "off", compiled: bool = False) -> None:
        super().__init__()
        self.model, self.amp = model, amp
        self.embed = torch.compile(model.embed) if compiled else model.embed

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if self.amp == "bf16":
            with torch.autocast(x.device.type, dtype=torch.bfloat16):
                z = self.embed(x)
            z = z.float()
        else:
            z = self.embed(x)
        return z, self.model.head(z)


@dataclass(frozen=True)
class Share:
    """One rank's part of a global batch in data-parallel training (:mod:`explorer.jobs.distributed`)."""

    bounds: list[int]
    """Every rank's rows of the global batch: rank r holds ``[bounds[r], bounds[r + 1])``."""
    rank: int
    y: Tensor
    """The global batch's labels (N,)."""

    @property
    def rows(self) -> slice:
        return slice(self.bounds[self.rank], self.bounds[self.rank + 1])

    @property
    def weight(self) -> float:
        """W·n_r/N: a rank's mean times this, averaged over the ranks, is the global batch's mean."""
        return (len(self.bounds) - 1) * (self.bounds[self.rank + 1] - self.bounds[self.rank]) / self.bounds[-1]


class TrainingStep:
    """One optimisation step of METHOD.md §3 on a batch; holds the optimisers and the discriminator.

    The network (and, for ``softmax``, its linear head) learns with Adam at ``lr``; a Gaussian head's
    means and log-variances with their own Adam at ``prior_lr_scale × lr``; both follow the schedule
    over ``total_steps``. For ``vc`` with a discriminator estimator (``linear``, ``quadratic``,
    ``mlp``), T then steps with AdamW at ``disc_lr`` on the batch's latents (detached) against prior
    samples of the batch's labels; the ``moment`` estimator needs none. For ``vc`` with the ``paper``
    objective the prior term sees detached latents (METHOD.md §3b).

    Under data-parallel training (``world``) the classifier runs inside ``DistributedDataParallel``
    and each call takes this rank's slice of the global batch with its :class:`Share`.
    """

    def __init__(self, model: Classifier, config: TrainConfig, total_steps: int,
                 world: World | None = None) -> None:
        self.model, self.config, self.world = model, config, world
        self.forward: torch.nn.Module = _Outputs(model, config.amp, config.compile)
        if world is not None:
            from torch.nn.parallel import DistributedDataParallel

            device = next(model.parameters()).device
            self.forward = DistributedDataParallel(
                self.forward, device_ids=[device.index] if device.type == "cuda" else None)
        self.terms = METHOD_TERMS[model.config.method]
        if model.config.method == "softmax":  # an ordinary layer: it learns with the network
            groups = [{"params": model.parameters(), "lr": config.lr}]
        else:
            groups = [{"params": model.encoder.parameters(), "lr": config.lr},
                      {"params": model.head.parameters(), "lr": config.lr * config.prior_lr_scale,
                       "weight_decay": 0.0}]
        self.optimiser = torch.optim.Adam(groups, weight_decay=config.weight_decay)
        self.scheduler = (torch.optim.lr_scheduler.CosineAnnealingLR(self.optimiser, T_max=total_steps)
                          if config.schedule == "cosine" else None)
        self.discriminator = self.disc_optimiser = None
        moment = config.kl_estimator in ("moment", "moment_corr")
        if "kl" in self.terms and moment and model.config.prior != "gaussian":
            raise ArgumentError(f"the moment estimator's closed form needs a Gaussian prior, not "
                                f"{model.config.prior!r}; choose a discriminator estimator")
        if "kl" in self.terms and not moment:
            device = next(model.parameters()).device
            with seeded(config.seed):
                self.discriminator = ClassConditionalDiscriminator(
                    model.config.latent_dim, model.config.num_classes, config.disc_hidden,
                    quadratic=config.kl_estimator == "quadratic").to(device)
            # The prior samples come from a generator of the step's own, never torch's global one,
            # so runs in other threads (app sessions) neither disturb nor are disturbed by this one.
            self.generator = torch.Generator(device).manual_seed(config.seed)
            # AdamW's default decoupled weight decay (0.01) keeps T small where no latents fall.
            self.disc_optimiser = torch.optim.AdamW(self.discriminator.parameters(), lr=config.disc_lr,
                                                    weight_decay=0.01)

    def __call__(self, x: Tensor, y: Tensor, share: Share | None = None) -> dict[str, Tensor]:
        """Step on images x (B, C, H, W) in [0, 1] and labels y (B,); returns the detached loss terms,
        each the mean over x (the moment KL: over the global batch).

        With ``share``, x and y are this rank's rows of the global batch ``share.y``.
        """
        model, config = self.model, self.config
        weight = 1.0 if share is None else share.weight
        z, logits = self.forward(x)
        ce = cross_entropy(logits, y)
        mean_terms, whole_terms = ce, 0.0  # means over x, and terms of the whole (global) batch
        if "prior_nll" in self.terms:
            # lgm and released vc: the term reaches the encoder too; paper vc: it fits the prior alone
            detach = model.config.method == "vc" and config.objective == "paper"
            nll = prior_nll(model.head, z.detach() if detach else z, y)
            mean_terms = mean_terms + config.lambda_prior * nll
        else:  # reported all the same: how far the latents are from the head's assumed Gaussians
            with torch.no_grad():
                nll = prior_nll(model.head, z.detach(), y)
        stats = {"cross_entropy": ce, "prior_nll": nll}
        if self.discriminator is not None:
            self.discriminator.requires_grad_(False)  # the encoder's gradient only; T learns below
            kl = kl_estimate(self.discriminator, z, y)
            self.discriminator.requires_grad_(True)
            mean_terms = mean_terms + config.lambda_kl * kl
            stats["kl_estimate"] = kl
        elif "kl" in self.terms:  # the moment estimator: closed form, the prior held fixed
            everyone = (z, y) if share is None else (distributed.gather_rows(z, share.bounds), share.y)
            kl = moment_kl(model.head, *everyone, correlation=config.kl_estimator == "moment_corr")
            whole_terms = config.lambda_kl * kl
            stats["kl_estimate"] = kl
        self.optimiser.zero_grad(set_to_none=True)
        (weight * mean_terms + whole_terms).backward()
        self.optimiser.step()
        if self.scheduler is not None:
            self.scheduler.step()
        stats["loss"] = mean_terms + whole_terms

        if self.discriminator is not None:
            with torch.no_grad():  # drawn for the global batch, so every world size draws the same
                fake = model.head.sample(y if share is None else share.y, generator=self.generator)
            if share is not None:
                fake = fake[share.rows]
            disc_loss, stats["disc_accuracy"] = discriminator_loss(self.discriminator, z.detach(), fake, y)
            self.disc_optimiser.zero_grad(set_to_none=True)
            (weight * disc_loss).backward()
            if share is not None:
                distributed.average_gradients(self.discriminator)
            self.disc_optimiser.step()
        return {k: v.detach() for k, v in stats.items()}


def _fit_vocabulary(model_config: ModelConfig, data) -> ModelConfig:
    """A text model's config with its vocabulary's size, which the training data set."""
    vocabulary = getattr(data, "vocabulary", None)
    if vocabulary is None:
        raise ArgumentError(f"encoder {model_config.encoder!r} reads text; {data.name} is not a text dataset")
    if model_config.vocab_size not in (0, vocabulary.size):
        raise ArgumentError(f"vocab_size {model_config.vocab_size} does not fit the data's vocabulary "
                            f"({vocabulary.size} ids); leave it unset")
    return dataclasses.replace(model_config, vocab_size=vocabulary.size)


def steps_per_epoch(n: int, batch_size: int) -> int:
    """Optimisation steps of one epoch over n images: the last batch may be short, never dropped."""
    return -(-n // batch_size)


def train(
    data: Dataset,
    model_config: ModelConfig,
    config: TrainConfig,
    callback: Callable[[Progress], None] | None = None,
) -> TrainResult:
    """Train ``model_config.method`` on ``data`` (a training split); deterministic for ``config.seed``.

    History: one record per epoch with the epoch's mean loss terms (``loss``, ``cross_entropy``,
    ``prior_nll`` — under the head's assumed Gaussians also when not optimised —, and for ``vc``
    ``kl_estimate`` and ``disc_accuracy``), ``val_accuracy``, ``val_ece`` (with
    :data:`~explorer.core.config.N_BINS` bins), ``val_nll``, ``latent_norm`` (mean ‖z‖ per class on the
    validation split) and ``seconds``.

    In a process group (``torchrun``, :func:`explorer.jobs.distributed.init_from_environment`) every
    rank trains on its slice of each batch (:mod:`explorer.jobs.distributed`); rank 0 alone measures
    the validation split, records snapshots and calls ``callback``, and the other ranks return an
    empty history.
    """
    world = distributed.current()
    device = world.device() if world is not None else resolve_device(config.device)
    generator = torch.Generator().manual_seed(config.seed)
    if model_config.encoder in TEXT_ENCODERS:
        model_config = _fit_vocabulary(model_config, data)
    elif config.word_dropout:
        raise ArgumentError(f"word_dropout drops words of documents; the {model_config.encoder} encoder reads "
                            "images (set it to 0)")
    if config.augment != "none" and model_config.encoder in TEXT_ENCODERS:
        raise ArgumentError(f"augment {config.augment!r} crops and flips images; the {model_config.encoder} "
                            "encoder reads documents (use word_dropout)")

    train_idx, val_idx = split_indices(data.y, config)
    x, y = data.x[train_idx], data.y[train_idx].to(device)
    # images of 8-bit files wait on the device as uint8 (core/augment.py); token ids as they are
    x = (x if model_config.encoder in TEXT_ENCODERS else compact(x)).to(device)
    val = data.subset(val_idx)
    counts = torch.bincount(data.y[train_idx], minlength=model_config.num_classes)
    if (counts == 0).any():
        raise ArgumentError(f"classes {(counts == 0).nonzero().flatten().tolist()} have no training images "
                            f"left after val_fraction={config.val_fraction} and "
                            f"train_fraction={config.train_fraction}")

    if world is not None:
        _check_slices(len(train_idx), config.batch_size, world.size)
    model = build_model(model_config, seed=config.seed)
    if config.sync_batchnorm and world is not None:
        if device.type != "cuda":
            raise ArgumentError("sync_batchnorm: PyTorch's SyncBatchNorm runs on GPUs only; on the CPU each "
                                "rank normalises by its own slice (leave it unset)")
        model.encoder = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model.encoder)
    model = model.to(device)
    model.vocabulary = getattr(data, "vocabulary", None)
    if hasattr(model.encoder, "fit_weights"):  # a text encoder's idf, from the documents it trains on
        model.encoder.fit_weights(x)
    model.head.set_class_prior(counts.to(device))
    n, steps = len(y), steps_per_epoch(len(y), config.batch_size)
    step_fn = TrainingStep(model, config, total_steps=config.epochs * steps, world=world)
    main = world is None or world.main

    # word dropout draws from a generator of its own, so the batches are the same with or without it
    words = torch.Generator(device).manual_seed(config.seed) if config.word_dropout else None
    crops = torch.Generator(device).manual_seed(config.seed) if config.augment == "crop_flip" else None
    snap_idx = torch.randperm(len(val), generator=generator)[: config.snapshot_points]
    snapshots, means, variances = [], [], []

    def record_state() -> None:  # after every epoch, and once before the first
        if len(snap_idx) and main:
            snapshots.append(predict(model, val.x[snap_idx])[1])
        with torch.no_grad():
            means.append(model.head.class_means().detach().cpu())
            variances.append(model.head.class_log_vars().exp().detach().cpu())

    def result_so_far() -> TrainResult:
        return TrainResult(
            model=model, history=list(history),
            snapshots=torch.stack(snapshots) if snapshots else None,
            snapshot_labels=val.y[snap_idx] if len(snap_idx) else None,
            class_counts=counts.cpu().tolist(),
            prior_means=torch.stack(means), prior_variances=torch.stack(variances),
        )

    record_state()

    history = []
    for epoch in range(1, config.epochs + 1):
        model.train()
        started, sums = time.perf_counter(), {}
        order = torch.randperm(n, generator=generator).to(device)
        for step in range(1, steps + 1):
            batch = order[(step - 1) * config.batch_size: step * config.batch_size]
            xb, yb = as_float(x[batch]), y[batch]
            if words is not None:
                xb = drop_words(xb, config.word_dropout, words)
            if crops is not None:
                xb = crop_flip(xb, crops)
            share = None
            if world is not None:  # this rank's slice; what was drawn, drawn for the global batch
                share = Share(distributed.slices(len(batch), world.size), world.rank, yb)
                xb, yb = xb[share.rows], yb[share.rows]
            try:
                stats = step_fn(xb, yb, share)
            except ValueError as error:  # torch's BatchNorm cannot normalise one value per channel
                if len(batch) > 1:
                    raise
                raise ArgumentError(f"a batch of one image cannot be trained here ({error}); choose a batch "
                                    f"size that leaves no batch of one ({n} images, batch_size "
                                    f"{config.batch_size})") from None
            values = {k: float(v) for k, v in stats.items()}
            for k, v in values.items():
                sums[k] = sums.get(k, 0.0) + v * len(yb)
            record = None
            if step == steps and world is not None:
                sums = distributed.sum_over_ranks(sums, device)
            if step == steps:
                if main:
                    record = _epoch_record(model, val, {k: v / n for k, v in sums.items()}, epoch, started)
                    history.append(record)
                record_state()
            if callback is not None and main:
                if record is not None:
                    model.eval()
                callback(Progress(epoch, config.epochs, step, steps, values, record,
                                  result_so_far() if record is not None else None))
                model.train()

    model.cpu().eval()
    return result_so_far()


def _check_slices(n: int, batch_size: int, world_size: int) -> None:
    """Every batch must give each rank at least one row: the full ones and the last, short one."""
    last = n % batch_size or batch_size  # the smallest batch: the last, or all of them when they are equal
    if last < world_size:
        raise ArgumentError(f"{world_size} processes cannot share a batch of {last} "
                            f"({n} training examples in batches of {batch_size}); choose a batch size whose "
                            f"last batch holds at least {world_size}, or fewer processes")


def _epoch_record(model: Classifier, val: Dataset, means: dict[str, float], epoch: int,
                  started: float) -> dict[str, object]:
    logits, z = predict(model, val.x)
    probs = torch.softmax(logits.double(), dim=1).numpy()  # float32 saturates at 1.0 (calibration.py)
    labels = val.y.numpy()
    norms = z.norm(dim=1)
    latent_norm = [float(norms[val.y == k].mean()) if (val.y == k).any() else float("nan")
                   for k in range(logits.shape[1])]
    return {
        "epoch": epoch,
        **means,
        "val_accuracy": float((probs.argmax(1) == labels).mean()),
        "val_ece": expected_calibration_error(probs, labels),
        "val_nll": negative_log_likelihood(probs, labels),
        "latent_norm": latent_norm,
        "seconds": time.perf_counter() - started,
    }
