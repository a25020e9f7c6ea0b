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

# tier -> (explorer modules it may import, third-party roots it must not import)
RULES = {
    "core": ({"explorer.core"}, {"streamlit", "plotly", "matplotlib"}),
    "measure": ({"explorer.core", "explorer.measure"}, {"streamlit", "plotly", "matplotlib"}),
    "figures": ({"explorer.core._validation", "explorer.core.errors", "explorer.figures"},
                {"streamlit", "torch", "torchvision", "sklearn", "umap", "matplotlib"}),
    "jobs": ({"explorer.core", "explorer.measure", "explorer.jobs"}, {"streamlit", "plotly"}),
    "cli": ({"explorer.cli", "explorer.core", "explorer.measure", "explorer.jobs"}, {"streamlit", "plotly"}),
    "app": ({"explorer"}, set()),  # the top: anything of the project
}


def tier(path: Path, root: Path) -> str:
    """The tier of a module under ``root/explorer``: its first folder, ``cli`` or ``app`` (Home.py)."""
    parts = path.relative_to(root / "explorer").parts
    if len(parts) > 1:
        return parts[0]
    return {"Home.py": "app", "cli.py": "cli", "__main__.py": "cli"}.get(parts[0], "top")


def imports(path: Path) -> list[str]:
    """Every module ``path`` imports by absolute name, wherever the import statement stands."""
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            # `from explorer import figures` imports explorer.figures
            names += [f"{node.module}.{alias.name}" if node.module == "explorer" else node.module
                      for alias in node.names]
    return names


def allowed(name: str, prefixes: set[str]) -> bool:
    """``name`` is the package itself (its version) or lies under one of ``prefixes``."""
    return name == "explorer" or any(name == p or name.startswith(p + ".") for p in prefixes)


def violations(root: Path) -> list[str]:
    """One line per import that breaks a tier rule, in the package under ``root/explorer`` and in
    ``root/pages``."""
    found = []
    for path in sorted((root / "explorer").rglob("*.py")):
        kind = tier(path, root)
        if kind == "top":  # explorer/__init__.py re-exports by name, lazily; it imports nothing
            continue
        own, banned = RULES[kind]
        for name in imports(path):
            if name.split(".")[0] in banned:
                found.append(f"{path.relative_to(root)} ({kind}) imports {name}")
            elif name.startswith("explorer") and not allowed(name, own):
                found.append(f"{path.relative_to(root)} ({kind}) imports {name}")
    return found


def test_every_import_follows_the_tier_rules():
    assert violations(ROOT) == []


def test_the_check_catches_a_forbidden_import(tmp_path):
    for tier_name, line in (("core", "from explorer.measure.calibration import evaluate"),
                            ("measure", "import streamlit as st"),
                            ("measure", "from explorer.figures import latent_scatter"),
                            ("figures", "import torch"),
                            ("figures", "from explorer.core.data import DATASETS"),
                            ("jobs", "from explorer.app import cache")):
        (tmp_path / "explorer" / tier_name).mkdir(parents=True, exist_ok=True)
        module = tmp_path / "explorer" / tier_name / "bad.py"
        module.write_text(f"def f():\n    {line}\n")
        assert violations(tmp_path) == [f"explorer/{tier_name}/bad.py ({tier_name}) imports {line.split()[1]}"], line
        module.unlink()


def test_only_the_app_and_the_pages_import_streamlit():
    outside = [f"{path.relative_to(ROOT)}" for path in sorted((ROOT / "explorer").rglob("*.py"))
               if tier(path, ROOT) != "app" and any(n.split(".")[0] == "streamlit" for n in imports(path))]
    assert outside == []
    assert all(any(n.split(".")[0] == "streamlit" for n in imports(p)) for p in (ROOT / "pages").glob("*.py"))


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
