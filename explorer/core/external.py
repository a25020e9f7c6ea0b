"""Classifiers defined outside the project, made ready for :func:`explorer.core.wrapped.wrap_classifier`.

A torchvision classification model by name (:func:`torchvision_model`), a network returned by a
user's ``MODULE:FUNCTION`` (:func:`factory_model`: the module and the modules it imports are found in
the current folder first, then among the installed packages; the module search path is left as it
is), a state dict loaded strictly and without running code from the file (:func:`load_weights`), and
grey images fitted to a network whose first convolution takes 3 channels (:func:`fit_channels`)::

    network = factory_model("mymodels:make_net")
    load_weights(network, "net.pt")
    fitted = fit_channels(network, channels=1)
    model = wrap_classifier(fitted.module, fitted.prefix + "fc", fitted.mean, fitted.std)

Every failure a user can cause raises :class:`~explorer.core.errors.ArgumentError` in one line. The
functions' ``argument`` says how a message names the value it quotes: the command line passes its
flag (``--weights``), a Python caller keeps the parameter's name.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import importlib.machinery
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import NamedTuple

from torch import nn

from explorer.core.errors import ArgumentError
from explorer.core.wrapped import GreyToRGB, first_conv_channels


def one_line(text: object, limit: int = 160) -> str:
    """The first line of ``text`` (an error, say), cut to ``limit`` characters: a library's long
    message as part of a one-line :class:`~explorer.core.errors.ArgumentError`."""
    lines = str(text).strip().splitlines()
    line = lines[0] if lines else ""
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _first(names: Sequence[str], n: int = 3) -> str:
    """The first ``n`` of ``names``, and how many more there are."""
    more = f" and {len(names) - n} more" if len(names) > n else ""
    return ", ".join(names[:n]) + more


def torchvision_model(name: str, num_classes: int, *, argument: str = "model") -> nn.Module:
    """``torchvision.models.get_model(name)`` with random weights and ``num_classes`` outputs.

    ``name`` is one of ``torchvision.models.list_models(module=torchvision.models)`` (the classifiers:
    no detection or video models); another name is refused with the closest known ones.
    """
    import difflib

    import torchvision.models as models

    known = models.list_models(module=models)
    if name not in known:
        close = difflib.get_close_matches(name, known, n=4)
        hint = f"did you mean {', '.join(close)}? " if close else f"e.g. {', '.join(known[:4])}; "
        raise ArgumentError(f"{argument} {name!r} is not a torchvision classification model; {hint}all: "
                            "torchvision.models.list_models(module=torchvision.models)")
    return models.get_model(name, weights=None, num_classes=num_classes)


class _FolderFinder(importlib.abc.MetaPathFinder):
    """Finds a top-level module or package as the search path's finder would with one folder before
    the search path; submodules are left to the usual finders, through their package's ``__path__``."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = os.fspath(folder)

    def find_spec(self, fullname, path=None, target=None):
        if path is not None:  # a submodule: its package's __path__ already says where
            return None
        finder = importlib.machinery.PathFinder
        here = finder.find_spec(fullname, [self.folder], target)
        if here is None or here.origin is not None:  # nothing here, or a module or regular package
            return here
        # A folder without __init__.py is a portion of a namespace package: as with python -m, a
        # regular package of that name on the search path wins, else every portion is joined.
        there = finder.find_spec(fullname, None, target)  # None: the search path
        if there is None or there.origin is not None:
            return here if there is None else there
        parents = [os.path.dirname(portion) for portion in there.submodule_search_locations]
        return finder.find_spec(fullname, [self.folder, *parents], target)


