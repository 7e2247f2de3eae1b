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
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from dftk import __version__
from dftk.errors import DftkError

if TYPE_CHECKING:  # loaded when an E01 is written: slow to import, and raw imaging never needs them
    from multiprocessing import shared_memory

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


_PROBES = 4  # samples of a chunk tried before the whole chunk is compressed ("fast" only)
_PROBE_SIZE = 512
_zero_packed: dict[tuple[int, int], bytes] = {}


def pack_chunks(batch: bytes | memoryview, chunk_size: int, level: int) -> list[tuple[bytes, bool]]:
    """Each chunk of a batch as stored: ``(zlib data, True)`` when that is smaller, else ``(Adler-32 of
    the raw chunk, False)`` (the caller writes the raw chunk from its own batch, then the checksum).

    With ``fast`` compression (level 1), a chunk whose samples (four spread 512-byte pieces) do not
    compress at all (encrypted, compressed or random data) is stored raw without compressing it whole:
    zlib would only have produced something larger. Runs in a worker process.
    """
    out: list[tuple[bytes, bool]] = []
    view = memoryview(batch)
    zero = bytes(chunk_size)
    for start in range(0, len(view), chunk_size):
        chunk = bytes(view[start:start + chunk_size])
        if level:
            if chunk == zero:
                out.append((_packed_zero(chunk_size, level), True))
                continue
            if level != 1 or _compressible(chunk):
                packed = zlib.compress(chunk, level)
                if len(packed) < len(chunk):
                    out.append((packed, True))
                    continue
        out.append((adler(chunk), False))
    return out


_attached: dict[str, shared_memory.SharedMemory] = {}


def _buf(shm: shared_memory.SharedMemory) -> memoryview:
    buf = shm.buf
    assert buf is not None
    return buf


def pack_shared(name: str, length: int, chunk_size: int, level: int) -> list[tuple[bytes, bool]]:
    """:func:`pack_chunks` of the first ``length`` bytes of a shared-memory buffer (in a worker process,
    which keeps the buffer attached for the next batches)."""
    from multiprocessing import shared_memory

    shm = _attached.get(name)
    if shm is None:
        shm = _attached[name] = shared_memory.SharedMemory(name)
    view = _buf(shm)[:length]
    try:
        return pack_chunks(view, chunk_size, level)
    finally:
        view.release()


def _compressible(chunk: bytes) -> bool:
    if len(chunk) < _PROBES * _PROBE_SIZE * 4:
        return True
    step = len(chunk) // _PROBES
    sample = b"".join(chunk[i * step:i * step + _PROBE_SIZE] for i in range(_PROBES))
    return len(zlib.compress(sample, 1)) < len(sample)


