"""An EnCase 6 style E01 writer (EWF-E01), after libewf's format documentation.

Layout of the first segment: file header, header2 twice, header, volume, then ``sectors`` sections (chunks)
each followed by its ``table`` and ``table2`` (chunk offsets, most significant bit = compressed). Later
segments start with a ``data`` section (a copy of volume). The last segment ends with ``error2`` (when
sectors were unreadable), ``digest`` (MD5 and SHA1), ``hash`` (MD5) and ``done``; the others with ``next``.
Chunks are zlib-compressed on worker processes when that makes them smaller, else stored raw followed by
their Adler-32; the output keeps the chunk order.

Resuming: a sectors section is closed (its ``table`` and ``table2`` written) every ``checkpoint`` bytes of
media, not only when its table is full, and the chunks are flushed to disk (fdatasync) before the tables
that list them. A complete sectors/table/table2 group is a *checkpoint*: the image up to there is valid and
durably recorded. An interrupted run, stopped by Ctrl-C (which also closes the open group) or killed
outright (the last segment then ends inside a sectors section whose descriptor is still zeros), is resumed
by re-parsing the segments: descriptors and tables are trusted only when their Adler-32 checksums hold, so
the scan stops at the first torn or missing section, and writing continues after the last checkpoint (the
file is cut there; later partial segments, which no table lists, are removed). This needs no sidecar file
that could disagree with the image. The hashes are then re-derived from the image itself: the kept chunks
are read back and decompressed (on the compression processes), each checked by zlib's or its stored
Adler-32, so the stored MD5/SHA1 are those of the bytes actually in the image, as in an uninterrupted run;
re-reading the source instead would be faster but would not see what was written, and a sector that was
unreadable the first time could read differently. Memory stays bounded: one table (at most 16375 entries)
and a few batches of chunks at a time.
"""

from __future__ import annotations