@contextlib.contextmanager
def folder_first(folder: str | os.PathLike) -> Iterator[None]:
    """Within the block, ``import`` finds top-level modules in ``folder`` before the module search path,
    which is left as it is: as ``python -m`` does with the current folder, so a console script finds
    a user's module and the modules beside it that it imports (at its top, or later inside a
    function called within the block).

    A finder for ``folder`` stands on ``sys.meta_path`` just before the search path's finder (after
    the interpreter's built-in and frozen modules, which ``python -m`` does not let a folder shadow
    either), and is removed afterwards. Modules already imported stay what they are; those imported
    within the block stay in ``sys.modules``, as ``import`` leaves them. ``sys.meta_path`` is the
    process's: use it from one thread at a time.
    """
    finder = _FolderFinder(folder)
    at = next((i for i, f in enumerate(sys.meta_path) if f is importlib.machinery.PathFinder), 0)
    sys.meta_path.insert(at, finder)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):  # already taken off by someone else: nothing left to undo
            sys.meta_path.remove(finder)


def import_from_folder(name: str, folder: str | os.PathLike) -> ModuleType:
    """Module ``name`` (dotted: ``pkg.models``) as ``import`` would find it with ``folder`` first on the
    module search path, which is left as it is (:func:`folder_first`).

    The top-level module or package, and any top-level module it imports, is looked for in
    ``folder``, then among the installed packages; the rest of a dotted name is found through its
    parent's ``__path__``, as ``import`` does. So a console script, whose search path does not start
    with the current folder, finds a user's module there as ``python -m`` does. Raises
    ``ModuleNotFoundError`` as ``import`` does.
    """
    with folder_first(folder):
        return importlib.import_module(name)


def factory_model(spec: str, *, argument: str = "factory", folder: str | os.PathLike | None = None) -> nn.Module:
    """``FUNCTION()`` for ``spec`` = ``"MODULE:FUNCTION"``, checked to be an ``nn.Module``.

    ``MODULE`` is imported from ``folder`` (default: the current folder), then from the installed
    packages (:func:`import_from_folder`); ``FUNCTION`` is called without arguments, with ``folder``
    still first (:func:`folder_first`), so that modules it imports when called are found there too.
    """
    folder = Path.cwd() if folder is None else Path(folder)
    module_name, _, function = spec.partition(":")
    if not module_name or not function:
        raise ArgumentError(f"{argument} takes MODULE:FUNCTION (e.g. mymodels:make_net), got {spec!r}")
    with folder_first(folder):
        try:
            factory = getattr(importlib.import_module(module_name), function)
        except (ModuleNotFoundError, AttributeError) as error:
            raise ArgumentError(f"{argument} {spec}: {error} (modules are looked for in {folder} and "
                                "the installed packages)") from None
        if not callable(factory):
            raise ArgumentError(f"{argument} {spec}: {function} is a {type(factory).__name__}, not a function")
        network = factory()
    if not isinstance(network, nn.Module):
        raise ArgumentError(f"{argument} {spec} returned a {type(network).__name__}, not an nn.Module")
    return network


def load_weights(network: nn.Module, weights: str | os.PathLike, *, argument: str = "weights") -> None:
    """Load the state dict in file ``weights`` into ``network``, strictly.

    The file is what ``torch.save(model.state_dict(), path)`` writes, or a dict holding such a state
    dict under ``"state_dict"`` or ``"model"`` (a training checkpoint). It is read with
    ``weights_only=True``: a file whose pickle names a class or a function is refused, never run. A
    missing or unexpected parameter, or one of another shape, is named in the one-line error.
    """
    import pickle

    import torch

    path = os.fspath(weights)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ArgumentError(f"{argument} {path}: no such file") from None
    except pickle.UnpicklingError as error:
        message = str(error)
        if "Unsupported global" in message:  # the pickle names a class or function: refused
            raise ArgumentError(f"{argument} {path} holds more than weights: loading it would run code from it "
                                "(save model.state_dict() instead)") from None
        reason = message.partition("WeightsUnpickler error:")[2] or message
        raise ArgumentError(f"{argument} {path} is not a file torch.load reads ({one_line(reason)})") from None
    except (RuntimeError, EOFError) as error:
        raise ArgumentError(f"{argument} {path} is not a file torch.load reads ({one_line(error)})") from None
    state = payload
    if isinstance(payload, dict) and not all(isinstance(v, torch.Tensor) for v in payload.values()):
        state = next((payload[k] for k in ("state_dict", "model") if isinstance(payload.get(k), dict)), payload)
    if not isinstance(state, dict) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ArgumentError(f"{argument} {path} holds a {type(payload).__name__} that is not a state dict "
                            "(parameter name -> tensor), nor a dict with one under 'state_dict' or 'model'")
    own = network.state_dict()
    missing, unexpected = [k for k in own if k not in state], [k for k in state if k not in own]
    if missing or unexpected:
        parts = ([f"missing {_first(missing)}"] if missing else []) + (
            [f"unexpected {_first(unexpected)}"] if unexpected else [])
        raise ArgumentError(f"{argument} {path} does not fit the model: {'; '.join(parts)}")
    for key, value in own.items():
        if state[key].shape != value.shape:
            raise ArgumentError(f"{argument} {path} does not fit the model: {key} is {tuple(state[key].shape)} "
                                f"in the file but {tuple(value.shape)} in the model")
    network.load_state_dict(state, strict=True)


