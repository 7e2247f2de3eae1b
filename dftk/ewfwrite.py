"""An EnCase 6 style E01 writer (EWF-E01), after libewf's format documentation.

Layout of the first segment: file header, header2 twice, header, volume, then ``sectors`` sections (chunks)
each followed by its ``table`` and ``table2`` (chunk offsets, most significant bit = compressed). Later
segments start with a ``data`` section (a copy of volume). The last segment ends with ``error2`` (when
sectors were unreadable), ``digest`` (MD5 and SHA1), ``hash`` (MD5) and ``done``; the others with ``next``.
Chunks are zlib-compressed on worker processes when that makes them smaller, else stored raw followed by
their Adler-32; the output keeps the chunk order.
"""

from __future__ import annotations

import os
import platform
import struct
import uuid
import zlib
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from dftk import __version__
from dftk.errors import DftkError

SIGNATURE = b"EVF\x09\x0d\x0a\xff\x00"
SECTORS_PER_CHUNK = 64
MAX_TABLE_ENTRIES = 16375
LEVELS = {"none": 0, "fast": 1, "best": 9}
_VOLUME_LEVEL = {"none": 0, "fast": 1, "best": 2}
_BATCH_CHUNKS = 128
_MAX_OFFSET = (1 << 31) - 1


@dataclass(frozen=True, slots=True)
class CaseFields:
    """The acquisition metadata stored in the header sections (what ``ewfinfo`` shows)."""

    case_number: str = ""
    evidence_number: str = ""
    examiner: str = ""
    description: str = ""
    notes: str = ""
    model: str = ""
    serial: str = ""
    acquired: datetime = field(default_factory=lambda: datetime.now(UTC))


def adler(data: bytes | bytearray | memoryview) -> bytes:
    return struct.pack("<I", zlib.adler32(data))


def descriptor(kind: str, offset: int, size: int, next_offset: int | None = None) -> bytes:
    """The 76-byte section descriptor: type, next section offset, section size, padding, Adler-32."""
    head = kind.encode().ljust(16, b"\0") + struct.pack("<QQ", offset + size if next_offset is None
                                                         else next_offset, size) + bytes(40)
    return head + adler(head)


