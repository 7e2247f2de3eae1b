"""The hashing discipline: the media hash of the whole evidence and a hash of every file, in one read."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any, ClassVar

import click

from dftk.evidence import Evidence
from dftk.files import Buffer, EvidenceFile
from dftk.hashes import ALGORITHMS, digest_all, parse_algorithms
from dftk.plugin import Finding, Plugin, Problem, Record

DEFAULT = ("md5", "sha1", "sha256")


def _algorithms_option(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, ...]:
    try:
        return parse_algorithms(value)
    except ValueError as e:
        raise click.BadParameter(str(e)) from e


class HashingPlugin(Plugin):
    """Hash the whole evidence (media hash, checked against the one stored in an E01) and every file."""

    name: ClassVar[str] = "hashing"
    discipline: ClassVar[str] = "digital"
    version: ClassVar[str] = "1.0.0"
    options: ClassVar[tuple[click.Option, ...]] = (
        click.Option(["--hashing-algorithms"], default=",".join(DEFAULT), show_default=True,
                     callback=_algorithms_option,
                     help=f"Comma-separated hash algorithms ({', '.join(ALGORITHMS)})."),
    )

    def media(self, evidence: Evidence, **opts: Any) -> MediaHashes:
        return MediaHashes(_algorithms(opts), dict(evidence.stored_hashes))

    def analyze(self, file: EvidenceFile, data: Buffer, **opts: Any) -> Iterator[Record]:
        algorithms = _algorithms(opts)
        hashes, size = digest_all(_slices(data), algorithms)
        yield Finding("hash/file", file.path, {"size": size, **hashes, **_context(file)})


class MediaHashes:
    """Every requested hash of the media, fed by the shared media pass; compared with the stored hashes."""

    def __init__(self, algorithms: tuple[str, ...], stored: dict[str, str]) -> None:
        self.hashers = {a: hashlib.new(a) for a in algorithms}
        self.stored = stored
        self.size = 0

    def feed(self, offset: int, data: bytes) -> Iterator[Record]:
        self.size += len(data)
        for hasher in self.hashers.values():
            hasher.update(data)
        return iter(())

    def close(self) -> Iterator[Record]:
        hashes = {a: h.hexdigest() for a, h in self.hashers.items()}
        yield Finding("hash/evidence", "evidence", {"size": self.size, **hashes})
        yield from _compare_stored(self.stored, hashes)


def _algorithms(opts: dict[str, Any]) -> tuple[str, ...]:
    value = opts.get("hashing_algorithms") or DEFAULT
    return parse_algorithms(value)


def _slices(data: Buffer, size: int = 4 << 20) -> Iterator[Buffer]:
    view = memoryview(data)
    try:
        for start in range(0, len(view), size):
            yield view[start : start + size]  # type: ignore[misc]
    finally:
        view.release()


def _context(file: EvidenceFile) -> dict[str, Any]:
    return {"inode": file.inode, "deleted": file.deleted,
            "mtime": file.mtime.isoformat() if file.mtime else None}


def _compare_stored(stored: dict[str, str] | Any, computed: dict[str, str]) -> Iterator[Record]:
    for algorithm, value in sorted(stored.items()):
        if algorithm not in computed:
            continue
        verdict = "match" if computed[algorithm] == value else "mismatch"
        yield Finding(f"hash/stored-{verdict}", "evidence",
                      {"algorithm": algorithm, "stored": value, "computed": computed[algorithm]})
        if verdict == "mismatch":
            yield Problem("evidence", f"{algorithm} of the media data differs from the hash stored in the image")
