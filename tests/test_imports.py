"""Imports point one way: the computation never imports the app's libraries (STYLE.md, principle 1)."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
UI_LIBRARIES = {"streamlit", "plotly"}
# The app layer, allowed to import them: the entry point and its helpers (added with the app).
APP_MODULES = {"Home.py"}
APP_PACKAGES = {"app", "figures"}


def library_modules():
    for path in sorted((ROOT / "explorer").rglob("*.py")):
        rel = path.relative_to(ROOT / "explorer")
        if rel.name in APP_MODULES or rel.parts[0] in APP_PACKAGES:
            continue
        yield path


def test_library_source_never_imports_ui_libraries():
    offenders = []
    for path in library_modules():
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in UI_LIBRARIES]
    assert not offenders


def test_importing_the_library_loads_no_ui_library():
    modules = [f"explorer.{p.relative_to(ROOT / 'explorer').with_suffix('').as_posix().replace('/', '.')}"
               for p in library_modules() if p.name not in {"__init__.py", "__main__.py"}]
    code = "import sys, " + ", ".join(modules) + "; print(sorted({m.split('.')[0] for m in sys.modules}))"
    loaded = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert not UI_LIBRARIES & set(eval(loaded.stdout))
