"""The package as pip sees it: pyproject.toml's ranges, the pins of the requirement files, the command,
and the project's files an installed wheel must carry."""

import importlib.util
import shutil
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from explorer.core import _io

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def pins(path: Path) -> dict[str, str]:
    """name -> pinned version of every requirement line of ``path`` (its ``-r`` includes left out)."""
    found = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if not line or line.startswith("-"):
            continue
        requirement = Requirement(line)
        (specifier,) = requirement.specifier  # exactly one: a pin
        assert specifier.operator == "==", f"{path.name}: {line} is not pinned"
        found[canonicalize_name(requirement.name)] = specifier.version
    return found


def ranges(requirements: list[str]) -> dict[str, Requirement]:
    return {canonicalize_name(r.name): r for r in map(Requirement, requirements)}


@pytest.mark.parametrize("pinned, declared", [
    ("requirements.txt", PROJECT["project"]["dependencies"]),
    ("requirements-dev.txt", PROJECT["project"]["optional-dependencies"]["test"]),
])
def test_each_pin_is_one_version_of_the_declared_range(pinned, declared):
    pinned, declared = pins(ROOT / pinned), ranges(declared)
    assert sorted(pinned) == sorted(declared)
    outside = {name: version for name, version in pinned.items() if version not in declared[name].specifier}
    assert outside == {}


def test_the_runtime_pins_install_the_project_itself():
    lines = [line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    assert "-e ." in lines  # `streamlit run explorer/Home.py` and the benchmarks import the installed package
    assert "-r requirements.txt" in (ROOT / "requirements-dev.txt").read_text().splitlines()


def test_the_command_is_the_command_line_main():
    from explorer import cli

    module, _, function = PROJECT["project"]["scripts"]["vc-explorer"].partition(":")
    assert module == "explorer.cli" and getattr(cli, function) is cli.main


SHIPPED = PROJECT["tool"]["hatch"]["build"]["targets"]["wheel"]["hooks"]["custom"]["shipped"]
"""Project files -> where a wheel carries them (hatch_build.py)."""


def test_every_project_file_the_package_reads_is_carried_into_explorer_shipped():
    assert all((ROOT / source).exists() and target == f"explorer/_shipped/{source}" for source, target in SHIPPED.items())
    assert _io.PROJECT_DIR == ROOT  # a checkout (and an editable install) reads them in the repository
    for path in (_io.SHIPPED_DIR, _io.PAGES_DIR, _io.SHIPPED_RESULTS, _io.STREAMLIT_CONFIG):
        relative = path.relative_to(ROOT).as_posix()
        assert any(relative == source or relative.startswith(source + "/") for source in SHIPPED), relative


def test_an_installed_package_reads_its_own_copy(tmp_path):
    """Where explorer/_shipped exists beside the package (an installed wheel), PROJECT_DIR is that copy."""
    package = tmp_path / "explorer"
    (package / "core").mkdir(parents=True)
    (package / "_shipped").mkdir()
    shutil.copy(Path(_io.__file__), package / "core" / "_io.py")
    spec = importlib.util.spec_from_file_location("installed_io", package / "core" / "_io.py")
    installed = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(installed)
    assert installed.PROJECT_DIR == package / "_shipped"
    assert installed.PAGES_DIR == package / "_shipped" / "pages"


def test_a_wheel_carries_the_project_files(tmp_path):
    from hatchling.builders.wheel import WheelBuilder

    from explorer.app.guide import PAGES

    wheel = next(WheelBuilder(str(ROOT)).build(directory=str(tmp_path), versions=["standard"]))
    names = set(zipfile.ZipFile(wheel).namelist())
    wanted = [f"explorer/_shipped/pages/{page.name}.py" for page in PAGES]
    wanted += [f"explorer/_shipped/checkpoints/{path.relative_to(_io.SHIPPED_DIR).as_posix()}"
               for path in _io.SHIPPED_DIR.rglob("*") if path.is_file()]
    wanted += ["explorer/_shipped/docs/results/results.json", "explorer/_shipped/.streamlit/config.toml",
               "explorer/Home.py", "explorer/core/data/digits_split.npz"]
    assert sorted(set(wanted) - names) == []


def test_an_editable_install_gets_no_copy_of_them():
    """The build hook adds the files to a wheel's build, not to an editable one (which reads the checkout)."""
    spec = importlib.util.spec_from_file_location("hatch_build", ROOT / "hatch_build.py")
    hook_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook_module)
    hook = hook_module.ShippedFiles(str(ROOT), {"shipped": SHIPPED}, None, None, str(ROOT), "wheel")
    for version, expected in (("standard", SHIPPED), ("editable", {})):
        build_data = {"force_include": {}}
        hook.initialize(version, build_data)
        assert build_data["force_include"] == expected