def _packed_zero(chunk_size: int, level: int) -> bytes:
    key = (chunk_size, level)
    if key not in _zero_packed:
        _zero_packed[key] = zlib.compress(bytes(chunk_size), level)
    return _zero_packed[key]


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
        self._inflight: deque[tuple[bytes | int, Future[list[tuple[bytes, bool]]]]] = deque()
        self._depth = 2 * max(1, workers) + 1
        self.media_size = media_size
        self._received = 0
        # shared-memory buffers the caller reads media into and the workers compress from (no copies)
        self._slots: list[shared_memory.SharedMemory] = []
        self._slot_size = 0
        self._slot_busy: list[list[Future[Any]]] = []
        self._next_slot = 0
        self._shared_ok = True
        self._pool: Executor | None = None
        if workers and self.level:
            from concurrent.futures import ProcessPoolExecutor

            self._pool = ProcessPoolExecutor(workers)
        self._open_segment()

    # --- input ------------------------------------------------------------------------------------

    def take_buffer(self, length: int) -> tuple[int, memoryview] | None:
        """A shared buffer of ``length`` bytes for the caller to fill, then hand over with
        :meth:`write_buffer`; None when this write cannot go through shared memory (then use :meth:`write`).

        Waits until that buffer's previous use (compression, writing, the futures given to
        ``write_buffer``) is over."""
        if not self._shareable(length):
            return None
        index = self._next_slot
        self._next_slot = (index + 1) % len(self._slots)
        for f in self._slot_busy[index]:
            f.result()
        while any(item[0] == index for item in self._inflight):
            self._store_next()
        self._slot_busy[index] = []
        return index, _buf(self._slots[index])[:length]

    def write_buffer(self, index: int, length: int, hold: Sequence[Future[Any]] = ()) -> None:
        """Compresses and writes the media bytes just put in shared buffer ``index``; ``hold``: other work
        reading that buffer (hashing), awaited before the buffer is reused."""
        assert self._pool is not None
        self._received += length
        self._slot_busy[index] = list(hold)
        future = self._pool.submit(pack_shared, self._slots[index].name, length, self.chunk_size, self.level)
        self._inflight.append((index, future))
        while len(self._inflight) > self._depth:
            self._store_next()

    def _shareable(self, length: int) -> bool:
        if self._pool is None or self._pending or not self._shared_ok:
            return False
        if length % self.chunk_size and self._received + length != self.media_size:
            return False  # a partial chunk is only allowed at the very end
        if not self._slots:
            return self._create_slots(length)
        return length <= self._slot_size

    def _create_slots(self, size: int) -> bool:
        from multiprocessing import shared_memory

        count = self._depth + 1
        try:  # a small /dev/shm (containers) would fail later with SIGBUS: check its room first
            st = os.statvfs("/dev/shm")
            if st.f_bavail * st.f_frsize < 2 * count * size:
                raise OSError("not enough room in /dev/shm")
            self._slots = [shared_memory.SharedMemory(create=True, size=size) for _ in range(count)]
        except (OSError, ValueError):
            self._release_slots()
            self._shared_ok = False
            return False
        self._slot_size = size
        self._slot_busy = [[] for _ in range(count)]
        return True

    def _release_slots(self) -> None:
        for shm in self._slots:
            try:
                shm.close()
            except BufferError:  # a view is still referenced (after an error): the mapping goes with it
                pass
            try:
                shm.unlink()
            except FileNotFoundError:
                pass
        self._slots = []

    def write(self, data: bytes) -> None:
        """Appends media bytes (any length); whole batches of chunks go to the compressors.

        A block of whole chunks arriving when nothing is pending is handed over as it is (one batch, no
        copy); ``data`` must then stay unchanged (bytes are)."""
        self._received += len(data)
        batch = _BATCH_CHUNKS * self.chunk_size
        if not self._pending and len(data) >= batch and len(data) % self.chunk_size == 0 \
                and isinstance(data, bytes):
            self._submit(data)
            return
        self._pending += data
        while len(self._pending) >= batch:
            self._submit(bytes(self._pending[:batch]))
            del self._pending[:batch]

    def _submit(self, batch: bytes) -> None:
        if self._pool is None:
            self._store(batch, pack_chunks(batch, self.chunk_size, self.level))
            return
        self._inflight.append((batch, self._pool.submit(pack_chunks, batch, self.chunk_size, self.level)))
        while len(self._inflight) > self._depth:
            self._store_next()

    def _store_next(self) -> None:
        batch, future = self._inflight.popleft()
        if isinstance(batch, int):  # a shared buffer
            view = _buf(self._slots[batch])[:]  # a view of its own, released below
            try:
                self._store(view, future.result())
            finally:
                view.release()
        else:
            self._store(batch, future.result())

    def finish(self, md5: str, sha1: str, bad_sectors: Sequence[tuple[int, int]] = ()) -> list[Path]:
        """Writes the remaining chunks and the closing sections; returns the segment files."""
        if self._pending:
            self._submit(bytes(self._pending))
            self._pending.clear()
        while self._inflight:
            self._store_next()
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
        self._release_slots()
        if self._file is not None:
            self._file.close()
            self._file = None

    # --- output -----------------------------------------------------------------------------------

    def _store(self, batch: bytes | memoryview, packed: list[tuple[bytes, bool]]) -> None:
        view = memoryview(batch)
        for i, (data, compressed) in enumerate(packed):
            if compressed:
                self._make_room(len(data))
                self._entries.append((self._pos - self._sectors_at) | 0x80000000)
                self._raw(data)
            else:
                chunk = view[i * self.chunk_size:(i + 1) * self.chunk_size]
                self._make_room(len(chunk) + 4)
                self._entries.append(self._pos - self._sectors_at)
                self._raw(chunk)
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

    def _raw(self, data: bytes | memoryview) -> None:
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
