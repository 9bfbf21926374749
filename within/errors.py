"""Exceptions for mistakes a user can fix.

Each one is printed by the command line as a single line, without a traceback.
Bugs inside ``within`` or a plugin stay ordinary exceptions and keep theirs.
"""

from __future__ import annotations


class WithinError(Exception):
    """Base class for errors caused by input a user can correct."""

    __module__ = "within"


class ConfigError(WithinError):
    """A job file, an override or a plugin parameter is invalid.

    The message starts with the YAML path of the bad field, for example
    ``model.params.max_depth``.
    """

    __module__ = "within"

    def __init__(self, path: str, message: str):
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}" if path else message)


class DataError(WithinError):
    """Data does not match the declared schema or cannot be used as it is."""

    __module__ = "within"


class PluginError(WithinError):
    """A plugin could not be registered or is not known."""

    __module__ = "within"


class ArtifactError(WithinError):
    """A saved model is missing, tampered with, or does not fit the input."""

    __module__ = "within"


class Interrupted(WithinError):
    """Work was stopped (Ctrl-C) and can be continued; the message says how."""

    __module__ = "within"
