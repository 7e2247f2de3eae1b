"""Resuming a partial E01: parsing its segments for checkpoints (descriptors and tables trusted only when
their Adler-32 checksums hold), removing the segments no table lists, and reading the kept chunks back
(decompressed and checked, on the compression processes when there are some) so they can be re-hashed.
See :mod:`dftk.ewf.writer` for why resuming works this way.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from dftk.errors import DftkError
from dftk.ewf.compression import BATCH_CHUNKS
from dftk.ewf.sections import HEAD, SIGNATURE, adler
from dftk.ewf.segments import segment_name

Batch = tuple[str, int, int, list[tuple[int, bool, int]]]


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """Where writing can go on: after the volume/data section or a complete sectors/table/table2 group."""

    segment: int  # segment number, from 1
    end: int  # offset in that segment file
    chunks: int  # chunks stored before it, in all segments
    segment_chunks: int  # of them, in this segment
    tables: int  # complete tables before it, in all segments


@dataclass(frozen=True, slots=True)
class Table:
    """A table on disk: its segment, where its section starts (its chunks end there) and its entries."""

    path: Path
    at: int
    count: int


class ImageScan:
    """Finds the checkpoints of the partial image at ``base``.

    Args:
        base: the image path without the ``.E01`` suffix.
        volume: the volume section body this source and these options give.

    Attributes:
        volume: that body with the set GUID of the image on disk, once its first segment's volume is read.
    """

    def __init__(self, base: Path, volume: bytes) -> None:
        self.base = base
        self.volume = volume

    def checkpoints(self) -> tuple[list[Checkpoint], list[Table]]:
        """Every checkpoint of the partial image, segment after segment; a segment counts only when the
        one before it ended with ``next`` right after a checkpoint."""
        points: list[Checkpoint] = []
        tables: list[Table] = []
        number = 1
        while (path := segment_name(self.base, number)).exists() and self._scan(path, number, points, tables):
            number += 1
        return points, tables

    def _scan(self, path: Path, number: int, points: list[Checkpoint], tables: list[Table]) -> bool:
        """Adds the checkpoints of one segment; True when it ends with ``next`` at its last checkpoint."""
        try:
            with open(path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                if not self._head_ok(f.read(HEAD), number, path):
                    return False
                return self._walk(f, size, number, points, tables)
        except OSError as e:
            raise DftkError(f"{path}: cannot resume: cannot read it: {e.strerror or e}") from e

    def _head_ok(self, head: bytes, number: int, path: Path) -> bool:
        if number == 1 and len(head) >= len(SIGNATURE) and not head.startswith(SIGNATURE):
            raise DftkError(f"{path}: cannot resume: not an E01 segment")
        return len(head) == HEAD and head.startswith(SIGNATURE) and struct.unpack_from("<H", head, 9)[0] == number

    def _walk(self, f: BinaryIO, size: int, number: int, points: list[Checkpoint], tables: list[Table]) -> bool:
        """Follows the sections in the order this writer puts them; anything else (a torn or unchecked
        section, the closing sections) ends the walk."""
        chunks = points[-1].chunks if points else 0
        in_segment, sectors, count, expect = 0, (-1, -1), 0, "volume" if number == 1 else "data"
        for kind, at, length in _sections(f, size):
            if kind == "next" and expect == "sectors":
                return points[-1].end == at and points[-1].segment == number
            if kind in ("header2", "header") and expect == "volume":
                continue
            if kind != expect:
                return False
            if kind == "sectors":
                sectors, expect = (at, at + length), "table"
                continue
            if kind == "table":
                count = _table_count(_body(f, at, length), sectors[0]) if sectors[1] == at else 0
                expect = "table2"
                if not count:
                    return False
                continue
            if kind == "table2":
                tables.append(Table(Path(f.name), sectors[1], count))
                chunks, in_segment = chunks + count, in_segment + count
            elif not self._volume_ok(_body(f, at, length), number, Path(f.name)):
                return False
            points.append(Checkpoint(number, at + length, chunks, in_segment, len(tables)))
            expect = "sectors"
        return False

    def _volume_ok(self, body: bytes, number: int, path: Path) -> bool:
        """The first segment's volume must be what this source and these options give (its set GUID
        aside, which is kept); later segments' data sections must repeat it."""
        if number > 1:
            return body == self.volume
        expected = self.volume[:64] + body[64:80] + self.volume[80:-4]
        if body != expected + adler(expected):
            raise DftkError(f"{path}: cannot resume: that image was written for a source of another size or "
                            "with other options (its volume section differs)")
        self.volume = body
        return True


def remove_segments(base: Path, first: int) -> None:
    """Removes the partial segments from ``first`` on: no table lists their chunks."""
    number = first
    while (path := segment_name(base, number)).exists():
        try:
            path.unlink()
        except OSError as e:
            raise DftkError(f"{path}: cannot resume: cannot remove it: {e.strerror or e}") from e
        number += 1


