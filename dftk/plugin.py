"""The plugin contract, discovery through entry points, and validation at registration.

A plugin is a class registered in the ``dftk.plugins`` entry-point group. It yields ``Finding`` and
``Problem`` records from ``run`` (evidence scope), ``analyze`` (file scope), or both. See docs/plugins.md.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import click

from dftk.errors import PluginError, PluginLoadError

if TYPE_CHECKING:
    from dftk.evidence import Evidence
    from dftk.files import Buffer, EvidenceFile

ENTRY_POINT_GROUP = "dftk.plugins"
_NAME = re.compile(r"^[a-z][a-z0-9-]*$")
_KIND = re.compile(r"^[a-z0-9][a-z0-9_.-]*(/[a-z0-9][a-z0-9_.-]*)+$")


@dataclass(frozen=True, slots=True)
class Finding:
    """Something a plugin found.

    Attributes:
        kind: namespaced, lower case: ``hash/file``, ``carve/jpeg``, ``media/exif``.
        subject: where: ``/Photos/a.jpg``, ``inode:15``, ``offset:0x1f400``, ``evidence``.
        data: JSON values only; bytes as hex; times as tz-aware UTC ISO 8601 strings.
    """

    kind: str
    subject: str
    data: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Problem:
    """Trouble with one item that did not stop the plugin; it is recorded in the case and the report."""

    subject: str
    message: str


Record = Finding | Problem


class MediaConsumer(Protocol):
    """Receives every byte of the media once, in order, in chunks shared with every other consumer."""

    def feed(self, offset: int, data: bytes) -> Iterable[Record]:
        """One chunk at ``offset``; patterns may span chunks, so keep what you need of the tail."""
        ...

    def close(self) -> Iterable[Record]:
        """The media has ended: yield what is only known at the end (a hash, a histogram)."""
        ...


class Plugin:
    """Base class of every plugin; the first docstring line of a subclass is its help text."""

    name: ClassVar[str]
    discipline: ClassVar[str]
    version: ClassVar[str]
    options: ClassVar[tuple[click.Option, ...]] = ()

    def check(self, evidence: Evidence) -> None:
        """Raises NotApplicable("why") when the plugin cannot serve this evidence."""

    def run(self, evidence: Evidence, **opts: Any) -> Iterator[Record]:
        """Evidence scope: examines the evidence as a whole."""
        return iter(())

    def analyze(self, file: EvidenceFile, data: Buffer, **opts: Any) -> Iterator[Record]:
        """File scope: examines one file; ``data`` is its content, read once for all plugins."""
        return iter(())

    def media(self, evidence: Evidence, **opts: Any) -> MediaConsumer:
        """Media scope: returns a consumer fed the media's bytes in one sequential read that every
        media-scope plugin shares (hashing, raw scans). Raise NotApplicable to skip."""
        raise NotImplementedError("define media() for a media-scope plugin")

    @classmethod
    def has_evidence_scope(cls) -> bool:
        return cls.run is not Plugin.run

    @classmethod
    def has_media_scope(cls) -> bool:
        return cls.media is not Plugin.media

    @classmethod
    def has_file_scope(cls) -> bool:
        return cls.analyze is not Plugin.analyze

    @classmethod
    def help(cls) -> str:
        return (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""

    @classmethod
    def option_names(cls) -> tuple[str, ...]:
        return tuple(str(o.name) for o in cls.options)

    @classmethod
    def work_identity(cls, options: dict[str, Any]) -> dict[str, Any]:
        """What, besides the version, decides this plugin's results: a rerun of a case skips work done under
        the same identity. The options by default; a plugin whose options name files (rules, hash sets)
        adds digests of their contents, so an edited file under the same path means new work."""
        return options


def content_digests(paths: Iterable[str | os.PathLike[str]]) -> dict[str, str]:
    """sha256 of each named file's content (``unreadable`` when it cannot be read), for work identities."""
    digests: dict[str, str] = {}
    for path in paths:
        try:
            digests[str(path)] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        except OSError:
            digests[str(path)] = "unreadable"
    return digests


@dataclass(frozen=True, slots=True)
class LoadedPlugin:
    """A registered plugin class and where it came from (distribution and entry point)."""

    cls: type[Plugin]
    source: str

    @property
    def name(self) -> str:
        return self.cls.name

    def describe(self) -> dict[str, Any]:
        scopes = [s for s, has in (("evidence", self.cls.has_evidence_scope()),
                                   ("media", self.cls.has_media_scope()),
                                   ("file", self.cls.has_file_scope())) if has]
        return {
            "name": self.cls.name,
            "discipline": self.cls.discipline,
            "version": self.cls.version,
            "scopes": scopes,
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
    from dftk.entrypoints import entry_points

    found: dict[str, LoadedPlugin] = {}
    for ep in sorted(eps if eps is not None else entry_points(ENTRY_POINT_GROUP), key=lambda e: e.name):
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


def canonical_json(value: Any) -> str:
    """The one JSON form dftk stores and signs: sorted keys, UTF-8, no NaN, no floats that lose meaning."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def check_json(data: Mapping[str, Any], plugin: str) -> str:
    """Returns the canonical JSON of a finding's data, or raises PluginError if it is not JSON values."""
    try:
        _check_value(data)
        return canonical_json(dict(data))
    except (TypeError, ValueError) as e:
        raise PluginError(f"plugin {plugin} yielded data that is not JSON values: {e}") from e


def _check_value(value: Any) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"non-finite number {value}")
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"key {key!r} is not a string")
            _check_value(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _check_value(item)
    elif value is not None and not isinstance(value, (str, int, float, bool)):
        raise TypeError(f"{type(value).__name__} is not a JSON value")
