"""The failures a user can cause, under one base class that the app and the command line catch.

A bad file, missing data or a bad argument is an :class:`ExplorerError`, and its message is one line
that names the bad value and, where there is a short list, the allowed ones. Anything else that
escapes the library is a bug and should fail loudly (a test, a traceback), not be shown as a friendly
message.
"""

from __future__ import annotations


class ExplorerError(Exception):
    """Base of every error the user can cause and fix; the message is a one-line reason."""


class ArgumentError(ExplorerError, ValueError):
    """An argument, option or setting outside what is allowed (also a ``ValueError``)."""


class CheckpointError(ExplorerError):
    """A file that cannot be used as a checkpoint."""


class BundleError(ExplorerError):
    """A file or arrays that cannot be used as a predictions bundle (:mod:`explorer.core.bundles`)."""


class ModelNeededError(ExplorerError):
    """A measurement that runs the model (an attack, a corruption) asked of a bundle of its outputs."""


class DatasetUnavailableError(ExplorerError, RuntimeError):
    """A dataset's files are missing locally and could not be downloaded."""


class BrowserUnavailableError(ExplorerError, RuntimeError):
    """No Chrome or Chromium for plotly's static export to draw PNG figures with."""


class FileGoneError(ExplorerError, FileNotFoundError):
    """A file that was listed is no longer there (deleted or moved since)."""


__all__ = ["ArgumentError", "BrowserUnavailableError", "BundleError", "CheckpointError", "DatasetUnavailableError",
           "ExplorerError", "FileGoneError", "ModelNeededError"]
