"""Data-parallel training under torchrun: two gloo processes on the CPU give one process's model."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from explorer import default_configs, load_dataset
from explorer.core.checkpoints import load_checkpoint
from explorer.core.errors import ArgumentError
from explorer.jobs import distributed
from explorer.jobs.training import Share, _check_slices, train

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("n, size", [(64, 2), (13, 2), (7, 3), (5, 5), (100, 7)])
def test_slices_cover_the_batch_in_near_equal_parts(n, size):
    bounds = distributed.slices(n, size)
    lengths = [b - a for a, b in zip(bounds, bounds[1:])]
    assert bounds[0] == 0 and bounds[-1] == n and len(lengths) == size
    assert max(lengths) - min(lengths) <= 1 and lengths == sorted(lengths, reverse=True)
    # a rank's mean times its weight, averaged over the ranks, is the mean of the whole batch
    values = torch.arange(n, dtype=torch.float64)
    shares = [Share(bounds, r, torch.zeros(n)) for r in range(size)]
    averaged = sum(s.weight * values[s.rows].mean() for s in shares) / size
    assert float(averaged) == pytest.approx(float(values.mean()))


def test_a_batch_too_small_to_share_is_refused_before_training():
    _check_slices(1293, 64, 2)  # digits' last batch holds 13
    with pytest.raises(ArgumentError, match="2 processes cannot share a batch of 1 .*129 training examples"):
        _check_slices(129, 64, 2)
    with pytest.raises(ArgumentError, match="4 processes cannot share a batch of 2"):
        _check_slices(10, 2, 4)


def test_one_process_has_no_world():
    assert not distributed.launched() and distributed.current() is None
    assert distributed.init_from_environment() is None


# softmax; the paper's VC with the moment KL of the pooled correlations (digits' default), which every
# rank computes on the gathered latents of the whole batch; the released VC, whose discriminator
# averages its gradients over the ranks and draws prior samples for the global batch
BATCH = 63  # odd: every batch splits 32 / 31, so each rank's weight W·n_r/N matters at every step
CASES = {"softmax": ("softmax", []), "vc": ("vc", []),
         "vc-released": ("vc", ["--objective", "released"])}


def torchrun(*train_args: str) -> subprocess.CompletedProcess:
    """``torchrun --standalone --nproc_per_node=2 -m explorer train ...`` on the CPU, from the repository."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "explorer",
         "train", "--quiet", "--device", "cpu", *train_args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("case", CASES)
def test_two_gloo_processes_train_the_single_process_model(case, tmp_path):
    method, flags = CASES[case]
    out = tmp_path / "model.pt"
    run = torchrun("--dataset", "digits", "--method", method, "--encoder", "mlp", "--epochs", "1",
                   "--batch-size", str(BATCH), "--out", str(out), *flags)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.count("saved ") == 1, run.stdout  # rank 0 alone reports
    assert "data-parallel: 2 processes (gloo)" in run.stderr

    model, meta = load_checkpoint(out)  # no wrapper prefixes: it loads as any other checkpoint
    assert meta["distributed"] == {"world_size": 2, "backend": "gloo"}
    assert len(meta["history"]) == 1 and meta["snapshots"].shape[0] == 2

    overrides = {"objective": "released"} if flags else {}
    model_config, train_config = default_configs("digits", method, encoder="mlp", epochs=1, device="cpu",
                                                 batch_size=BATCH, **overrides)
    alone = train(load_dataset("digits", "train"), model_config, train_config)
    ours, theirs = model.state_dict(), alone.model.state_dict()
    assert ours.keys() == theirs.keys()
    # Float rounding alone: summing gradients over ranks rounds differently. Measured ~1e-6 after this
    # epoch; a wrong weight or a moment KL of each slice alone moves the weights by ~1e-3.
    worst = max(float((ours[k].double() - theirs[k].double()).abs().max()) for k in ours)
    assert worst < 1e-5, worst
    for key in ("cross_entropy", "loss", "val_accuracy"):  # epoch metrics reduced over both ranks
        assert meta["history"][0][key] == pytest.approx(alone.history[0][key], rel=1e-5)
    assert "distributed" not in alone.history[0]


def test_sync_batchnorm_on_the_cpu_is_refused_in_one_line(tmp_path):
    run = torchrun("--dataset", "digits", "--method", "softmax", "--encoder", "cnn", "--epochs", "1",
                   "--sync-batchnorm", "--out", str(tmp_path / "model.pt"))
    assert run.returncode != 0
    assert "error: sync_batchnorm: PyTorch's SyncBatchNorm runs on GPUs only" in run.stderr
    assert "explorer/jobs/training.py" not in run.stderr  # the CLI's one line, not our traceback
    assert not (tmp_path / "model.pt").exists()
