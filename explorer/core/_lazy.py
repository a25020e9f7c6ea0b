"""A package's public names, each imported from its own module on first use (PEP 562).

``explorer`` and ``explorer.core.data`` name functions and classes whose modules import torch; loading
those modules only when a name is first asked for keeps ``import explorer`` and the dataset registry
(all the command line's parser reads) free of torch. Standard library only::

    __getattr__, __dir__, __all__ = lazy_exports(globals(), {"explorer.core.data.loading": ("load_dataset",)})
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, MutableMapping, Sequence


def lazy_exports(namespace: MutableMapping[str, object], exports: Mapping[str, Sequence[str]]
                 ) -> tuple[Callable[[str], object], Callable[[], list[str]], list[str]]:
    """``(__getattr__, __dir__, __all__)`` for the package whose ``globals()`` are ``namespace``.

    ``exports`` maps a module's dotted name to the names it defines that the package offers. A name is
    imported from its module when first asked for and kept in ``namespace``, so later look-ups no
    longer reach ``__getattr__``; another name raises ``AttributeError`` as a module does.
    ``__all__`` is every exported name, sorted.
    """
    home = {name: module for module, names in exports.items() for name in names}
    package = namespace["__name__"]

    def __getattr__(name: str) -> object:
        if name not in home:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(home[name]), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *home})  # a name already loaded is in both

    return __getattr__, __dir__, sorted(home)


__all__ = ["lazy_exports"]