def segment_name(base: Path, number: int) -> Path:
    """``base.E01`` ... ``.E99``, then ``.EAA`` ... ``.EZZ``, ``.FAA`` ... (libewf's naming)."""
    if number < 100:
        suffix = f"E{number:02d}"
    else:
        k = number - 100
        suffix = chr(ord("E") + k // 676) + chr(65 + k // 26 % 26) + chr(65 + k % 26)
    return base.with_name(f"{base.name}.{suffix}")


def _clean(value: str) -> str:
    return " ".join(value.split())


def header2_text(fields: CaseFields) -> str:
    """The header2 text (EnCase 5-7 layout): main, srce and sub categories, tab separated."""
    f = fields
    stamp = str(int(f.acquired.timestamp()))
    main = [f.description, f.case_number, f.evidence_number, f.examiner, f.notes, f.model, f.serial,
            f"dftk {__version__}"[:11], platform.system()[:23], stamp, stamp, "0", ""]
    return ("3\nmain\na\tc\tn\te\tt\tmd\tsn\tav\tov\tm\tu\tp\tdc\n" + "\t".join(map(_clean, main)) + "\n\n"
            "srce\n0\t1\np\tn\tid\tev\ttb\tlo\tpo\tah\tgu\taq\n0\t0\n\t\t\t\t\t-1\t-1\t\t\t\n\n"
            "sub\n0\t1\np\tn\tid\tnu\tco\tgu\n0\t0\n\t\t\t\t1\t\n\n")


def header_text(fields: CaseFields) -> str:
    """The older ASCII header section (EnCase 4 layout), which some tools still read."""
    f = fields
    t = f.acquired
    stamp = f"{t.year} {t.month} {t.day} {t.hour} {t.minute} {t.second}"
    main = [f.case_number, f.evidence_number, f.description, f.examiner, f.notes, f"dftk {__version__}"[:11],
            platform.system()[:23], stamp, stamp, "0"]
    return "1\r\nmain\r\nc\tn\ta\te\tt\tav\tov\tm\tu\tp\r\n" + "\t".join(map(_clean, main)) + "\r\n\r\n"


def volume_data(chunks: int, sector_size: int, sectors: int, compression: str, physical: bool,
                guid: bytes) -> bytes:
    """The 1052-byte volume (and data) section body."""
    body = bytearray(1048)
    struct.pack_into("<B3xIIIQ", body, 0, 1, chunks, SECTORS_PER_CHUNK, sector_size, sectors)
    struct.pack_into("<I", body, 36, 3 if physical else 1)
    struct.pack_into("<B", body, 52, _VOLUME_LEVEL[compression])
    struct.pack_into("<I", body, 56, SECTORS_PER_CHUNK)
    body[64:80] = guid
    return bytes(body) + adler(body)


def pack_chunks(batch: bytes, chunk_size: int, level: int) -> list[tuple[bytes, bool]]:
    """Each chunk of a batch as stored: zlib data when smaller, else the raw chunk and its Adler-32.

    Runs in a worker process.
    """
    out = []
    for start in range(0, len(batch), chunk_size):
        chunk = batch[start:start + chunk_size]
        if level:
            packed = zlib.compress(chunk, level)
            if len(packed) < len(chunk):
                out.append((packed, True))
                continue
        out.append((chunk + adler(chunk), False))
    return out


class EwfWriter:
    """Writes one E01 image (one or more segment files), chunk by chunk, in order.

    Args:
        base: the path without the ``.E01`` suffix.
        media_size: bytes of media; must be a multiple of ``sector_size``.
        segment_size: largest segment file in bytes, or None for one segment.
        workers: compression processes (0: compress in this process).
    """

    def __init__(self, base: Path, media_size: int, sector_size: int, fields: CaseFields, compression: str = "fast",
                 segment_size: int | None = None, physical: bool = False, workers: int = 2) -> None:
        if media_size % sector_size:
            raise DftkError(f"E01 stores whole sectors: the source size {media_size} is not a multiple of "
                            f"{sector_size} bytes (use --format raw)")
        self.base = base
        self.chunk_size = SECTORS_PER_CHUNK * sector_size
        self.level = LEVELS[compression]
        self.segment_size = segment_size
        chunks = -(-media_size // self.chunk_size)
        self._volume = volume_data(chunks, sector_size, media_size // sector_size, compression, physical,
                                   uuid.uuid4().bytes)
        self._fields = fields
        self.paths: list[Path] = []
        self._file: BinaryIO | None = None
        self._pos = 0
        self._sectors_at = -1
        self._entries: list[int] = []
        self._pending = bytearray()
        self._inflight: deque[Future[list[tuple[bytes, bool]]]] = deque()
        self._pool: Executor | None = ProcessPoolExecutor(workers) if workers and self.level else None
        self._open_segment()

    # --- input ------------------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        """Appends media bytes (any length); whole batches of chunks go to the compressors."""
        self._pending += data
        batch = _BATCH_CHUNKS * self.chunk_size
        while len(self._pending) >= batch:
            self._submit(bytes(self._pending[:batch]))
            del self._pending[:batch]

    def _submit(self, batch: bytes) -> None:
        if self._pool is None:
            self._store(pack_chunks(batch, self.chunk_size, self.level))
            return
        self._inflight.append(self._pool.submit(pack_chunks, batch, self.chunk_size, self.level))
        while len(self._inflight) > 4:
            self._store(self._inflight.popleft().result())

    def finish(self, md5: str, sha1: str, bad_sectors: Sequence[tuple[int, int]] = ()) -> list[Path]:
        """Writes the remaining chunks and the closing sections; returns the segment files."""
        if self._pending:
            self._submit(bytes(self._pending))
            self._pending.clear()
        while self._inflight:
            self._store(self._inflight.popleft().result())
        self._close_sectors()
        if len(self.paths) == 1:
            self._section("data", self._volume)
        if bad_sectors:
            self._section("error2", _error2(bad_sectors))
        self._section("digest", bytes.fromhex(md5) + bytes.fromhex(sha1) + bytes(40), checksum=True)
        self._section("hash", bytes.fromhex(md5) + bytes(16), checksum=True)
        self._raw(descriptor("done", self._pos, 0, next_offset=self._pos))
        self.close()
        return self.paths

    def close(self) -> None:
        """Releases the file and the compression processes (also after a failure)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._file is not None:
            self._file.close()
            self._file = None

    # --- output -----------------------------------------------------------------------------------

    def _store(self, packed: list[tuple[bytes, bool]]) -> None:
        for data, compressed in packed:
            self._make_room(len(data))
            self._entries.append((self._pos - self._sectors_at) | (0x80000000 if compressed else 0))
            self._raw(data)

    def _make_room(self, size: int) -> None:
        if self._sectors_at < 0:
            self._open_sectors()
        elif len(self._entries) >= MAX_TABLE_ENTRIES or self._pos + size - self._sectors_at > _MAX_OFFSET:
            self._close_sectors()
            self._open_sectors()
        if self.segment_size and self._entries and self._pos + size + self._reserve() > self.segment_size:
            self._close_sectors()
            self._raw(descriptor("next", self._pos, 0, next_offset=self._pos))
            self._open_segment()
            self._open_sectors()

    def _reserve(self) -> int:
        tables = 2 * (76 + 24 + 4 * (len(self._entries) + 1) + 4)
        return tables + 76 + 1128 + 76 + 4096 + 156 + 112 + 76

    def _open_segment(self) -> None:
        if self._file is not None:
            self._file.close()
        path = segment_name(self.base, len(self.paths) + 1)
        try:
            self._file = open(path, "xb")  # noqa: SIM115 - kept open across calls, closed in close()
        except OSError as e:
            raise DftkError(f"{path}: cannot create: {e.strerror or e}") from e
        self.paths.append(path)
        self._pos = 0
        self._raw(SIGNATURE + b"\x01" + struct.pack("<H", len(self.paths)) + b"\0\0")
        if len(self.paths) == 1:
            header2 = zlib.compress(b"\xff\xfe" + header2_text(self._fields).encode("utf-16-le"), 9)
            self._section("header2", header2)
            self._section("header2", header2)
            self._section("header", zlib.compress(header_text(self._fields).encode("ascii", "replace"), 9))
            self._section("volume", self._volume)
        else:
            self._section("data", self._volume)

    def _open_sectors(self) -> None:
        self._sectors_at = self._pos
        self._entries = []
        self._raw(bytes(76))

    def _close_sectors(self) -> None:
        if self._sectors_at < 0:
            return
        assert self._file is not None
        end = self._pos
        self._file.seek(self._sectors_at)
        self._file.write(descriptor("sectors", self._sectors_at, end - self._sectors_at))
        self._file.seek(end)
        head = struct.pack("<IIQI", len(self._entries), 0, self._sectors_at, 0)
        entries = struct.pack(f"<{len(self._entries)}I", *self._entries)
        table = head + adler(head) + entries + adler(entries)
        self._section("table", table)
        self._section("table2", table)
        self._sectors_at = -1

    def _section(self, kind: str, body: bytes, checksum: bool = False) -> None:
        if checksum:
            body += adler(body)
        self._raw(descriptor(kind, self._pos, 76 + len(body)) + body)

    def _raw(self, data: bytes) -> None:
        assert self._file is not None
        try:
            self._file.write(data)
        except OSError as e:
            raise DftkError(f"{self.paths[-1]}: cannot write: {e.strerror or e}") from e
        self._pos += len(data)


def _error2(ranges: Sequence[tuple[int, int]]) -> bytes:
    head = struct.pack("<I", len(ranges)) + bytes(512)
    entries = b"".join(struct.pack("<II", start, count) for start, count in ranges)
    return head + adler(head) + entries + adler(entries)


def default_workers() -> int:
    """Compression processes: one per core."""
    return max(1, os.cpu_count() or 1)
