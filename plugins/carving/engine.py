"""The carving engine: candidate headers found with Hyperscan (``signatures.py``) over the byte space read
once in overlapping chunks, each validated where it was found; work split in byte ranges whose results are
merged by offset.

The byte space is the whole evidence (``scope="all"``) or its unallocated runs laid end to end
(``scope="unallocated"``); fragments are mapped back to image offsets. Every candidate is validated on
its own from the bytes (never from what a neighbour found), and the merge applies the same nesting rules
to every result, so the output does not depend on how the range was split over workers.
"""

from __future__ import annotations

import bisect
import ctypes
import struct
import sys
import zlib
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from dftk.api import Evidence, EvidenceSpec, reopen
from dftk_plugins.carving.formats import BY_NAME, FORMATS, Format
from dftk_plugins.carving.model import Verdict, View
from dftk_plugins.carving.output import Output, carved_path, store
from dftk_plugins.carving.signatures import Scanner

CHUNK = 16 << 20  # = UNIT: one window per unit, so files across its middle need no block re-reads
OVERLAP = 64
BLOCK = 1 << 20
UNIT = 16 << 20  # small enough that the last units keep every worker busy
PIECE = 4 << 20  # what is hashed and written at a time of a file outside the window
_SCANNERS: dict[tuple[str, ...], Scanner] = {}


