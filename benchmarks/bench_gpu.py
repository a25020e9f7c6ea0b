"""Training speed of ResNet-18 on CIFAR-10-shaped images, printed (not asserted).

    python benchmarks/bench_gpu.py [--device cuda] [--batch-size 128] [--steps 50] [--warmup 10]
                                   [--epoch] [--settings fp32 bf16 compile bf16+compile]

For each setting (float32; ``--amp bf16``; ``--compile``; both) and each method (softmax, vc with the
paper's objective), it times training steps of :class:`explorer.jobs.training.TrainingStep`, the code
``train`` runs, on batches cut from uint8 images held on the device and crop-flipped there
(:mod:`explorer.core.augment`), as ``train`` does for CIFAR-10. It prints images per second, the
VC ÷ softmax time ratio, and the seconds of one 50 000-image epoch that this throughput implies.
The warm-up steps (and ``torch.compile``'s compilation in them) are left out of the timing.

With ``--epoch`` it also trains one real epoch through ``train`` per setting (softmax; CIFAR-10 from
``EXPLORER_DATA_DIR`` when its files are there, else 50 000 random images of its shape, which cost
the same arithmetic) and prints that epoch's seconds, validation included.

It is meant for a GPU. ``--device cpu`` runs it anywhere with few steps, to check the script.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time

import torch


from explorer.core.augment import as_float, crop_flip
from explorer.core.config import default_configs
from explorer.core.data import ImageData, load_dataset
from explorer.core.errors import DatasetUnavailableError
from explorer.core.models import build_model
from explorer.jobs.training import TrainingStep, train

SETTINGS = {"fp32": {}, "bf16": {"amp": "bf16"}, "compile": {"compile": True},
            "bf16+compile": {"amp": "bf16", "compile": True}}


def synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def throughput(method: str, setting: dict, device: torch.device, batch_size: int, steps: int,
               warmup: int) -> float:
    """Images per second of training steps on CIFAR-shaped batches (uint8 on the device, crop-flipped)."""
    model_config, train_config = default_configs("cifar10", method, device=device.type, batch_size=batch_size,
                                                 **setting)
    model = build_model(model_config, seed=0).to(device).train()
    model.head.set_class_prior(torch.ones(10, device=device))
    step = TrainingStep(model, train_config, total_steps=warmup + steps)
    generator = torch.Generator(device).manual_seed(0)
    images = torch.randint(0, 256, (4 * batch_size, 3, 32, 32), dtype=torch.uint8, device=device,
                           generator=generator)
    labels = torch.randint(0, 10, (4 * batch_size,), device=device, generator=generator)
    times = []
    for i in range(warmup + steps):
        batch = torch.randint(0, len(labels), (batch_size,), device=device, generator=generator)
        synchronise(device)
        started = time.perf_counter()
        step(crop_flip(as_float(images[batch]), generator), labels[batch])
        synchronise(device)
        if i >= warmup:
            times.append(time.perf_counter() - started)
    return batch_size / statistics.median(times)


def epoch_seconds(setting: dict, device: torch.device, batch_size: int) -> tuple[float, str]:
    """One epoch of ``train`` on CIFAR-10 (or random images of its shape), softmax; and the data's name."""
    try:
        data, source = load_dataset("cifar10", "train", download=False), "CIFAR-10"
    except DatasetUnavailableError:
        generator = torch.Generator().manual_seed(0)
        x = torch.randint(0, 256, (50_000, 3, 32, 32), dtype=torch.uint8, generator=generator).float() / 255
        y = torch.randint(0, 10, (50_000,), generator=generator)
        data = ImageData("cifar10", x, y, tuple(str(k) for k in range(10)))
        source = "random images of CIFAR-10's shape (no CIFAR-10 files found)"
    model_config, train_config = default_configs("cifar10", "softmax", device=device.type, batch_size=batch_size,
                                                 epochs=1, snapshot_points=0, **setting)
    result = train(data, model_config, train_config)
    return float(result.history[0]["seconds"]), source


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="cuda (default), or cpu to check the script")
    parser.add_argument("--batch-size", type=int, default=128, help="CIFAR-10's default batch (default: 128)")
    parser.add_argument("--steps", type=int, default=50, help="timed steps per method and setting (default: 50)")
    parser.add_argument("--warmup", type=int, default=10, help="untimed steps first (default: 10)")
    parser.add_argument("--settings", nargs="+", choices=SETTINGS, default=list(SETTINGS))
    parser.add_argument("--epoch", action="store_true", help="also train one real epoch per setting")
    args = parser.parse_args()

    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("bench_gpu: no CUDA device here; run it on a GPU machine (or --device cpu to check the script)")
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "CPU"
    print(f"{name}, torch {torch.__version__}, ResNet-18 on 3x32x32, batch {args.batch_size}, median of "
          f"{args.steps} steps after {args.warmup}", flush=True)
    for label in args.settings:
        setting = SETTINGS[label]
        rates = {m: throughput(m, setting, device, args.batch_size, args.steps, args.warmup) for m in ("softmax", "vc")}
        print(f"{label:>13}: softmax {rates['softmax']:8.0f} img/s, vc {rates['vc']:8.0f} img/s, "
              f"vc / softmax time {rates['softmax'] / rates['vc']:.2f}; a 50 000-image epoch: "
              f"{50_000 / rates['softmax']:.1f} s softmax, {50_000 / rates['vc']:.1f} s vc", flush=True)
        if args.epoch:
            seconds, source = epoch_seconds(setting, device, args.batch_size)
            print(f"{'':>13}  one epoch through train (softmax, validation included): {seconds:.1f} s on {source}",
                  flush=True)


if __name__ == "__main__":
    main()
