"""The Lesson's models: the shipped d = 2 softmax and VC models of the sidebar's dataset, or of
digits when that dataset has none."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from explorer.app import cache
from explorer.core.checkpoints import default_entry
from explorer.core.config import default_configs, variant

LESSON_DATASET = "digits"
"""The lesson's data when the sidebar's dataset has no shipped d = 2 pair (digits: every model loads
offline in a second)."""


@dataclass(frozen=True)
class Lesson:
    """The lesson's models: the shipped d = 2 softmax and VC models of one dataset, and the seed."""

    dataset: str
    softmax: Path
    vc: Path
    seed: int
    note: str
    """Which models, and why this dataset."""

    @property
    def models(self) -> tuple[tuple[str, Path], tuple[str, Path]]:
        return ("Model A", self.softmax), ("Model B", self.vc)


def lesson_for(dataset: str | None, seed: int) -> Lesson | None:
    """The lesson on ``dataset`` if it has a shipped d = 2 softmax and VC model, else on
    :data:`LESSON_DATASET`; None if neither has them."""
    entries = [e for e in cache.checkpoints()[0] if e.source == "shipped"]
    for name in dict.fromkeys(d for d in (dataset, LESSON_DATASET) if d):
        here = [e for e in entries if e.dataset == name]
        softmax, vc = default_entry(here, "softmax", 2), default_entry(here, "vc", 2)
        if softmax is None or vc is None or vc.variant != variant(*default_configs(name, "vc")):
            continue  # the text describes the project's VC, not the released step kept beside it
        why = "" if name == dataset else (f" The sidebar's dataset has no shipped models with d = 2, so the "
                                          f"lesson uses {name}.")
        note = (f"The lesson's models are the shipped ones on {name} with a 2-dimensional latent, drawn as it "
                f"is: model A is softmax (`{softmax.path.stem}`), model B the project's VC "
                f"(`{vc.path.stem}`). Seed {seed} (the sidebar's).{why}")
        return Lesson(name, softmax.path, vc.path, seed, note)
    return None