class ChannelFit(NamedTuple):
    """A network made to read a dataset's images, and the statistics :func:`wrap_classifier` then takes."""

    module: nn.Module
    """The network, or it behind :class:`~explorer.core.wrapped.GreyToRGB`."""
    prefix: str
    """What the network's layer names gain inside ``module``: ``"1."`` behind GreyToRGB, else ``""``."""
    mean: Sequence[float] | None
    """Per-channel mean for :func:`~explorer.core.wrapped.wrap_classifier` (None: applied inside
    ``module`` already, or none given)."""
    std: Sequence[float] | None
    """Per-channel std, as ``mean``."""
    note: str | None
    """One line saying that grey images are repeated to 3 channels; None when they are not."""


def fit_channels(network: nn.Module, channels: int, mean: Sequence[float] | None = None,
                 std: Sequence[float] | None = None, *, arguments: tuple[str, str] = ("mean", "std")) -> ChannelFit:
    """``network`` made to read images of ``channels`` channels, with the per-channel ``mean`` and
    ``std`` it was trained to normalise pixels in [0, 1] by.

    Grey images (``channels`` = 1) meeting a first ``nn.Conv2d`` that takes 3 channels are repeated
    to 3 by :class:`~explorer.core.wrapped.GreyToRGB` in front of the network; 3 statistics (the
    network's RGB ones) then normalise after the repeat, inside that module, and 1 before it. Any
    other mismatch of channels, or statistics of the wrong length, raises ``ArgumentError``.
    ``arguments`` are how messages name ``mean`` and ``std``.
    """
    mean_name, std_name = arguments
    if (mean is None) != (std is None):
        raise ArgumentError(f"give both {mean_name} and {std_name} (per channel) or neither")
    takes = first_conv_channels(network)
    repeat = channels == 1 and takes == 3
    if takes is not None and takes != channels and not repeat:
        raise ArgumentError(f"the model's first convolution takes {takes} channels but the images have {channels}")
    if mean is not None:
        allowed = (1, 3) if repeat else (channels,)
        if len(mean) != len(std) or len(mean) not in allowed:
            raise ArgumentError(f"{mean_name} and {std_name} give {len(mean)} and {len(std)} values; the images "
                                f"have {channels} channel(s){' (3 once repeated for this model)' if repeat else ''}")
    if not repeat:
        return ChannelFit(network, "", mean, std, None)
    note = "grey images repeated to the 3 channels the model's first convolution takes"
    if mean is not None and len(mean) == 3:  # RGB statistics: normalise after the repeat
        return ChannelFit(nn.Sequential(GreyToRGB(mean, std), network), "1.", None, None, note)
    return ChannelFit(nn.Sequential(GreyToRGB(), network), "1.", mean, std, note)


__all__ = ["ChannelFit", "factory_model", "fit_channels", "folder_first", "import_from_folder", "load_weights",
           "one_line", "torchvision_model"]
