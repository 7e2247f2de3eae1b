"""Segment files and the sections written into them: segment naming, creating and reopening the files,
appending sections, making them durable (fdatasync, with background writeback), and laying stored chunks
out in ``sectors`` sections closed by their ``table`` and ``table2`` (a checkpoint) across segments.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

from dftk.errors import DftkError
from dftk.ewf.sections import (
    CaseFields,
    adler,
    descriptor,
    digest_body,
    error2_body,
    file_header,
    hash_body,
    header2_body,
    header_body,
    table_body,
)

_MAX_OFFSET = (1 << 31) - 1
_WRITEBACK_EVERY = 32 << 20  # output bytes between background fdatasyncs


def segment_name(base: Path, number: int) -> Path:
    """``base.E01`` ... ``.E99``, then ``.EAA`` ... ``.EZZ``, ``.FAA`` ... (libewf's naming)."""
    if number < 100:
        suffix = f"E{number:02d}"
    else:
        k = number - 100
        suffix = chr(ord("E") + k // 676) + chr(65 + k // 26 % 26) + chr(65 + k % 26)
    return base.with_name(f"{base.name}.{suffix}")


class SegmentFile:
    """The segment file being written, its position, and the segment files so far (:attr:`paths`).

    Args:
        base: the image path without the ``.E01`` suffix.

    Attributes:
        pos: where the next byte goes in the current segment.
        failed: a write failed: the file's tail is uncertain.
    """

    def __init__(self, base: Path) -> None:
        self.base = base
        self.paths: list[Path] = []
        self._file: BinaryIO | None = None
        self.pos = 0
        self.failed = False
        self._unsynced = 0
        self._syncer: ThreadPoolExecutor | None = None
        self._syncing: Future[None] | None = None

    @property
    def opened(self) -> bool:
        """Whether a segment file was opened and :meth:`close` has not been called since."""
        return self._file is not None

    def create(self) -> None:
        """Closes the current segment and creates the next one (never overwriting a file), empty."""
        if self._file is not None:
            self._wait_writeback()
            self._file.close()
        path = segment_name(self.base, len(self.paths) + 1)
        try:
            self._file = open(path, "xb")  # noqa: SIM115 - kept open across calls, closed in close()
        except OSError as e:
            raise DftkError(f"{path}: cannot create: {e.strerror or e}") from e
        self.paths.append(path)
        self.pos = 0

    def reopen(self, paths: list[Path], end: int) -> None:
        """Continues the last of ``paths`` (the segments kept by a resume), cut at ``end``."""
        self.paths = paths
        try:
            self._file = open(self.paths[-1], "r+b")  # noqa: SIM115 - kept open, closed in close()
            self._file.truncate(end)
            self._file.seek(end)
        except OSError as e:
            raise DftkError(f"{self.paths[-1]}: cannot resume: {e.strerror or e}") from e
        self.pos = end

    def section(self, kind: str, body: bytes, checksum: bool = False) -> None:
        """Appends a section: its descriptor, then ``body`` (followed by its Adler-32 with ``checksum``)."""
        if checksum:
            body += adler(body)
        self.raw(descriptor(kind, self.pos, 76 + len(body)) + body)

    def raw(self, data: bytes | memoryview) -> None:
        """Appends bytes, starting a background fdatasync every so often."""
        assert self._file is not None
        try:
            self._file.write(data)
        except OSError as e:
            self.failed = True
            raise DftkError(f"{self.paths[-1]}: cannot write: {e.strerror or e}") from e
        self.pos += len(data)
        self._unsynced += len(data)
        if self._unsynced >= _WRITEBACK_EVERY:
            self._start_writeback()

    def rewrite(self, at: int, data: bytes) -> None:
        """Overwrites the bytes at ``at`` (a descriptor written as zeros first), then goes back to the end."""
        assert self._file is not None
        self._file.seek(at)
        self._file.write(data)
        self._file.seek(self.pos)

    def cut(self, at: int) -> None:
        """Drops everything from ``at`` on (raises OSError when it cannot)."""
        assert self._file is not None
        self._file.seek(at)
        self._file.truncate()
        self.pos = at

    def sync(self) -> None:
        """Makes everything written so far durable."""
        assert self._file is not None
        try:
            self._file.flush()
            os.fdatasync(self._file.fileno())
        except OSError as e:
            self.failed = True
            raise DftkError(f"{self.paths[-1]}: cannot write: {e.strerror or e}") from e

    def close(self) -> None:
        """Waits for the background fdatasync and closes the file (also after a failure)."""
        self._wait_writeback()
        if self._syncer is not None:
            self._syncer.shutdown(wait=True)
            self._syncer = None
        if self._file is not None:
            self._file.close()
            self._file = None

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


class ChunkStore:
    """Lays stored chunks out in the segments: ``sectors`` sections, each closed by its ``table`` and
    ``table2`` (a checkpoint) when its table is full or every ``per_table`` chunks, and a new segment
    (``next``, then ``data``) when one is full.

    Args:
        files: the segment files written to.
        chunk_size: media bytes per chunk.
        segment_size: largest segment file in bytes, or None for one segment.
        per_table: chunks between checkpoints.
        volume: the volume (and data) section body.
        fields: what the header sections record.
        before_checkpoint: called before each checkpoint is written.

    Attributes:
        volume: the volume section body (a resume may adopt the one on disk before any segment is opened).
    """

    def __init__(self, files: SegmentFile, chunk_size: int, segment_size: int | None, per_table: int,
                 volume: bytes, fields: CaseFields, before_checkpoint: Callable[[], None]) -> None:
        self.files = files
        self.chunk_size = chunk_size
        self.segment_size = segment_size
        self.per_table = per_table
        self.volume = volume
        self._fields = fields
        self._before_checkpoint = before_checkpoint
        self._sectors_at = -1
        self._entries: list[int] = []
        self._segment_chunks = 0  # chunks in the current segment
        self._chunk_end = 0  # where the last chunk listed in _entries ends

    def resume_at(self, end: int, segment_chunks: int) -> None:
        """Continues after a checkpoint at ``end`` of the reopened segment, which holds ``segment_chunks``."""
        self._chunk_end = end
        self._segment_chunks = segment_chunks

    def store(self, batch: bytes | memoryview, packed: list[tuple[bytes, bool]]) -> None:
        """Writes a batch of chunks as :func:`dftk.ewf.compression.pack_chunks` packed them."""
        view = memoryview(batch)
        for i, (data, compressed) in enumerate(packed):
            if compressed:
                self._make_room(len(data))
                entry = (self.files.pos - self._sectors_at) | 0x80000000
                self.files.raw(data)
            else:
                chunk = view[i * self.chunk_size:(i + 1) * self.chunk_size]
                self._make_room(len(chunk) + 4)
                entry = self.files.pos - self._sectors_at
                self.files.raw(chunk)
                self.files.raw(data)
            self._commit(entry)

    def _commit(self, entry: int) -> None:
        # listed only once wholly written: checkpoint_now() must never write a table naming a torn chunk
        self._entries.append(entry)
        self._segment_chunks += 1
        self._chunk_end = self.files.pos

    def _make_room(self, size: int) -> None:
        """Closes the sectors section at a checkpoint or when its table is full, moves to the next segment
        when this one has no room left (a segment holds at least one chunk), opens a sectors section."""
        if self._sectors_at >= 0 and (len(self._entries) >= self.per_table
                                      or self.files.pos + size - self._sectors_at > _MAX_OFFSET):
            self.close_sectors()
        if self.segment_size and self._segment_chunks and \
                self.files.pos + size + self._reserve() > self.segment_size:
            self.close_sectors()
            self.files.raw(descriptor("next", self.files.pos, 0, next_offset=self.files.pos))
            self.open_segment()
        if self._sectors_at < 0:
            self._open_sectors()

    def _reserve(self) -> int:
        tables = 2 * (76 + 24 + 4 * (len(self._entries) + 1) + 4)
        opening = 76 if self._sectors_at < 0 else 0  # the sectors descriptor still to write
        return opening + tables + 76 + 1128 + 76 + 4096 + 156 + 112 + 76

    def open_segment(self) -> None:
        """Creates the next segment with its opening sections (the first: header2 twice, header, volume)."""
        self.files.create()
        self._segment_chunks = 0
        self.files.raw(file_header(len(self.files.paths)))
        if len(self.files.paths) == 1:
            header2 = header2_body(self._fields)
            self.files.section("header2", header2)
            self.files.section("header2", header2)
            self.files.section("header", header_body(self._fields))
            self.files.section("volume", self.volume)
        else:
            self.files.section("data", self.volume)

    def _open_sectors(self) -> None:
        self._sectors_at = self.files.pos
        self._entries = []
        self.files.raw(bytes(76))

    def close_sectors(self) -> None:
        """Writes the sectors descriptor, table and table2: a checkpoint. The caller's progress is saved
        first and the chunks are made durable before the tables that list them, so that a table found on
        disk after a crash or power loss never names chunks that are not."""
        if self._sectors_at < 0:
            return
        assert self.files.opened
        self._before_checkpoint()
        end = self.files.pos
        self.files.sync()
        self.files.rewrite(self._sectors_at, descriptor("sectors", self._sectors_at, end - self._sectors_at))
        table = table_body(self._sectors_at, self._entries)
        self.files.section("table", table)
        self.files.section("table2", table)
        self._sectors_at = -1
        self._entries = []

    def checkpoint_now(self) -> None:
        """Ends the open sectors section after its last whole chunk (a checkpoint holding every chunk
        stored so far); skipped when a write failed (the tail is uncertain), silent when it cannot be done."""
        if self.files.opened and not self.files.failed and self._sectors_at >= 0 and self._entries:
            try:
                self.files.cut(self._chunk_end)  # drops a chunk whose writing was cut short
                self.close_sectors()
            except (OSError, DftkError):
                pass

    def close_image(self, md5: str, sha1: str, bad_sectors: Sequence[tuple[int, int]]) -> None:
        """Closes the last sectors section and writes the closing sections, then makes them durable."""
        self.close_sectors()
        if len(self.files.paths) == 1:
            self.files.section("data", self.volume)
        if bad_sectors:
            self.files.section("error2", error2_body(bad_sectors))
        self.files.section("digest", digest_body(md5, sha1), checksum=True)
        self.files.section("hash", hash_body(md5), checksum=True)
        self.files.raw(descriptor("done", self.files.pos, 0, next_offset=self.files.pos))
        self.files.sync()
