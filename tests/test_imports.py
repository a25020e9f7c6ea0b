"""Imports point one way (STYLE.md, principle 1).

The computation imports neither Streamlit nor plotly; the figure builders (``explorer/figures.py``)
import plotly but not Streamlit; only the app layer (``explorer/Home.py``, ``explorer/app/``) and the
pages import Streamlit.
"""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APP_LAYER = {"Home.py", "app"}
ALLOWED = {"figures.py": {"plotly"}}


def library_modules():
    for path in sorted((ROOT / "explorer").rglob("*.py")):
        if path.relative_to(ROOT / "explorer").parts[0] not in APP_LAYER:
            yield path


def imported_roots(path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module.split(".")[0]


def test_library_source_never_imports_ui_libraries():
    offenders = [
        f"{path.name}: {name}"
        for path in library_modules()
        for name in imported_roots(path)
        if name in {"streamlit", "plotly"} - ALLOWED.get(path.name, set())
    ]
    assert not offenders


def test_importing_the_computation_loads_no_ui_library():
    modules = [f"explorer.{p.relative_to(ROOT / 'explorer').with_suffix('').as_posix().replace('/', '.')}"
               for p in library_modules() if p.name not in {"__init__.py", "__main__.py", *ALLOWED}]
    code = "import sys, " + ", ".join(modules) + "; print(sorted({m.split('.')[0] for m in sys.modules}))"
    loaded = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert not {"streamlit", "plotly"} & set(eval(loaded.stdout))
