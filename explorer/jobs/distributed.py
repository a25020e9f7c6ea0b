"""Data-parallel training under PyTorch's launcher, ``torchrun``, as one process's training.

``torchrun --standalone --nproc_per_node=N -m explorer train ...`` starts N processes, each told its
rank by the environment (``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``). :func:`init_from_environment`
joins them in a process group (gloo on the CPU, NCCL on CUDA, one device per local rank), and
:func:`~explorer.jobs.training.train` then trains with every rank on its slice of each global batch:

- the global batch is the one a single process uses (``batch_size``), cut into W contiguous slices
  whose sizes differ by at most one (:func:`slices`), so every rank takes the same number of steps;
- a term that is a mean over the batch (cross-entropy, −log p(z|y), the discriminator's terms) is the
  rank's mean weighted by W·n_r/N, so that the wrapper's average of the gradients over the ranks is
  the gradient of the global batch's mean;
- the moment KL, a function of each class's batch mean and variance, is computed by every rank on
  the whole batch's latents (:func:`gather_rows`, whose backward hands each rank the sum of the
  gradients that every rank's copy of the term sends to its rows);
- prior samples and dropped words are drawn for the global batch and sliced.

So W processes give the single-process model up to float rounding. BatchNorm normalises by the
statistics of the batch it sees, a slice here, so models with it (the CNN and ResNet encoders) differ
from a single process's unless ``sync_batchnorm`` converts their layers to ``SyncBatchNorm``, which
pools the statistics of the slices; PyTorch runs ``SyncBatchNorm`` on GPUs only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor

from explorer.core.errors import ArgumentError


@dataclass(frozen=True)
class World:
    """The processes of one data-parallel run, as this process sees them."""

    rank: int
    size: int
    local_rank: int
    backend: str

    @property
    def main(self) -> bool:
        """Rank 0: the process that logs, draws progress, records snapshots and saves."""
        return self.rank == 0

    def device(self) -> torch.device:
        """This rank's device: its local GPU under NCCL, the CPU under gloo."""
        return torch.device("cuda", self.local_rank) if self.backend == "nccl" else torch.device("cpu")

    def meta(self) -> dict[str, object]:
        """What a checkpoint records of the run: ``{"world_size", "backend"}``."""
        return {"world_size": self.size, "backend": self.backend}


def launched() -> bool:
    """Whether a launcher started this process as one of several (``WORLD_SIZE`` > 1)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_from_environment(device: str = "auto") -> World | None:
    """Join the process group the launcher describes, once; None when this process runs alone.

    The backend follows the device: NCCL when ``device`` is ``"auto"`` or ``"cuda"`` and CUDA is
    available (each rank on GPU ``LOCAL_RANK``), gloo on the CPU otherwise.
    """
    if not launched():
        return None
    if not dist.is_initialized():
        cuda = device in ("auto", "cuda") and torch.cuda.is_available()
        if device == "cuda" and not cuda:
            raise ArgumentError("device 'cuda' is not available here; run on the CPU (gloo) with --device cpu")
        if device not in ("auto", "cuda", "cpu"):
            raise ArgumentError(f"data-parallel training runs on CUDA (NCCL) or the CPU (gloo), not {device!r}")
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        if cuda:
            if local_rank >= torch.cuda.device_count():
                raise ArgumentError(f"local rank {local_rank} has no GPU: this machine has "
                                    f"{torch.cuda.device_count()}; start at most that many processes per node")
            torch.cuda.set_device(local_rank)
        dist.init_process_group("nccl" if cuda else "gloo")
    return current()


def current() -> World | None:
    """The initialised process group as a :class:`World`, or None when there is none (or one process)."""
    if not dist.is_available() or not dist.is_initialized() or dist.get_world_size() == 1:
        return None
    return World(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")),
                 dist.get_backend())


def close(wait: bool = True) -> None:
    """Leave the process group; with ``wait``, once every rank has reached this point."""
    if dist.is_available() and dist.is_initialized():
        if wait:
            dist.barrier()
        dist.destroy_process_group()


def slices(n: int, size: int) -> list[int]:
    """Boundaries of ``size`` contiguous slices of n rows whose lengths differ by at most one, the longer
    first (``torch.tensor_split``'s): slice r is rows ``[b[r], b[r + 1])``."""
    bounds = [0]
    for r in range(size):
        bounds.append(bounds[-1] + n // size + (r < n % size))
    return bounds


def gather_rows(x: Tensor, bounds: list[int]) -> Tensor:
    """The rows of every rank in rank order, (bounds[-1], ...), differentiable: rank r holds rows
    ``[bounds[r], bounds[r + 1])`` (possibly none).

    Its backward gives this rank the sum over the ranks of the gradients that reach its rows: each
    rank's copy of a term of the whole batch sends its share.
    """
    return _GatherRows.apply(x, bounds)


class _GatherRows(torch.autograd.Function):
    """All-gather of slices of unequal lengths (each padded to the longest for the collective), whose
    backward all-reduces the gradient of the whole and keeps this rank's rows."""

    @staticmethod
    def forward(ctx, x: Tensor, bounds: list[int]) -> Tensor:  # type: ignore[override]
        lengths = [b - a for a, b in zip(bounds, bounds[1:])]
        rank = dist.get_rank()
        ctx.rows = (bounds[rank], bounds[rank + 1])
        padded = x.new_zeros((max(lengths), *x.shape[1:]))
        padded[: len(x)] = x
        parts = [torch.empty_like(padded) for _ in lengths]
        dist.all_gather(parts, padded.contiguous())
        return torch.cat([part[:n] for part, n in zip(parts, lengths)])

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:  # type: ignore[override]
        total = grad.contiguous().clone()
        dist.all_reduce(total)
        start, stop = ctx.rows
        return total[start:stop], None


def sum_over_ranks(values: dict[str, float], device: torch.device) -> dict[str, float]:
    """Each value summed over the ranks (the epoch's weighted sums of the loss terms)."""
    names = sorted(values)
    total = torch.tensor([values[k] for k in names], dtype=torch.float64, device=device)
    dist.all_reduce(total)
    return dict(zip(names, total.tolist()))


def average_gradients(module: torch.nn.Module) -> None:
    """Replace every gradient of ``module`` by its mean over the ranks (the discriminator's, which
    trains outside the wrapper)."""
    size = dist.get_world_size()
    for p in module.parameters():
        if p.grad is not None:
            dist.all_reduce(p.grad)
            p.grad.div_(size)
