"""Tests for explorer.core._lazy: a package's names imported from their modules on first use."""

import json

import pytest

from explorer.core._lazy import lazy_exports


def test_a_name_is_imported_on_first_use_and_kept():
    namespace = {"__name__": "vcx_package"}
    getattr_, dir_, all_ = lazy_exports(namespace, {"json": ("loads", "dumps"), "math": ("pi",)})
    assert all_ == ["dumps", "loads", "pi"] and "dumps" not in namespace
    assert getattr_("dumps") is json.dumps and namespace["dumps"] is json.dumps
    assert dir_() == ["__name__", "dumps", "loads", "pi"]
    with pytest.raises(AttributeError, match="^module 'vcx_package' has no attribute 'dump'$"):
        getattr_("dump")