import os
import platform
import struct
import uuid
import zlib
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
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
CHECKPOINT = 256 << 20  # media bytes between checkpoints (closed tables, chunks on disk)
_HEAD = 13  # the file header before the first section
_WRITEBACK_EVERY = 32 << 20  # output bytes between background fdatasyncs


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
        checkpoint: media bytes between checkpoints (see the module docstring).
        resume_limit: continue the partial image at ``base`` from its last checkpoint that holds at most
            this many media bytes (:attr:`done` tells where); None: a new image.

    Attributes:
        on_checkpoint: called before each checkpoint is written (the caller saves its own progress, which
            must then cover every chunk stored so far).
    """

    def __init__(self, base: Path, media_size: int, sector_size: int, fields: CaseFields, compression: str = "fast",
                 segment_size: int | None = None, physical: bool = False, workers: int = 2, *,
                 checkpoint: int = CHECKPOINT, resume_limit: int | None = None) -> None:
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
        self._slot_length: dict[int, int] = {}  # bytes of media in each shared buffer in flight
        self._slot_size = 0
        self._slot_busy: list[list[Future[Any]]] = []
        self._next_slot = 0
        self._shared_ok = True
        self._per_table = max(1, min(MAX_TABLE_ENTRIES, checkpoint // self.chunk_size))
        self._segment_chunks = 0  # chunks in the current segment
        self._chunk_end = 0  # where the last chunk listed in _entries ends
        self._failed = False  # a write failed: the file's tail is uncertain
        self._kept: list[_Table] = []  # on resume: the tables of the chunks kept
        self._unsynced = 0
        self._syncer: ThreadPoolExecutor | None = None
        self._syncing: Future[None] | None = None
        self.done = 0
        self.on_checkpoint: Callable[[], None] | None = None
        if resume_limit is None:
            self._open_segment()
        else:
            self._resume(resume_limit)
        self._pool: Executor | None = None
        if workers and self.level:
            from concurrent.futures import ProcessPoolExecutor

            self._pool = ProcessPoolExecutor(workers, initializer=watch_parent, initargs=(os.getpid(),))

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
        self._slot_length[index] = length
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
            # a view of its own (released below) of the media bytes only: a short last chunk stored raw must
            # not take the stale bytes after it in the buffer
            view = _buf(self._slots[batch])[:self._slot_length[batch]]
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
        self._sync()
        self.close()
        return self.paths

    def interrupt(self) -> None:
        """After a failure or Ctrl-C: ends the open sectors section with its tables (a checkpoint holding
        every chunk stored so far), then closes. Skipped when a write failed (the tail is uncertain) and
        silent when it cannot be done: ``--resume`` then goes back to the previous checkpoint."""
        if self._file is not None and not self._failed and self._sectors_at >= 0 and self._entries:
            try:
                self._file.seek(self._chunk_end)  # drops a chunk whose writing was cut short
                self._file.truncate()
                self._pos = self._chunk_end
                self._close_sectors()
            except (OSError, DftkError):
                pass
        self.close()

    def close(self) -> None:
        """Releases the file and the compression processes (also after a failure)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._release_slots()
        self._wait_writeback()
        if self._syncer is not None:
            self._syncer.shutdown(wait=True)
            self._syncer = None
        if self._file is not None:
            self._file.close()
            self._file = None

    # --- output -----------------------------------------------------------------------------------

    def _store(self, batch: bytes | memoryview, packed: list[tuple[bytes, bool]]) -> None:
        view = memoryview(batch)
        for i, (data, compressed) in enumerate(packed):
            if compressed:
                self._make_room(len(data))
                entry = (self._pos - self._sectors_at) | 0x80000000
                self._raw(data)
            else:
                chunk = view[i * self.chunk_size:(i + 1) * self.chunk_size]
                self._make_room(len(chunk) + 4)
                entry = self._pos - self._sectors_at
                self._raw(chunk)
                self._raw(data)
            self._commit(entry)

    def _commit(self, entry: int) -> None:
        # listed only once wholly written: interrupt() must never write a table naming a torn chunk
        self._entries.append(entry)
        self._segment_chunks += 1
        self._chunk_end = self._pos

    def _make_room(self, size: int) -> None:
        """Closes the sectors section at a checkpoint or when its table is full, moves to the next segment
        when this one has no room left (a segment holds at least one chunk), opens a sectors section."""
        if self._sectors_at >= 0 and (len(self._entries) >= self._per_table
                                      or self._pos + size - self._sectors_at > _MAX_OFFSET):
            self._close_sectors()
        if self.segment_size and self._segment_chunks and self._pos + size + self._reserve() > self.segment_size:
            self._close_sectors()
            self._raw(descriptor("next", self._pos, 0, next_offset=self._pos))
            self._open_segment()
        if self._sectors_at < 0:
            self._open_sectors()

    def _reserve(self) -> int:
        tables = 2 * (76 + 24 + 4 * (len(self._entries) + 1) + 4)
        opening = 76 if self._sectors_at < 0 else 0  # the sectors descriptor still to write
        return opening + tables + 76 + 1128 + 76 + 4096 + 156 + 112 + 76

    def _open_segment(self) -> None:
        if self._file is not None:
            self._wait_writeback()
            self._file.close()
        path = segment_name(self.base, len(self.paths) + 1)
        try:
            self._file = open(path, "xb")  # noqa: SIM115 - kept open across calls, closed in close()
        except OSError as e:
            raise DftkError(f"{path}: cannot create: {e.strerror or e}") from e
        self.paths.append(path)
        self._pos = 0
        self._segment_chunks = 0
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
        """Writes the sectors descriptor, table and table2: a checkpoint. The caller's progress is saved
        first and the chunks are made durable before the tables that list them, so that a table found on
        disk after a crash or power loss never names chunks that are not."""
        if self._sectors_at < 0:
            return
        assert self._file is not None
        if self.on_checkpoint is not None:
            self.on_checkpoint()
        end = self._pos
        self._sync()
        self._file.seek(self._sectors_at)
        self._file.write(descriptor("sectors", self._sectors_at, end - self._sectors_at))
        self._file.seek(end)
        head = struct.pack("<IIQI", len(self._entries), 0, self._sectors_at, 0)
        entries = struct.pack(f"<{len(self._entries)}I", *self._entries)
        table = head + adler(head) + entries + adler(entries)
        self._section("table", table)
        self._section("table2", table)
        self._sectors_at = -1
        self._entries = []

    def _section(self, kind: str, body: bytes, checksum: bool = False) -> None:
        if checksum:
            body += adler(body)
        self._raw(descriptor(kind, self._pos, 76 + len(body)) + body)

    def _raw(self, data: bytes | memoryview) -> None:
        assert self._file is not None
        try:
            self._file.write(data)
        except OSError as e:
            self._failed = True
            raise DftkError(f"{self.paths[-1]}: cannot write: {e.strerror or e}") from e
        self._pos += len(data)
        self._unsynced += len(data)
        if self._unsynced >= _WRITEBACK_EVERY:
            self._start_writeback()

    def _start_writeback(self) -> None:
        """Starts an fdatasync on a helper thread (never queued up: skipped while one runs), so that the
        disk keeps up and the fdatasync of the next checkpoint has little left to wait for."""
        self._unsynced = 0
        if self._syncing is not None and not self._syncing.done():
            return
        assert self._file is not None
        if self._syncer is None:
            self._syncer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ewf-writeback")
        self._syncing = self._syncer.submit(os.fdatasync, self._file.fileno())

    def _wait_writeback(self) -> None:
        """Waits for the background fdatasync (before its file is closed); its errors are the next
        checkpoint's to report."""
        if self._syncing is not None:
            try:
                self._syncing.result()
            except OSError:
                pass
            self._syncing = None

    def _sync(self) -> None:
        assert self._file is not None
        try:
            self._file.flush()
            os.fdatasync(self._file.fileno())
        except OSError as e:
            self._failed = True
            raise DftkError(f"{self.paths[-1]}: cannot write: {e.strerror or e}") from e


    # --- resume -----------------------------------------------------------------------------------

    def _resume(self, limit: int) -> None:
        """Positions the writer after the last checkpoint on disk holding at most ``limit`` media bytes;
        starts the image over when there is none (not even a whole volume section)."""
        points, tables = self._checkpoints()
        usable = [p for p in points if min(p.chunks * self.chunk_size, self.media_size) <= limit]
        if not usable:
            self._remove_segments(1)
            self._open_segment()
            return
        point = usable[-1]
        self._remove_segments(point.segment + 1)
        self.paths = [segment_name(self.base, n) for n in range(1, point.segment + 1)]
        try:
            self._file = open(self.paths[-1], "r+b")  # noqa: SIM115 - kept open, closed in close()
            self._file.truncate(point.end)
            self._file.seek(point.end)
        except OSError as e:
            raise DftkError(f"{self.paths[-1]}: cannot resume: {e.strerror or e}") from e
        self._pos = self._chunk_end = point.end
        self._segment_chunks = point.segment_chunks
        self._kept = tables[:point.tables]
        self.done = self._received = min(point.chunks * self.chunk_size, self.media_size)

    def _checkpoints(self) -> tuple[list[_Checkpoint], list[_Table]]:
        """Every checkpoint of the partial image, segment after segment; a segment counts only when the
        one before it ended with ``next`` right after a checkpoint."""
        points: list[_Checkpoint] = []
        tables: list[_Table] = []
        number = 1
        while (path := segment_name(self.base, number)).exists() and self._scan(path, number, points, tables):
            number += 1
        return points, tables

    def _scan(self, path: Path, number: int, points: list[_Checkpoint], tables: list[_Table]) -> bool:
        """Adds the checkpoints of one segment; True when it ends with ``next`` at its last checkpoint."""
        try:
            with open(path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                if not self._head_ok(f.read(_HEAD), number, path):
                    return False
                return self._walk(f, size, number, points, tables)
        except OSError as e:
            raise DftkError(f"{path}: cannot resume: cannot read it: {e.strerror or e}") from e

    def _head_ok(self, head: bytes, number: int, path: Path) -> bool:
        if number == 1 and len(head) >= len(SIGNATURE) and not head.startswith(SIGNATURE):
            raise DftkError(f"{path}: cannot resume: not an E01 segment")
        return len(head) == _HEAD and head.startswith(SIGNATURE) and struct.unpack_from("<H", head, 9)[0] == number

    def _walk(self, f: BinaryIO, size: int, number: int, points: list[_Checkpoint], tables: list[_Table]) -> bool:
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
                tables.append(_Table(Path(f.name), sectors[1], count))
                chunks, in_segment = chunks + count, in_segment + count
            elif not self._volume_ok(_body(f, at, length), number, Path(f.name)):
                return False
            points.append(_Checkpoint(number, at + length, chunks, in_segment, len(tables)))
            expect = "sectors"
        return False

    def _volume_ok(self, body: bytes, number: int, path: Path) -> bool:
        """The first segment's volume must be what this source and these options give (its set GUID
        aside, which is kept); later segments' data sections must repeat it."""
        if number > 1:
            return body == self._volume
        expected = self._volume[:64] + body[64:80] + self._volume[80:-4]
        if body != expected + adler(expected):
            raise DftkError(f"{path}: cannot resume: that image was written for a source of another size or "
                            "with other options (its volume section differs)")
        self._volume = body
        return True

    def _remove_segments(self, first: int) -> None:
        """Removes the partial segments from ``first`` on: no table lists their chunks."""
        number = first
        while (path := segment_name(self.base, number)).exists():
            try:
                path.unlink()
            except OSError as e:
                raise DftkError(f"{path}: cannot resume: cannot remove it: {e.strerror or e}") from e
            number += 1

    def written_media(self) -> Iterator[bytes]:
        """The media bytes kept by a resume, in order, a batch of chunks at a time: read back and
        decompressed (on the compression processes when there are some), every chunk checked.

        Raises:
            DftkError: a kept chunk is damaged (then the image cannot be resumed).
        """
        if self._pool is not None:
            from multiprocessing import resource_tracker

            # the workers start here, before any shared buffer: they must share the one tracker the buffers
            # will be registered with, or each would report them leaked (and unlink them) when it ends
            resource_tracker.ensure_running()
        pending: deque[Future[bytes]] = deque()
        for job in self._kept_batches():
            if self._pool is None:
                yield _unpacked(unpack_chunks, *job)
                continue
            pending.append(self._pool.submit(unpack_chunks, *job))
            while len(pending) > self._depth:
                yield _unpacked(pending.popleft().result)
        while pending:
            yield _unpacked(pending.popleft().result)

    def _kept_batches(self) -> Iterator[tuple[str, int, int, list[tuple[int, bool, int]]]]:
        """(segment, file offset, first chunk number, chunks as (stored size, compressed, media size))."""
        number = 0
        for table in self._kept:
            base, entries = _read_table(table)
            offsets = [base + (e & 0x7FFFFFFF) for e in entries] + [table.at]
            chunks = [(offsets[i + 1] - offsets[i], bool(e >> 31), self._media_length(number + i))
                      for i, e in enumerate(entries)]
            for i in range(0, len(chunks), _BATCH_CHUNKS):
                yield str(table.path), offsets[i], number + i, chunks[i:i + _BATCH_CHUNKS]
            number += len(entries)

    def _media_length(self, chunk: int) -> int:
        return min(self.chunk_size, self.media_size - chunk * self.chunk_size)


@dataclass(frozen=True, slots=True)
class _Checkpoint:
    """Where writing can go on: after the volume/data section or a complete sectors/table/table2 group."""

    segment: int  # segment number, from 1
    end: int  # offset in that segment file
    chunks: int  # chunks stored before it, in all segments
    segment_chunks: int  # of them, in this segment
    tables: int  # complete tables before it, in all segments


@dataclass(frozen=True, slots=True)
class _Table:
    """A table on disk: its segment, where its section starts (its chunks end there) and its entries."""

    path: Path
    at: int
    count: int


def _sections(f: BinaryIO, size: int) -> Iterator[tuple[str, int, int]]:
    """A segment's sections as (type, offset, size) while their descriptors' checksums hold and their
    bodies are in the file; stops after ``next`` or ``done``."""
    at = _HEAD
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


def _read_table(table: _Table) -> tuple[int, tuple[int, ...]]:
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


def _error2(ranges: Sequence[tuple[int, int]]) -> bytes:
    head = struct.pack("<I", len(ranges)) + bytes(512)
    entries = b"".join(struct.pack("<II", start, count) for start, count in ranges)
    return head + adler(head) + entries + adler(entries)


def watch_parent(parent: int) -> None:
    """Ends this compression process once the acquisition is gone: after a SIGKILL (which cannot be caught)
    an orphaned worker would otherwise wait for work forever, keeping its shared buffers."""
    import threading

    threading.Thread(target=_exit_when_orphaned, args=(parent,), daemon=True, name="watch-parent").start()


def _exit_when_orphaned(parent: int) -> None:
    import time

    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def default_workers() -> int:
    """Compression processes: one per core."""
    return max(1, os.cpu_count() or 1)
