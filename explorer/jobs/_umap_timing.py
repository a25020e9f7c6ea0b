"""``python -m explorer.jobs._umap_timing LATENTS.npy N``: seconds of PCA and UMAP on the first N latents.

Run by :func:`explorer.jobs.benchmark.umap_timings` in a fresh process, so that "cold" includes
importing umap and numba's compilation; prints one line of JSON.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

from explorer.core.config import ProjectionConfig
from explorer.measure.projection import fit_projection


def main(path: str, n: str) -> None:
    z = np.load(path)[: int(n)]
    out = {}
    for method in ("pca", "umap"):
        for kind in ("cold", "warm"):
            started = time.perf_counter()
            fit_projection(z, ProjectionConfig(method=method))
            out[f"{method}_{kind}"] = time.perf_counter() - started
    print(json.dumps(out))


if __name__ == "__main__":
    main(*sys.argv[1:])
