"""The plugin contract: the ``Plugin`` base class and the media consumer a media-scope plugin returns.

A plugin is a class registered in the ``dftk.plugins`` entry-point group. It yields ``Finding`` and
``Problem`` records from ``run`` (evidence scope), ``media`` (one shared sequential read), ``analyze``
(file scope), or several of them. See docs/plugins.md.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import click

from dftk.records import Record

if TYPE_CHECKING:
    from dftk.evidence.base import Evidence
    from dftk.evidence.files import Buffer, EvidenceFile


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
    # True when analyze() spends its time in code that releases the GIL (a C library such as YARA): on a
    # folder of loose files the engine then runs file units on threads of one process rather than processes.
    threads: ClassVar[bool] = False

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
    def scopes(cls) -> tuple[str, ...]:
        """The scopes the plugin serves: ``evidence``, ``media``, ``file``."""
        found = (("evidence", cls.has_evidence_scope()), ("media", cls.has_media_scope()),
                 ("file", cls.has_file_scope()))
        return tuple(scope for scope, has in found if has)

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
