"""Where a dataset's out-of-distribution latents land among a model's class Gaussians, and so why the
latent density log p(z) ranks them as it does (:func:`explorer.measure.ood.latent_placement`).

For each checkpoint: the in-distribution test latents and the OOD set's test latents (the dataset's
own partner, :attr:`explorer.core.data.DatasetInfo.ood`), against the class Gaussians (VC: its prior;
softmax: the member of its implied family fitted to its validation latents, ``--implied``). Prints, per
model and side, the median |z|, the median distance to the centre of the class means, the median r² to
the nearest class beside the r² law's median (a typical in-class latent's), the share nearer a class
than that, the mean −½ log det Σ of the nearest class, the median log p(z), the classes the OOD latents
land nearest, the AUROC of log p(z), of the Mahalanobis score and of |z| (in-distribution positive), and
what of these lets log p(z) rank the OOD set as it does (:func:`explorer.measure.ood.cause_sentence`).
``--into RESULTS`` also stores them in a results file under ``"ood_placement"``: the results report's
OOD section explains the log p(z) AUROC from them (:func:`explorer.jobs.report.placement_note`); a new
benchmark run writes its results afresh, so run this again after it.

    python benchmarks/explain_ood.py --into docs/results/results.json
    python benchmarks/explain_ood.py --checkpoints checkpoints/fashion-mnist-cnn-d16-vc.pt

MNIST and Fashion-MNIST need their files (``EXPLORER_DATA_DIR``). One thread: a few minutes on a CPU.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import sys
import time
from pathlib import Path

import torch

from explorer.core.checkpoints import SHIPPED_DIR, load_checkpoint
from explorer.core.config import COVARIANCES, DEFAULT_COVARIANCE
from explorer.core.data import dataset_info, load_dataset, readable_by
from explorer.jobs.report import OOD_PLACEMENT
from explorer.measure.inference import predict
from explorer.measure.latents import checkpoint_reference
from explorer.measure.ood import PLACEMENT, cause_sentence, latent_placement

SHIPPED = [*(SHIPPED_DIR / f"mnist-cnn-{d}-{m}.pt" for d in ("d2", "d16") for m in ("vc", "softmax")),
           SHIPPED_DIR / "mnist-cnn-d16-lgm.pt",
           *(SHIPPED_DIR / f"fashion-mnist-cnn-d16-{m}.pt" for m in ("vc", "softmax"))]


def placement_of(path: Path, implied: str) -> dict:
    """One checkpoint's :class:`~explorer.measure.ood.Placement` as plain data, with what it compares."""
    model, meta = load_checkpoint(path)
    dataset = meta["dataset"]
    other = dataset_info(dataset).ood
    if other is None:
        raise SystemExit(f"{path.name}: {dataset} has no out-of-distribution partner")
    test = readable_by(load_dataset(dataset, "test"), model)
    reference = checkpoint_reference(model, meta, implied, test=test)
    z_in = predict(model, test.x)[1]
    z_out = predict(model, readable_by(load_dataset(other, "test"), model).x)[1]
    placed = latent_placement(reference, z_in, z_out)
    names = dataset_info(dataset).class_names
    return {"file": path.name, "method": meta["method"], "in": dataset, "out": other,
            "n_in": len(z_in), "n_out": len(z_out), "gaussians": getattr(reference, "description", "its prior"),
            **dataclasses.asdict(placed),
            "nearest_classes": {names[k]: share for k, share in placed.nearest_classes.items()}}


def _print(row: dict) -> None:
    print(f"\n{row['file']} ({row['method']}, d = {row['d']}; Gaussians: {row['gaussians']}): "
          f"{row['in']} test ({row['n_in']}) against {row['out']} test ({row['n_out']})")
    print(f"  {'':<52}{row['in']:>14}{row['out']:>14}")
    for key, words in PLACEMENT.items():
        print(f"  {words:<52}{row['inside'][key]:>14.3f}{row['outside'][key]:>14.3f}")
    print(f"  r² law's median (a typical in-class latent): {row['typical_r2']:.2f}")
    print("  OOD latents nearest: " + ", ".join(f"{k} {v:.0%}" for k, v in row["nearest_classes"].items()))
    print("  AUROC (in-distribution positive): " + ", ".join(f"{k} {v:.3f}" for k, v in row["auroc"].items()))
    print(f"  {cause_sentence(row['inside'], row['outside'], row['auroc'])}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoints", nargs="+", type=Path, default=SHIPPED,
                        help="(default: the shipped MNIST d = 2 and d = 16 VC and softmax, d = 16 LGM, whose "
                             "latents gather at their means, and Fashion-MNIST d = 16 VC and softmax)")
    parser.add_argument("--implied", choices=COVARIANCES, default=DEFAULT_COVARIANCE,
                        help=f"softmax's implied member (default: {DEFAULT_COVARIANCE})")
    parser.add_argument("--into", type=Path, metavar="RESULTS",
                        help=f"also store the figures in this results.json under {OOD_PLACEMENT!r}")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    started = time.perf_counter()
    rows = []
    for path in args.checkpoints:
        rows.append(placement_of(path, args.implied))
        _print(rows[-1])
    seconds = time.perf_counter() - started
    print(f"\n{seconds:.0f} s, one thread")
    if args.into:
        command = "python benchmarks/explain_ood.py " + shlex.join(sys.argv[1:] if argv is None else argv)
        payload = json.loads(args.into.read_text())
        payload[OOD_PLACEMENT] = {"command": command.strip(), "seconds": round(seconds), "models": rows}
        args.into.write_text(json.dumps(payload, indent=0))
        print(f"stored them in {args.into} under {OOD_PLACEMENT!r}")


if __name__ == "__main__":
    main()
