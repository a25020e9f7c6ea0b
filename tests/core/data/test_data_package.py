"""Tests for explorer/core/data/__init__.py: every public name of the data modules is importable from the
package, each loaded from its module on first use, so that importing the package loads no torch."""

import importlib
import pkgutil

import pytest

import explorer.core.data as data
from fresh_python import run_fresh


def test_every_public_name_of_the_data_modules_is_the_packages():
    modules = [importlib.import_module(f"{data.__name__}.{m.name}") for m in pkgutil.iter_modules(data.__path__)]
    assert sorted(name for module in modules for name in module.__all__) == data.__all__
    for module in modules:
        for name in module.__all__:
            assert getattr(data, name) is getattr(module, name), name
    assert set(data.__all__) <= set(dir(data))
    with pytest.raises(AttributeError, match="'explorer.core.data' has no attribute 'load_datasets'"):
        data.load_datasets


def test_the_package_loads_its_names_on_first_use_and_no_torch_before():
    """In a fresh process: the package and the registry alone load no torch; every exported name then
    resolves through ``from explorer.core.data import ...``."""
    code = ("import sys\n"
            "import explorer.core.data\n"
            "from explorer.core.data import DATASETS, OWN_DATA, domain_of\n"
            "print('torch' in sys.modules)\n"
            "for name in explorer.core.data.__all__:\n"
            "    exec(f'from explorer.core.data import {name}')\n"
            "print('torch' in sys.modules)\n")
    assert run_fresh(code).split() == ["False", "True"]