class Space:
    """The carved byte space over runs ``(image_offset, length)`` of the evidence, with a small block cache."""

    def __init__(self, evidence: Evidence, runs: tuple[tuple[int, int], ...], mapped: bool = False) -> None:
        self.evidence = evidence
        self.mapped = mapped
        self.runs = runs
        self.starts: list[int] = []
        total = 0
        for _, length in runs:
            self.starts.append(total)
            total += length
        self.size = total
        self.cache: OrderedDict[int, bytes | memoryview] = OrderedDict()
        # the chunk last scanned: most validator reads fall inside it and are served by one slice of it
        self.window_view = memoryview(b"")
        self.window_start = 0

    def chunk(self, offset: int, length: int) -> bytes | memoryview:
        """``[offset, offset + length)`` straight from the evidence: mapped (``mapped``, when the evidence
        allows it) or read once per run; its whole blocks are kept in the cache as views of it, for the
        validators that follow."""
        runs = self.image_runs(offset, length)
        view = self.evidence.mapped(*runs[0]) if self.mapped and len(runs) == 1 else None
        data = view if view is not None else b"".join(self.evidence.read(at, n) for at, n in runs)
        whole = memoryview(data)
        for index in range(-(-offset // BLOCK), (offset + len(data)) // BLOCK):
            at = index * BLOCK - offset
            self._keep(index, whole[at:at + BLOCK])
        self.window_view, self.window_start = whole, offset
        return data

    def pieces(self, offset: int, length: int) -> Iterator[bytes | memoryview]:
        """``[offset, offset + length)`` in pieces: views of the window where it holds them (no copy),
        reads of at most ``PIECE`` bytes elsewhere (so a file of any size is handled in bounded memory)."""
        end = min(offset + length, self.size)
        window_end = self.window_start + len(self.window_view)
        while offset < end:
            if self.window_start <= offset < window_end:
                n = min(end, window_end) - offset
                yield self.window_view[offset - self.window_start:offset - self.window_start + n]
            else:
                n = min(end - offset, PIECE, self.window_start - offset if offset < self.window_start else PIECE)
                yield self.read(offset, n)
            offset += n

    def read(self, offset: int, length: int) -> bytes:
        at = offset - self.window_start
        if 0 <= at <= at + length <= len(self.window_view):  # the common case, kept cheap: many small reads
            return bytes(self.window_view[at:at + length])
        length = max(0, min(length, self.size - offset))
        index, inside = divmod(offset, BLOCK)
        if inside + length <= BLOCK:
            block = self.cache.get(index)
            return bytes((block if block is not None else self._block(index))[inside:inside + length])
        parts = []
        while length > 0:
            block = self._block(offset // BLOCK)
            piece = block[offset % BLOCK:offset % BLOCK + length]
            if not piece:
                break
            parts.append(piece)
            offset += len(piece)
            length -= len(piece)
        return b"".join(parts)

    def buffer(self, offset: int, length: int) -> bytes | memoryview:
        at = offset - self.window_start
        if 0 <= at <= at + length <= len(self.window_view):
            return self.window_view[at:at + length]
        return self.read(offset, length)

    def _block(self, index: int) -> bytes | memoryview:
        if index in self.cache:
            self.cache.move_to_end(index)
            return self.cache[index]
        data = b"".join(self.evidence.read(at, n) for at, n in self.image_runs(index * BLOCK, BLOCK))
        self._keep(index, data)
        return data

    def _keep(self, index: int, block: bytes | memoryview) -> None:
        self.cache[index] = block
        self.cache.move_to_end(index)
        if len(self.cache) > 48:
            self.cache.popitem(last=False)

    def image_runs(self, offset: int, length: int) -> list[tuple[int, int]]:
        """The image byte runs that hold ``[offset, offset + length)`` of this space."""
        runs: list[tuple[int, int]] = []
        i = bisect.bisect_right(self.starts, offset) - 1
        while length > 0 and 0 <= i < len(self.runs):
            image, size = self.runs[i]
            inside = offset - self.starts[i]
            n = min(length, size - inside)
            if runs and runs[-1][0] + runs[-1][1] == image + inside:
                runs[-1] = (runs[-1][0], runs[-1][1] + n)
            else:
                runs.append((image + inside, n))
            offset, length, i = offset + n, length - n, i + 1
        return runs


@dataclass(frozen=True, slots=True)
class Unit:
    """A byte range of the space to carve: candidates that start in ``[start, end)``."""

    spec: EvidenceSpec
    runs: tuple[tuple[int, int], ...]
    start: int
    end: int
    types: tuple[str, ...]
    sector: int
    outdir: Path | None = None
    mapped: bool = False  # map the evidence rather than read it: only in a worker whose death is contained


@dataclass(frozen=True, slots=True)
class Hit:
    """A validated candidate, in space coordinates, with the SHA-256 and size of its bytes (empty when a
    merge has cut it short: the parent then hashes it again)."""

    offset: int
    name: str
    kind: str
    fragments: tuple[tuple[int, int], ...]
    full: bool
    confidence: float
    sound: int = 0
    sha256: str = ""
    size: int = 0

    @property
    def end(self) -> int:
        return max(at + n for at, n in self.fragments)

    @property
    def reach(self) -> int:
        """Where what this hit can hold ends: the file's end, or the end of a partial file's sound part."""
        return self.end if self.full else self.offset + self.sound

    def holds(self, offset: int) -> bool:
        if not self.full:
            return self.offset < offset < self.offset + self.sound
        return any(at <= offset < at + n for at, n in self.fragments)


def units(evidence: Evidence, runs: tuple[tuple[int, int], ...], types: tuple[str, ...],
          outdir: Path | None = None, mapped: bool = False) -> Iterator[Unit]:
    """Fixed-size byte ranges over the space (the same for any worker count)."""
    size = sum(n for _, n in runs)
    for start in range(0, size, UNIT):
        yield Unit(evidence.spec, runs, start, min(size, start + UNIT), types, evidence.sector_size, outdir, mapped)


def carve_unit(unit: Unit) -> list[Hit]:
    """Finds and validates the candidates of one range, and hashes (with an output folder, writes) each
    file found while its bytes are in memory; a worker process runs this. Files the merge then drops are
    removed by the parent."""
    _keep_freed_memory()
    space = Space(reopen(unit.spec), unit.runs, unit.mapped)
    output = Output(unit.outdir) if unit.outdir is not None else None
    formats = tuple(BY_NAME[t] for t in unit.types)
    hits: list[Hit] = []
    open_files: dict[str, list[Hit]] = {}  # full hits per type that may still hold later candidates
    for offset, fmt in _candidates(space, unit, formats):
        same = open_files.get(fmt.name)
        if same:
            same[:] = [h for h in same if h.end > offset]
            if not fmt.nests and any(h.holds(offset) for h in same):
                continue  # inside a file of its own type: merge drops it; skipping here saves the work
        hit = _validate(space, offset, fmt, unit.sector)
        if hit is not None:
            hit = _settle(space, hit, output)
            hits.append(hit)
            if hit.full:
                open_files.setdefault(hit.name, []).append(hit)
    return hits


def _settle(space: Space, hit: Hit, output: Output | None) -> Hit:
    """The hit with the SHA-256 and size of its bytes; with an output folder its file is written too."""
    pieces = (piece for at, n in hit.fragments for piece in space.pieces(at, n))
    size, sha256 = store(pieces, output, hit_path(space, hit))
    return replace(hit, sha256=sha256, size=size)


def hit_path(space: Space, hit: Hit) -> str:
    """The output path of a hit's file, named by the image offset of its first byte."""
    at, n = hit.fragments[0]
    return carved_path(hit.kind, hit.name, space.image_runs(at, n)[0][0])


_ALLOCATOR_SET: list[bool] = []


def _keep_freed_memory() -> None:
    """Has glibc keep freed memory for reuse (once per process). By default it hands blocks of a few MiB (a
    chunk, a decoded picture, a raster) back to the kernel when freed and maps fresh pages for the next, so a
    carving process page-faults on every unit; reused memory costs no fault. Other C libraries: left as is."""
    if _ALLOCATOR_SET or not sys.platform.startswith("linux"):
        return
    _ALLOCATOR_SET.append(True)
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    for option, value in ((-1, 256 << 20), (-2, 64 << 20), (-3, 32 << 20)):  # trim threshold, top pad, mmap threshold
        mallopt(option, value)


def _candidates(space: Space, unit: Unit, formats: tuple[Format, ...]) -> Iterator[tuple[int, Format]]:
    scanner = _scanner(formats)
    for at in range(unit.start, unit.end, CHUNK):
        data = space.chunk(at, min(CHUNK, unit.end - at, space.size - at) + OVERLAP)
        for offset, index in scanner.find(data, unit.sector):
            if offset < CHUNK and at + offset < unit.end:
                yield at + offset, formats[index]


def _scanner(formats: tuple[Format, ...]) -> Scanner:
    key = tuple(f.name for f in formats)
    if key not in _SCANNERS:
        _SCANNERS[key] = Scanner([f.signatures for f in formats], [f.sector_signatures for f in formats])
    return _SCANNERS[key]


def _validate(space: Space, offset: int, fmt: Format, sector: int) -> Hit | None:
    view = View(space, offset, fmt.max_size)
    try:
        verdict = fmt.validate(view)
        if verdict is not None and not verdict.full and fmt.gaps is not None:
            verdict = fmt.gaps(fmt.validate, view, verdict, sector) or verdict
    except (struct.error, ValueError, IndexError, OverflowError, zlib.error, RecursionError):
        return None  # bytes no validator could make sense of: not a file of this type
    if verdict is None or verdict.length <= 0:
        return None
    return _hit(view, offset, fmt, verdict)


def _hit(view: View, offset: int, fmt: Format, verdict: Verdict) -> Hit:
    fragments = verdict.fragments or ((offset, verdict.length),)
    kind = fmt.kind(view, verdict.length) if fmt.kind is not None else fmt.name
    sound = verdict.length if verdict.full else min(verdict.good, verdict.length)
    return Hit(offset, fmt.name, kind, fragments, verdict.full, verdict.confidence, max(0, sound))


def merge(results: Iterator[list[Hit]]) -> Iterator[tuple[Hit, Hit | None]]:
    """Hits of all units in offset order with their container (None: top level); nested duplicates and
    partial hits inside other files dropped. A partial top-level hit holds what lies in its sound part
    (a picture inside an ID3 tag whose audio is missing) and is cut where the next file after that starts;
    its embedded files wait until its length is settled, so a container always comes before its contents."""
    containers: list[Hit] = []
    pending: Hit | None = None
    waiting: list[tuple[Hit, Hit | None]] = []
    for batch in results:
        for hit in batch:
            containers = [c for c in containers if c.reach > hit.offset]
            holders = [c for c in containers if c.holds(hit.offset)]
            if holders:
                parent = holders[-1]
                same = any(c.name == hit.name for c in holders) and not BY_NAME[hit.name].nests
                if hit.full and not same:
                    containers.append(hit)
                    if pending is None:
                        yield hit, parent
                    else:
                        waiting.append((hit, parent))
                continue
            if pending is not None:
                yield _cut(pending, hit.offset), None
                yield from waiting
                pending, waiting = None, []
            containers.append(hit)
            if hit.full:
                yield hit, None
            else:
                pending = hit
    if pending is not None:
        yield pending, None
        yield from waiting


def _cut(hit: Hit, at: int) -> Hit:
    if hit.end <= at:
        return hit
    fragments = tuple((s, min(n, at - s)) for s, n in hit.fragments if s < at)
    return Hit(hit.offset, hit.name, hit.kind, fragments, hit.full, hit.confidence, min(hit.sound, at - hit.offset))


__all__ = ["FORMATS", "Hit", "Space", "Unit", "carve_unit", "hit_path", "merge", "units"]
