"""Where the shipped and the user's files are, a file's digest, writing files so that no reader ever
sees half of one, and seeded blocks of torch's global generator. Torch is imported only by
:func:`seeded`, so that the app's first page can read shipped files before torch has loaded."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

_PACKAGE = Path(__file__).resolve().parents[1]
PROJECT_DIR = _PACKAGE / "_shipped" if (_PACKAGE / "_shipped").is_dir() else _PACKAGE.parent
"""Where the project's files beside the package are: the repository's root in a checkout (and in an
editable install), or the copy of them that an installed wheel carries in ``explorer/_shipped``
(``pyproject.toml`` puts them there)."""
SHIPPED_DIR = PROJECT_DIR / "checkpoints"
"""The checkpoints, UMAP maps and figures that ship with the project."""
PAGES_DIR = PROJECT_DIR / "pages"
"""The app's pages, one script each (``explorer.app.guide`` lists them)."""
SHIPPED_RESULTS = PROJECT_DIR / "docs" / "results" / "results.json"
"""The raw numbers of the results report (``docs/results.md``), which the app's lesson quotes."""
HOME_SCRIPT = _PACKAGE / "Home.py"
"""The app's entry script, what ``streamlit run`` runs."""
STREAMLIT_CONFIG = PROJECT_DIR / ".streamlit" / "config.toml"
"""The app's Streamlit settings (theme, toolbar), read from the working folder by ``streamlit run`` and
passed as options by ``vc-explorer app``."""


def file_digest(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes (hex): a checkpoint's identity, whatever its name or machine."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, check: Callable[[Path], object] | None = None,
                 mode: int = 0o644) -> Iterator[BinaryIO]:
    """Write ``path`` through a temporary file beside it, moved into place only when all went well.

    Yields the open binary file. On a clean exit it is flushed to disk, given the permissions ``mode``
    (an ordinary ``0o644`` file by default; ``0o600`` keeps it to its owner), passed to ``check`` (if
    given: a function of the temporary file's path that raises to refuse it) and renamed to ``path``;
    on any error, the temporary file is removed and an older file at ``path`` stays as it was. Readers
    (another session, after a crash) never see a partial file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)  # mkstemp makes the file private
        if check is not None:
            check(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def user_folder(variable: str, name: str) -> Path:
    """``$variable`` if set, else ``$XDG_CACHE_HOME/vc-explorer/<name>`` (default ``~/.cache/vc-explorer/<name>``).

    The one rule for every per-user folder: data (``EXPLORER_DATA_DIR``), trained and uploaded
    checkpoints (``EXPLORER_RUNS_DIR``) and the projection cache (``EXPLORER_CACHE_DIR``).
    """
    if env := os.environ.get(variable):
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache).expanduser() / "vc-explorer" / name


_SEEDING = threading.Lock()


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run a block with torch's global CPU generator seeded, and restore the generator afterwards.

    Layers draw their initial weights from that one global generator, so seeded blocks run one at a
    time in a process: the app trains in one thread per browser session, and two runs started
    together must each build exactly the model their seed gives.
    """
    import torch

    with _SEEDING, torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield
