"""Speed of the core, printed (not asserted): run ``python benchmarks/bench_core.py``.

1. The time of one ``vc`` training step divided by one ``softmax`` step: same CNN encoder, d = 16,
   batch 256 of MNIST-shaped images, CPU; the step is :class:`explorer.jobs.training.TrainingStep`, the very
   code :func:`explorer.jobs.training.train` runs. Steps alternate between the two methods so that drift in
   the machine's speed hits both alike; the median over repeats is reported.
2. The time to evaluate the 10 000 MNIST test images (batched inference + every calibration metric)
   with the same CNN; the images come from ``EXPLORER_DATA_DIR`` when MNIST is there, else random
   images of the same shape (the arithmetic, hence the time, is the same).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import torch


from explorer.core.config import default_configs
from explorer.core.data import load_dataset
from explorer.core.errors import DatasetUnavailableError
from explorer.core.models import build_model
from explorer.jobs.training import TrainingStep
from explorer.measure.evaluation import evaluate


def step_ratio(batch_size: int, repeats: int, warmup: int) -> dict[str, float]:
    steppers = {}
    for method in ("softmax", "vc"):
        model_config, train_config = default_configs("mnist", method, device="cpu")
        model = build_model(model_config, seed=0).train()
        steppers[method] = TrainingStep(model, train_config, total_steps=warmup + repeats)
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(batch_size, 1, 28, 28, generator=generator)
    y = torch.randint(0, 10, (batch_size,), generator=generator)
    times = {m: [] for m in steppers}
    for i in range(warmup + repeats):
        for method, step in steppers.items():
            started = time.perf_counter()
            step(x, y)
            if i >= warmup:
                times[method].append(time.perf_counter() - started)
    median = {m: statistics.median(t) for m, t in times.items()}
    return {"softmax_step_s": median["softmax"], "vc_step_s": median["vc"],
            "ratio": median["vc"] / median["softmax"]}


def evaluation_time(repeats: int) -> tuple[float, str]:
    try:
        test = load_dataset("mnist", "test", download=False)
        x, y, source = test.x, test.y, "MNIST test split"
    except DatasetUnavailableError:
        x, y, source = torch.rand(10_000, 1, 28, 28), torch.randint(0, 10, (10_000,)), "random images"
    model = build_model(default_configs("mnist", "vc")[0], seed=0).eval()
    evaluate(model, x[:1000], y[:1000])  # warm-up
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        evaluate(model, x, y)
        times.append(time.perf_counter() - started)
    return statistics.median(times), f"{len(x)} images, {source}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=30, help="timed steps per method (default: 30)")
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    r = step_ratio(args.batch_size, args.repeats, args.warmup)
    print(f"training step, CNN d=16, batch {args.batch_size}, CPU (median of {args.repeats}): "
          f"softmax {r['softmax_step_s'] * 1e3:.1f} ms, vc {r['vc_step_s'] * 1e3:.1f} ms, "
          f"vc/softmax = {r['ratio']:.3f} (target <= 1.15)")
    seconds, what = evaluation_time(repeats=3)
    print(f"evaluation of {what} (median of 3): {seconds:.2f} s (target <= 2 s)")


if __name__ == "__main__":
    main()
