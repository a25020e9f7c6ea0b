"""Imports point one way (STYLE.md, principles 1 and 16; docs/ARCHITECTURE.md).

core ← measure ← jobs ← app, with figures beside them: every import of a module, at the top or
inside a function, is checked against :data:`RULES`; only the app layer and the pages import
Streamlit.
"""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# tier -> (explorer modules it may import, third-party roots it must not import); figures instead
# lists the only third-party roots it may import (FIGURES_MAY_IMPORT). The report (jobs) draws its
# figures with the figures tier, importing it inside the function that writes them, so importing jobs
# still loads no plotly (test_importing_the_computation_loads_no_ui_library).
RULES = {
    "core": ({"explorer.core"}, {"streamlit", "plotly", "matplotlib"}),
    "measure": ({"explorer.core", "explorer.measure"}, {"streamlit", "plotly", "matplotlib"}),
    "figures": ({"explorer.core._validation", "explorer.core.errors", "explorer.figures"}, set()),
    "jobs": ({"explorer.core", "explorer.measure", "explorer.jobs", "explorer.figures"}, {"streamlit", "plotly"}),
    # the command line starts the app through explorer.app.server, which only starts processes
    "cli": ({"explorer.cli", "explorer.core", "explorer.measure", "explorer.jobs", "explorer.app.server"},
            {"streamlit", "plotly"}),
    "app": ({"explorer"}, set()),  # the top: anything of the project
}
# scipy: the χ² density drawn under a histogram; choreographer: how plotly's static export (kaleido)
# finds its browser, asked before a PNG is written
FIGURES_MAY_IMPORT = {"numpy", "plotly", "scipy", "choreographer"}
VERSION = "explorer.__version__"  # what any tier may take from the package itself


def tier(path: Path, root: Path) -> str:
    """The tier of a module under ``root/explorer``: its first folder, ``app`` for Home.py, ``cli`` for
    ``__main__.py``, ``top`` for the package's ``__init__.py``, and None for a module that sits in no tier."""
    parts = path.relative_to(root / "explorer").parts
    if len(parts) > 1:
        return parts[0] if parts[0] in RULES else None
    return {"Home.py": "app", "__main__.py": "cli", "__init__.py": "top"}.get(parts[0])


def imports(path: Path, root: Path) -> list[str]:
    """Every module ``path`` imports, by absolute name (relative imports resolved), wherever the
    import statement stands. ``from explorer import figures`` imports ``explorer.figures``."""
    package = path.relative_to(root).with_suffix("").parts[:-1]
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module
            if node.level:  # `from . import x`, `from ..core import y`
                base = ".".join([*package[: len(package) - node.level + 1], *([node.module] if node.module else [])])
            if base == "explorer" or (node.level and not node.module):
                names += [f"{base}.{alias.name}" for alias in node.names]  # the names may be modules
            else:
                names.append(base)
    return names


def allowed(name: str, prefixes: set[str]) -> bool:
    """``name`` is the package's version or lies under one of ``prefixes`` (``explorer``: anything)."""
    return name == VERSION or any(name == p or name.startswith(p + ".") for p in prefixes)


def violations(root: Path) -> list[str]:
    """One line per import that breaks a tier rule in the package under ``root/explorer``, and per
    module that sits in no tier."""
    found = []
    for path in sorted((root / "explorer").rglob("*.py")):
        where, kind = path.relative_to(root), tier(path, root)
        if kind is None:
            found.append(f"{where} sits in no tier ({', '.join(RULES)})")
            continue
        if kind == "top":  # explorer/__init__.py re-exports by name, lazily (core/_lazy.py): it imports none of them
            continue
        own, banned = RULES[kind]
        for name in imports(path, root):
            if name.split(".")[0] == "explorer":
                bad = not allowed(name, own)
            elif kind == "figures":
                bad = name.split(".")[0] not in FIGURES_MAY_IMPORT | set(sys.stdlib_module_names)
            else:
                bad = name.split(".")[0] in banned
            if bad:
                found.append(f"{where} ({kind}) imports {name}")
    return found


def test_every_import_follows_the_tier_rules():
    assert violations(ROOT) == []


def test_the_check_catches_a_forbidden_import(tmp_path):
    for tier_name, line, name in (
            ("core", "from explorer.measure.evaluation import evaluate", "explorer.measure.evaluation"),
            ("core", "import explorer", "explorer"),  # its lazy names reach every tier
            ("measure", "import streamlit as st", "streamlit"),
            ("measure", "from explorer.figures import latent_scatter", "explorer.figures"),
            ("measure", "from ..jobs import training", "explorer.jobs"),
            ("figures", "import torch", "torch"),
            ("figures", "from explorer.core.data import DATASETS", "explorer.core.data"),
            ("jobs", "from explorer import app", "explorer.app"),
            ("jobs", "from ..app.cache import model", "explorer.app.cache"),
            ("jobs", "import plotly.io as pio", "plotly.io"),  # figures, yes; plotly itself, no
            ("cli", "from explorer.app.cache import model", "explorer.app.cache")):  # of the app, server alone
        (tmp_path / "explorer" / tier_name).mkdir(parents=True, exist_ok=True)
        module = tmp_path / "explorer" / tier_name / "bad.py"
        module.write_text(f"def f():\n    {line}\n")
        assert violations(tmp_path) == [f"explorer/{tier_name}/bad.py ({tier_name}) imports {name}"], line
        module.unlink()
    (tmp_path / "explorer" / "flat.py").write_text("x = 1\n")
    assert violations(tmp_path) == [f"explorer/flat.py sits in no tier ({', '.join(RULES)})"]


def test_only_the_app_and_the_pages_import_streamlit():
    outside = [f"{path.relative_to(ROOT)}" for path in sorted((ROOT / "explorer").rglob("*.py"))
               if tier(path, ROOT) != "app" and any(n.split(".")[0] == "streamlit" for n in imports(path, ROOT))]
    assert outside == []
    assert all(any(n.split(".")[0] == "streamlit" for n in imports(p, ROOT)) for p in (ROOT / "pages").glob("*.py"))


def test_importing_the_computation_loads_no_ui_library():
    modules = [f"explorer.{p.relative_to(ROOT / 'explorer').with_suffix('').as_posix().replace('/', '.')}"
               for p in sorted((ROOT / "explorer").rglob("*.py"))
               if tier(p, ROOT) in {"core", "measure", "jobs", "cli"} and p.name != "__main__.py"]
    modules = [m.removesuffix(".__init__") for m in modules]
    code = "import sys, " + ", ".join(modules) + "; print(sorted({m.split('.')[0] for m in sys.modules}))"
    loaded = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert not {"streamlit", "plotly"} & set(eval(loaded.stdout))


def test_importing_explorer_is_cheap_and_its_names_load_on_use():
    code = ("import sys, explorer; before = {m.split('.')[0] for m in sys.modules}; "
            "explorer.ExplorerError, explorer.N_BINS; print(sorted(before))")
    loaded = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert not {"torch", "streamlit", "plotly"} & set(eval(loaded.stdout))
