"""The plugin registry: loads plugins through pluggy and indexes what they provide.

Built-in plugins and third-party ones are found the same way, through the
``within`` entry-point group. Set ``WITHIN_DISABLE_PLUGIN_AUTOLOAD=1`` to load
none of them (tests register their own), and ``WITHIN_TRACE_HOOKS=1`` to log
every hook call at debug level.
"""

from __future__ import annotations

import difflib
import logging
import os
from importlib import metadata
from dataclasses import dataclass
from typing import Any, Iterable, Optional

import pluggy

from within import hookspecs
from within.errors import PluginError
from within.types import Dataset, Evaluator, Model, Strategy

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "within"

#: Each kind: the registration hook, the base class its entries must subclass.
KINDS: dict[str, tuple[str, type]] = {
    "model": ("within_register_models", Model),
    "evaluator": ("within_register_evaluators", Evaluator),
    "strategy": ("within_register_strategies", Strategy),
    "dataset": ("within_register_datasets", Dataset),
}


@dataclass(frozen=True)
class Registration:
    kind: str
    name: str
    cls: type
    provider: str  # the plugin's registered name (entry-point name or module)
    distribution: Optional[str]  # "project version", when loaded from one

    @property
    def origin(self) -> str:
        where = f"{self.provider} ({self.distribution})" if self.distribution else self.provider
        return where


class Registry:
    """Everything the loaded plugins provide, by kind and name."""

    def __init__(self, plugins: Iterable[Any] = (), *, autoload: Optional[bool] = None):
        self.pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
        self.pm.add_hookspecs(hookspecs)
        if autoload is None:
            autoload = os.environ.get("WITHIN_DISABLE_PLUGIN_AUTOLOAD", "") in ("", "0")
        self._distributions: dict[int, str] = {}
        if autoload:
            self._load_entry_points()
        for plugin in plugins:
            self.pm.register(plugin)
        if os.environ.get("WITHIN_TRACE_HOOKS"):
            self.pm.trace.root.setwriter(lambda message: logger.debug(message.rstrip()))
            self.pm.enable_tracing()
        self._entries: dict[str, dict[str, Registration]] = {}
        self._collect()

    def _load_entry_points(self) -> None:
        for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
            if self.pm.is_blocked(entry_point.name) or self.pm.has_plugin(entry_point.name):
                continue
            dist = entry_point.dist
            where = f"{dist.name} {dist.version}" if dist else None
            try:
                plugin = entry_point.load()
            except Exception as exc:
                raise PluginError(
                    f'plugin "{entry_point.name}" ({entry_point.value}, from '
                    f"{where or 'an unknown distribution'}) failed to import: "
                    f"{type(exc).__name__}: {exc}") from exc
            self.pm.register(plugin, name=entry_point.name)
            if where:
                self._distributions[id(plugin)] = where

    def _collect(self) -> None:
        distributions = self._distributions
        for kind, (hook_name, base) in KINDS.items():
            entries: dict[str, Registration] = {}
            hook = getattr(self.pm.hook, hook_name)
            for impl in hook.get_hookimpls():
                provider = self.pm.get_name(impl.plugin) or repr(impl.plugin)
                result = impl.function()
                for cls in result or []:
                    entry = self._check_entry(kind, base, cls, provider)
                    entry = Registration(kind, entry, cls, provider,
                                         distributions.get(id(impl.plugin)))
                    if entry.name in entries:
                        first = entries[entry.name]
                        raise PluginError(
                            f'{kind} "{entry.name}" is registered twice: by '
                            f"{first.origin} as {_qualname(first.cls)} and by "
                            f"{entry.origin} as {_qualname(entry.cls)}; uninstall one "
                            "of them"
                        )
                    entries[entry.name] = entry
            self._entries[kind] = entries

    @staticmethod
    def _check_entry(kind: str, base: type, cls: Any, provider: str) -> str:
        if not (isinstance(cls, type) and issubclass(cls, base)):
            raise PluginError(
                f"plugin {provider} registered {cls!r} as a {kind}, but a {kind} "
                f"must be a subclass of within.{base.__name__}"
            )
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not name:
            raise PluginError(
                f"plugin {provider} registered {_qualname(cls)} as a {kind} without a "
                "name; set the class attribute name"
            )
        return name

    def names(self, kind: str) -> list[str]:
        return sorted(self._entries[kind])

    def get(self, kind: str, name: str, *, path: str = "") -> type:
        """Return the class registered as ``name``; the error names the YAML path."""
        from within.errors import ConfigError

        entries = self._entries[kind]
        if name not in entries:
            known = sorted(entries)
            hint = difflib.get_close_matches(name, known, n=1)
            did_you_mean = f' (did you mean "{hint[0]}"?)' if hint else ""
            accepted = ("expected one of " + ", ".join(f'"{k}"' for k in known)
                        if known else f"no {kind} plugin is installed")
            raise ConfigError(
                path, f'unknown {kind} plugin "{name}"{did_you_mean}; {accepted}')
        return entries[name].cls

    def registrations(self) -> list[Registration]:
        return [entry for kind in KINDS for entry in self._entries[kind].values()]

    def hook(self):
        return self.pm.hook


_default: Optional[Registry] = None


def get_registry() -> Registry:
    """The process-wide registry, built on first use."""
    global _default
    if _default is None:
        _default = Registry()
    return _default


def _qualname(cls: Any) -> str:
    return f"{getattr(cls, '__module__', '?')}.{getattr(cls, '__qualname__', cls)}"
