"""Seals: what every file that holds the evidence was, so that any later difference can be named.

A seal records each source file's size, modification time and SHA-256, and the BLAKE3 digests of its blocks
(at most 1024 blocks a file, each at least 16 MiB) so that a changed file is located to its first
differing block. The seal's own digest covers the files' paths, sizes and content hashes, not their times:
a file that was touched but not changed keeps the seal ("timestamps changed, content identical"), and its
new times are noted. A seal is taken before and after each run; a content difference is a failure of the
read-only guarantee. For a container (E01) the seal covers the container files as stored on disk, which is
what must not change; the media hash inside is the hashing plugin's business.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from blake3 import blake3

from dftk.errors import EvidenceError
from dftk.evidence import Evidence, open_read_only
from dftk.records import canonical_json

_CHUNK = 4 << 20
_DETAIL_LIMIT = 64  # sources listed in the seal's summary (a report); the case store keeps them all
_MIN_BLOCK = 16 << 20
_MAX_BLOCKS = 1024


@dataclass(frozen=True, slots=True)
class SourceSeal:
    """One source file as sealed."""

    path: str
    size: int
    mtime_ns: int
    sha256: str
    block_size: int = _MIN_BLOCK
    blocks: tuple[str, ...] = ()
    sm3: str | None = None

    def entry(self) -> dict[str, Any]:
        found = {"path": self.path, "size": self.size, "mtime_ns": self.mtime_ns, "sha256": self.sha256}
        return {**found, "sm3": self.sm3} if self.sm3 else found


@dataclass(frozen=True, slots=True)
class Seal:
    sha256: str
    files: int
    bytes: int
    sources: tuple[SourceSeal, ...] = field(default=())

    @property
    def detail(self) -> list[dict[str, Any]]:
        return [s.entry() for s in self.sources[:_DETAIL_LIMIT]]

    def summary(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "files": self.files, "bytes": self.bytes, "sources": self.detail}

    def recorded(self) -> list[dict[str, Any]]:
        """Every source as a seal records it, block digests included (what ``compare`` takes)."""
        return [{**s.entry(), "block_size": s.block_size, "blocks": list(s.blocks)} for s in self.sources]


def block_size(size: int) -> int:
    """The block size a file of ``size`` bytes is sealed in: 16 MiB, doubled until it has at most 1024."""
    block = _MIN_BLOCK
    while size > block * _MAX_BLOCKS:
        block *= 2
    return block


def _seal_file(name: str, path: Path, progress: Callable[[int], None] | None, sm3: bool) -> SourceSeal:
    try:
        fd = open_read_only(path)
    except OSError as e:
        raise EvidenceError(f"{path}: cannot open to seal: {e.strerror or e}") from e
    try:
        st = os.fstat(fd)
        block = block_size(st.st_size)
        whole, size, blocks, current = hashlib.sha256(), 0, [], blake3()
        chinese = hashlib.new("sm3") if sm3 else None
        while data := os.read(fd, _CHUNK):
            whole.update(data)
            if chinese is not None:
                chinese.update(data)
            for piece in _split(data, block - size % block):
                current.update(piece)
                if (size + len(piece)) % block == 0:
                    blocks.append(current.hexdigest())
                    current = blake3()
                size += len(piece)
            if progress:
                progress(len(data))
        if size % block:
            blocks.append(current.hexdigest())
    except OSError as e:
        raise EvidenceError(f"{path}: read error while sealing: {e.strerror or e}") from e
    finally:
        os.close(fd)
    return SourceSeal(name, size, st.st_mtime_ns, whole.hexdigest(), block, tuple(blocks),
                      chinese.hexdigest() if chinese is not None else None)


def _split(data: bytes, first: int) -> Iterator[bytes]:
    """The chunk in pieces that end where blocks end: ``first`` bytes, then the rest."""
    view = memoryview(data)
    yield bytes(view[:first]) if first < len(data) else data
    if first < len(data):
        yield bytes(view[first:])


def seal(evidence: Evidence, progress: Callable[[int], None] | None = None, sm3: bool = False) -> Seal:
    """Hashes every source file of the evidence and combines the results into one seal; with ``sm3``, each
    file's SM3 too (the integrity check value Chinese rules name; about five times SHA-256's work)."""
    sources = tuple(_seal_file(name, path, progress, sm3) for name, path in evidence.stored_files())
    return combine(sources)


def combine(sources: tuple[SourceSeal, ...]) -> Seal:
    combined = hashlib.sha256()
    for source in sources:
        combined.update(canonical_json({"path": source.path, "size": source.size, "sha256": source.sha256})
                        .encode() + b"\n")
    return Seal(combined.hexdigest(), len(sources), sum(s.size for s in sources), sources)


@dataclass(frozen=True, slots=True)
class Changes:
    """What differs between an earlier seal and a new one."""

    content: tuple[str, ...]
    times: tuple[str, ...]

    def said(self, limit: int = 3) -> str:
        """The content changes on one line (the first few)."""
        more = f" (and {len(self.content) - limit} more)" if len(self.content) > limit else ""
        return "; ".join(self.content[:limit]) + more


def compare(earlier: Iterable[Mapping[str, Any]], now: Seal, total: int | None = None) -> Changes:
    """Names each file that changed since ``earlier`` (its sources as recorded: path, size, mtime_ns,
    sha256, and where known block_size and blocks). ``total`` is how many files the earlier seal covered,
    when ``earlier`` lists only some of them (a report's summary)."""
    known = {e["path"]: e for e in earlier}
    content: list[str] = []
    times: list[str] = []
    for source in now.sources:
        before = known.pop(source.path, None)
        if before is None:
            if total is None:  # a summary lists only some files: one it does not list may be any of the others
                content.append(f"{source.path}: not in the earlier seal")
            continue
        if before["size"] != source.size:
            content.append(f"{source.path}: size was {before['size']} bytes, now {source.size}")
        elif before["sha256"] != source.sha256 or None not in (before.get("sm3"), source.sm3) and (
                before.get("sm3") != source.sm3):
            content.append(f"{source.path}: content changed{_where(before, source)}")
        elif before.get("mtime_ns") != source.mtime_ns:
            times.append(f"{source.path}: timestamps changed, content identical")
    content += [f"{path}: missing" for path in known]  # listed before, not found now
    if total is not None and total != now.files:
        content.append(f"the evidence was held in {total} files, now {now.files}")
    return Changes(tuple(content), tuple(times))


def _where(before: Mapping[str, Any], now: SourceSeal) -> str:
    blocks = before.get("blocks")
    if not blocks or before.get("block_size") != now.block_size:
        return ""
    for index, (old, new) in enumerate(zip(blocks, now.blocks, strict=False)):
        if old != new:
            start = index * now.block_size
            return f", first in bytes {start}-{min(start + now.block_size, now.size) - 1} (block {index})"
    return ""