def _sections(f: BinaryIO, size: int) -> Iterator[tuple[str, int, int]]:
    """A segment's sections as (type, offset, size) while their descriptors' checksums hold and their
    bodies are in the file; stops after ``next`` or ``done``."""
    at = HEAD
    while at + 76 <= size:
        f.seek(at)
        head = f.read(76)
        if adler(head[:72]) != head[72:]:
            return
        kind = head[:16].rstrip(b"\0").decode("ascii", "replace")
        following, length = struct.unpack_from("<QQ", head, 16)
        if at + length > size:
            return
        yield kind, at, length
        if kind in ("next", "done") or length < 76 or following != at + length:
            return
        at = following


def _body(f: BinaryIO, at: int, length: int) -> bytes:
    f.seek(at + 76)
    return f.read(length - 76)


def _table_count(body: bytes, sectors_at: int) -> int:
    """The entries of a table section whose checksums hold and that lists the chunks of the sectors
    section at ``sectors_at``; 0 otherwise."""
    if len(body) < 28:
        return 0
    count, _, base, _ = struct.unpack_from("<IIQI", body)
    entries = body[24:24 + 4 * count]
    whole = len(body) == 28 + 4 * count and body[20:24] == adler(body[:20]) and body[-4:] == adler(entries)
    return count if whole and base == sectors_at else 0


def _read_table(table: Table) -> tuple[int, tuple[int, ...]]:
    """A kept table's base offset and entries (checked when the image was scanned)."""
    try:
        with open(table.path, "rb") as f:
            f.seek(table.at)
            length = struct.unpack_from("<Q", f.read(76), 24)[0]
            body = f.read(length - 76)
    except OSError as e:
        raise DftkError(f"{table.path}: cannot resume: cannot read it: {e.strerror or e}") from e
    count, _, base, _ = struct.unpack_from("<IIQI", body)
    return base, struct.unpack_from(f"<{count}I", body, 24)


def kept_batches(kept: list[Table], chunk_size: int, media_size: int) -> Iterator[Batch]:
    """The kept chunks a batch at a time, as (segment, file offset, first chunk number, chunks as (stored
    size, compressed, media size)).

    Args:
        kept: the tables of the chunks kept, in order.
        chunk_size: media bytes per chunk.
        media_size: bytes of media in all (the last chunk may be shorter).
    """
    number = 0
    for table in kept:
        base, entries = _read_table(table)
        offsets = [base + (e & 0x7FFFFFFF) for e in entries] + [table.at]
        chunks = [(offsets[i + 1] - offsets[i], bool(e >> 31), _media_length(number + i, chunk_size, media_size))
                  for i, e in enumerate(entries)]
        for i in range(0, len(chunks), BATCH_CHUNKS):
            yield str(table.path), offsets[i], number + i, chunks[i:i + BATCH_CHUNKS]
        number += len(entries)


def _media_length(chunk: int, chunk_size: int, media_size: int) -> int:
    return min(chunk_size, media_size - chunk * chunk_size)


def read_back(batches: Iterator[Batch], pool: Executor | None, depth: int) -> Iterator[bytes]:
    """The media bytes of ``batches`` in order, unpacked on ``pool`` (``depth`` batches in flight at most)
    or in this process.

    Raises:
        DftkError: a kept chunk is damaged (then the image cannot be resumed).
    """
    if pool is not None:
        from multiprocessing import resource_tracker

        # the workers start here, before any shared buffer: they must share the one tracker the buffers
        # will be registered with, or each would report them leaked (and unlink them) when it ends
        resource_tracker.ensure_running()
    pending: deque[Future[bytes]] = deque()
    for job in batches:
        if pool is None:
            yield _unpacked(unpack_chunks, *job)
            continue
        pending.append(pool.submit(unpack_chunks, *job))
        while len(pending) > depth:
            yield _unpacked(pending.popleft().result)
    while pending:
        yield _unpacked(pending.popleft().result)


def unpack_chunks(path: str, start: int, first: int, chunks: list[tuple[int, bool, int]]) -> bytes:
    """The media bytes of consecutive stored chunks at ``start`` in a segment file, each given as (stored
    size, compressed, media size) and checked (zlib's Adler-32, or the one stored after a raw chunk).
    Runs in a worker process; raises ValueError naming the first damaged chunk."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        data = memoryview(os.pread(fd, sum(c[0] for c in chunks), start))
    finally:
        os.close(fd)
    out = bytearray()
    for number, (stored, compressed, size) in enumerate(chunks, first):
        piece, data = data[:stored], data[stored:]
        media = _unpack(piece, compressed, size)
        if media is None:
            raise ValueError(f"{path}: chunk {number} is damaged or missing")
        out += media
    return bytes(out)


def _unpack(piece: memoryview, compressed: bool, size: int) -> bytes | None:
    if compressed:
        try:
            media = zlib.decompress(piece)
        except zlib.error:
            return None
        return media if len(media) == size else None
    if len(piece) != size + 4 or adler(piece[:size]) != piece[size:]:
        return None
    return bytes(piece[:size])


def _unpacked(result: Callable[..., bytes], *args: Any) -> bytes:
    try:
        return result(*args)
    except ValueError as e:
        raise DftkError(f"cannot resume: {e} (delete the segments and acquire again)") from e
