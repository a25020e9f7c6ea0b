"""``project``: place a checkpoint's test latents and prior samples in 2-D as the Latent space page
does, cached on disk; or every latent of a file (a ``.npy`` array, or a bundle's latents) into a map file."""

from __future__ import annotations

import argparse
from pathlib import Path

from explorer.cli._common import field_help, readable_test
from explorer.core.config import COVARIANCES, DEFAULT_COVARIANCE, ProjectionConfig, UMAP_FIT_MAX, help_of
from explorer.core.errors import ArgumentError


def add_parser(subparsers) -> None:
    projection = ProjectionConfig()
    p = subparsers.add_parser("project", help="place a checkpoint's test latents and prior samples in 2-D, "
                              "as the Latent space page does, and cache the result on disk; or every latent of a "
                              "file (.npy, or a bundle's latents) into a map file")
    p.add_argument("checkpoints", nargs="+", metavar="file",
                   help="checkpoints (.pt); or latents: an (N, d) array in a .npy file, or a predictions bundle "
                        "(.npz) with latents, each written to OUT_DIR/<name>-<method>.npz (all points: PCA on "
                        "all of them, UMAP fitted on a random sample of at most "
                        f"{UMAP_FIT_MAX:,} and the rest placed by its transform)")
    # UMAP, not the dataclass's "auto" (PCA when d > 2): the slow fit is the one worth doing ahead of the app
    p.add_argument("--method", default="umap", choices=("pca", "umap"),
                   help=field_help(ProjectionConfig, "method", "umap"))
    p.add_argument("--n-neighbors", type=int, default=projection.n_neighbors,
                   help=field_help(ProjectionConfig, "n_neighbors"))
    p.add_argument("--min-dist", type=float, default=projection.min_dist, help=field_help(ProjectionConfig, "min_dist"))
    p.add_argument("--seed", type=int, default=projection.seed,
                   help=f"{help_of(ProjectionConfig, 'seed')}; for a checkpoint it also draws the points, like the "
                        f"app's sidebar seed (default: {projection.seed})")
    p.add_argument("--implied", choices=COVARIANCES, default=DEFAULT_COVARIANCE,
                   help="for a softmax checkpoint, which of the Gaussians its linear layer implies to sample, as "
                        "the app's sidebar chooses (see evaluate --implied; default: "
                        f"{DEFAULT_COVARIANCE})")
    p.add_argument("--out-dir", help="write here (default: for checkpoints, the projection cache the app "
                   "reads, $EXPLORER_CACHE_DIR or ~/.cache/vc-explorer/projections; for latent files, the "
                   "current folder)")


def _is_array(path: str) -> bool:
    """A file of one NumPy array (``.npy``, in any case) rather than a checkpoint or a bundle."""
    return Path(path).suffix.lower() == ".npy"


def _latent_file(path: str):
    """(N, d) latents and (N,) labels or None from a .npy array or a bundle's ``latents``."""
    import numpy as np

    from explorer.core.bundles import load_bundle

    if _is_array(path):
        try:
            latents = np.load(path, allow_pickle=False, mmap_mode="r")
        except (OSError, ValueError) as error:
            raise ArgumentError(f"{path} is not a readable .npy array ({error})") from None
        if latents.ndim != 2 or latents.shape[1] < 2:
            raise ArgumentError(f"{path} holds an array of shape {latents.shape}; latents are (N, d) with d >= 2")
        return np.asarray(latents, dtype=np.float64), None
    bundle = load_bundle(path)
    if bundle.latents is None:
        raise ArgumentError(f"{path} is a bundle without latents: there is nothing to project")
    return bundle.latents, bundle.labels


def _project_file(path: str, config: ProjectionConfig, out_dir: Path) -> None:
    import resource
    import time

    from explorer.jobs.runs import check_writable
    from explorer.measure.projection import fit_projection, save_projection

    latents, labels = _latent_file(path)
    out = out_dir / f"{Path(path).stem}-{config.resolve(latents.shape[1])}.npz"
    check_writable(out)
    started = time.perf_counter()
    projection = fit_projection(latents, config)
    seconds = time.perf_counter() - started
    save_projection(projection, out, **({} if labels is None else {"labels": labels}))  # classes travel too
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(f"{path}: {len(latents):,} latents, d = {latents.shape[1]}: {projection.note} ({seconds:.1f} s, "
          f"peak memory {peak:,.0f} MiB); wrote {out}")


def run(args: argparse.Namespace) -> None:
    import time

    from explorer.core._io import file_digest
    from explorer.core.bundles import is_bundle_path
    from explorer.core.checkpoints import load_checkpoint
    from explorer.measure.inference import predict
    from explorer.measure.latent_map import latent_map
    from explorer.measure.latents import checkpoint_reference

    config = ProjectionConfig(method=args.method, n_neighbors=args.n_neighbors, min_dist=args.min_dist,
                              seed=args.seed)
    files = [p for p in args.checkpoints if _is_array(p) or is_bundle_path(p)]
    loaded = [(path, *load_checkpoint(path)) for path in args.checkpoints if path not in files]  # before the slow part
    for path in files:
        _project_file(path, config, Path(args.out_dir or "."))
    for path, model, meta in loaded:
        if model.config.latent_dim == 2:
            print(f"{path}: d = 2, drawn as it is; nothing to project")
            continue
        _, test = readable_test(meta, None, model)
        started = time.perf_counter()
        _, latents = predict(model, test.x)
        # With --out-dir the file is written there even if a shipped projection exists.
        where = {"cache_dir": args.out_dir, "shipped_dir": None} if args.out_dir else {}
        gaussians = checkpoint_reference(model, meta, args.implied, test=test)
        placed = latent_map(gaussians, latents.numpy(), file_digest(path), config, args.seed, **where)
        print(f"{path}: {placed.projection.note} ({time.perf_counter() - started:.1f} s)")
