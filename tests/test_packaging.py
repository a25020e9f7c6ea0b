"""The package as pip sees it: pyproject.toml's ranges, the pins of the requirement files, the command,
and the project's files an installed wheel must carry."""

import tomllib
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


def test_a_wheel_carries_every_project_file_the_package_reads():
    carried = PROJECT["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    assert all((ROOT / source).exists() for source in carried)
    # In a checkout the files are read from the repository; a wheel has them under explorer/_shipped.
    assert _io.PROJECT_DIR == ROOT
    for path in (_io.SHIPPED_DIR, _io.PAGES_DIR, _io.SHIPPED_RESULTS, _io.STREAMLIT_CONFIG):
        relative = path.relative_to(ROOT).as_posix()
        assert any(relative == source or relative.startswith(source + "/") for source in carried), relative
        assert any(carried[source] == f"explorer/_shipped/{source}" for source in carried
                   if relative == source or relative.startswith(source + "/"))
