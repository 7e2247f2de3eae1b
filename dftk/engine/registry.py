"""The installed plugins: discovery through the ``dftk.plugins`` entry-point group and validation of each
registration against the contract, with the plugin named in every error."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib.metadata import entry_points
from typing import Any

import click

from dftk.engine.contract import Plugin
from dftk.errors import PluginError, PluginLoadError

ENTRY_POINT_GROUP = "dftk.plugins"
_NAME = re.compile(r"^[a-z][a-z0-9-]*$")


@dataclass(frozen=True, slots=True)
class LoadedPlugin:
    """A registered plugin class and where it came from (distribution and entry point)."""

    cls: type[Plugin]
    source: str

    @property
    def name(self) -> str:
        return self.cls.name

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.cls.name,
            "discipline": self.cls.discipline,
            "version": self.cls.version,
            "scopes": list(self.cls.scopes()),
            "help": self.cls.help(),
            "options": [o.opts[0] for o in self.cls.options],
            "source": self.source,
        }


def _source(ep: Any) -> str:
    dist = ep.dist.name if ep.dist is not None else "?"
    return f"{dist}: {ep.value}"


def validate(cls: object, source: str) -> type[Plugin]:
    """Checks a registered object against the contract; raises PluginLoadError naming it."""
    if not (isinstance(cls, type) and issubclass(cls, Plugin)):
        raise PluginLoadError(f"plugin {source}: not a subclass of dftk.plugin.Plugin")
    for attr in ("name", "discipline", "version"):
        if not isinstance(getattr(cls, attr, None), str) or not getattr(cls, attr):
            raise PluginLoadError(f"plugin {source}: missing class attribute {attr!r}")
    if not _NAME.match(cls.name):
        raise PluginLoadError(f"plugin {source}: name {cls.name!r} must match [a-z][a-z0-9-]*")
    if not (cls.has_evidence_scope() or cls.has_media_scope() or cls.has_file_scope()):
        raise PluginLoadError(f"plugin {cls.name} ({source}): defines none of run(), media(), analyze()")
    _validate_options(cls, source)
    return cls


def _validate_options(cls: type[Plugin], source: str) -> None:
    prefix = cls.name.replace("-", "_") + "_"
    for option in cls.options:
        if not isinstance(option, click.Option):
            raise PluginLoadError(f"plugin {cls.name} ({source}): options must be click.Option objects")
        if not str(option.name).startswith(prefix):
            raise PluginLoadError(
                f"plugin {cls.name} ({source}): option {option.opts[0]} must be named --{cls.name}-..."
            )


def discover(eps: Any = None) -> dict[str, LoadedPlugin]:
    """Loads and validates every plugin registered in the ``dftk.plugins`` group.

    Raises:
        PluginLoadError: a plugin fails to import or validate, or two share a name (both named).
    """
    found: dict[str, LoadedPlugin] = {}
    for ep in sorted(eps if eps is not None else entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        source = _source(ep)
        try:
            obj = ep.load()
        except (ImportError, AttributeError, SyntaxError) as e:
            raise PluginLoadError(f"plugin {ep.name} ({source}): cannot be imported: {e}") from e
        cls = validate(obj, source)
        if cls.name in found:
            raise PluginLoadError(
                f"duplicate plugin name {cls.name!r}: registered by {found[cls.name].source} and by {source}"
            )
        found[cls.name] = LoadedPlugin(cls, source)
    return found


@cache
def installed() -> dict[str, LoadedPlugin]:
    """The installed plugins, loaded once per process."""
    return discover()


def select(names: tuple[str, ...] | list[str]) -> list[LoadedPlugin]:
    """The named plugins (all installed ones when ``names`` is empty), in name order."""
    plugins = installed()
    unknown = [n for n in names if n not in plugins]
    if unknown:
        raise PluginError(f"unknown plugin {unknown[0]!r}; installed: {', '.join(sorted(plugins)) or 'none'}")
    return [plugins[n] for n in sorted(set(names) or plugins)]
