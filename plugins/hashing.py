"""The hashing discipline: the media hash of the whole evidence and a hash of every file, in one read."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

import click

from dftk.errors import NotApplicable
from dftk.evidence import Evidence
from dftk.files import Buffer, EvidenceFile
from dftk.plugin import Finding, Plugin, Problem, Record

ALGORITHMS = ("md5", "sha1", "sha256", "sha512", "blake2b")
DEFAULT = ("md5", "sha1", "sha256")


def parse_algorithms(value: str | Iterable[str]) -> tuple[str, ...]:
    names = value.split(",") if isinstance(value, str) else list(value)
    chosen = tuple(dict.fromkeys(n.strip().lower() for n in names if n.strip()))
    unknown = [n for n in chosen if n not in ALGORITHMS]
    if unknown or not chosen:
        raise click.BadParameter(f"choose from {', '.join(ALGORITHMS)} (got {', '.join(unknown) or 'none'})")
    return chosen


def digest_all(chunks: Iterable[Buffer], algorithms: tuple[str, ...]) -> tuple[dict[str, str], int]:
    """Every requested hash over one pass of the chunks, and the number of bytes seen."""
    hashers = [hashlib.new(a) for a in algorithms]
    size = 0
    for chunk in chunks:
        size += len(chunk)
        for h in hashers:
            h.update(chunk)
    return {a: h.hexdigest() for a, h in zip(algorithms, hashers, strict=True)}, size


def _algorithms_option(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, ...]:
    return parse_algorithms(value)


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

    def run(self, evidence: Evidence, **opts: Any) -> Iterator[Record]:
        if not evidence.has_media:
            raise NotApplicable(f"{evidence.format} evidence has no media stream; its files are hashed one by one")
        algorithms = _algorithms(opts)
        hashes, size = digest_all((data for _, data in evidence.chunks()), algorithms)
        data: dict[str, Any] = {"size": size, **hashes}
        yield Finding("hash/evidence", "evidence", data)
        yield from _compare_stored(evidence.stored_hashes, hashes)

    def analyze(self, file: EvidenceFile, data: Buffer, **opts: Any) -> Iterator[Record]:
        algorithms = _algorithms(opts)
        hashes, size = digest_all(_slices(data), algorithms)
        yield Finding("hash/file", file.path, {"size": size, **hashes, **_context(file)})


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
