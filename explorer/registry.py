"""Where checkpoints live and how they are listed: shipped, trained by the user, or uploaded."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from explorer.checkpoints import CheckpointError, load_checkpoint

SHIPPED_DIR = Path(__file__).resolve().parents[1] / "checkpoints"
SOURCES = ("shipped", "trained", "uploaded")


def user_dir() -> Path:
    """Checkpoints trained or uploaded by the user: ``$EXPLORER_RUNS_DIR``, else a per-user folder.

    Never inside ``checkpoints/``, so nothing the user does can overwrite a shipped model.
    """
    if os.environ.get("EXPLORER_RUNS_DIR"):
        return Path(os.environ["EXPLORER_RUNS_DIR"])
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "vc-explorer" / "runs"


@dataclass(frozen=True)
class Entry:
    """One listed checkpoint with the metadata needed to choose it."""

    path: Path
    source: str
    dataset: str
    method: str
    encoder: str
    latent_dim: int
    accuracy: float | None

    @property
    def label(self) -> str:
        acc = f", {100 * self.accuracy:.1f} %" if self.accuracy is not None else ""
        return (f"{self.method} · {self.encoder} d={self.latent_dim} · {self.dataset}{acc} "
                f"[{self.source}: {self.path.stem}]")


def describe(path: Path, source: str) -> Entry:
    """An :class:`Entry` for one file; raises :class:`CheckpointError` if it is not usable."""
    _, meta = load_checkpoint(path)
    return Entry(path=path, source=source, dataset=meta["dataset"], method=meta["method"],
                 encoder=meta["encoder"], latent_dim=int(meta["latent_dim"]),
                 accuracy=meta.get("metrics", {}).get("accuracy"))


def list_checkpoints(shipped: Path = SHIPPED_DIR, user: Path | None = None) -> tuple[list[Entry], list[str]]:
    """Every usable checkpoint, shipped first, then the user's (trained, then uploaded).

    Returns (entries, problems): a file that cannot be read is skipped and its one-line reason kept.
    """
    user = user_dir() if user is None else user
    folders = [(shipped, "shipped"), (user / "trained", "trained"), (user / "uploaded", "uploaded")]
    entries, problems = [], []
    for folder, source in folders:
        for path in sorted(folder.glob("*.pt")) if folder.is_dir() else []:
            try:
                entries.append(describe(path, source))
            except CheckpointError as error:
                problems.append(str(error))
    return entries, problems
