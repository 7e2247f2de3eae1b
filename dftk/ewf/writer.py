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

This module holds :class:`EwfWriter`, the public writer, which composes the section encoding
(:mod:`dftk.ewf.sections`), the segment files and chunk layout (:mod:`dftk.ewf.segments`), the compression
processes (:mod:`dftk.ewf.compression`) and the resume scan (:mod:`dftk.ewf.resume`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from dftk.errors import DftkError
from dftk.ewf.compression import Compressor
from dftk.ewf.resume import ImageScan, Table, kept_batches, read_back, remove_segments
from dftk.ewf.sections import LEVELS, MAX_TABLE_ENTRIES, SECTORS_PER_CHUNK, CaseFields, volume_data
from dftk.ewf.segments import ChunkStore, SegmentFile, segment_name

CHECKPOINT = 256 << 20  # media bytes between checkpoints (closed tables, chunks on disk)


class EwfWriter:
    """Writes one E01 image (one or more segment files), chunk by chunk, in order.

    Composes the segment files (:class:`~dftk.ewf.segments.SegmentFile`), the chunk layout in them
    (:class:`~dftk.ewf.segments.ChunkStore`), the compression (:class:`~dftk.ewf.compression.Compressor`)
    and, on resume, the scan of the partial image (:mod:`dftk.ewf.resume`).

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
        self.media_size = media_size
        volume = volume_data(-(-media_size // self.chunk_size), sector_size, media_size // sector_size,
                             compression, physical, uuid.uuid4().bytes)
        per_table = max(1, min(MAX_TABLE_ENTRIES, checkpoint // self.chunk_size))
        self._files = SegmentFile(base)
        self._chunks = ChunkStore(self._files, self.chunk_size, segment_size, per_table, volume, fields,
                                  self._checkpointing)
        self._kept: list[Table] = []  # on resume: the tables of the chunks kept
        self.done = 0
        self.on_checkpoint: Callable[[], None] | None = None
        if resume_limit is None:
            self._chunks.open_segment()
        else:
            self._resume(resume_limit)
        self._compressor = Compressor(self._chunks.store, self.chunk_size, self.level, media_size, workers,
                                      received=self.done)

    @property
    def paths(self) -> list[Path]:
        """The segment files written so far."""
        return self._files.paths

    def _checkpointing(self) -> None:
        if self.on_checkpoint is not None:
            self.on_checkpoint()

    # --- input ------------------------------------------------------------------------------------

    def take_buffer(self, length: int) -> tuple[int, memoryview] | None:
        """A shared buffer of ``length`` bytes for the caller to fill, then hand over with
        :meth:`write_buffer`; None when this write cannot go through shared memory (then use :meth:`write`).

        Waits until that buffer's previous use (compression, writing, the futures given to
        ``write_buffer``) is over."""
        return self._compressor.take_buffer(length)

    def write_buffer(self, index: int, length: int, hold: Sequence[Future[Any]] = ()) -> None:
        """Compresses and writes the media bytes just put in shared buffer ``index``; ``hold``: other work
        reading that buffer (hashing), awaited before the buffer is reused."""
        self._compressor.write_buffer(index, length, hold)

    def write(self, data: bytes) -> None:
        """Appends media bytes (any length); whole batches of chunks go to the compressors.

        A block of whole chunks arriving when nothing is pending is handed over as it is (one batch, no
        copy); ``data`` must then stay unchanged (bytes are)."""
        self._compressor.write(data)

    def finish(self, md5: str, sha1: str, bad_sectors: Sequence[tuple[int, int]] = ()) -> list[Path]:
        """Writes the remaining chunks and the closing sections; returns the segment files."""
        self._compressor.drain()
        self._chunks.close_image(md5, sha1, bad_sectors)
        self.close()
        return self.paths

    def interrupt(self) -> None:
        """After a failure or Ctrl-C: ends the open sectors section with its tables (a checkpoint holding
        every chunk stored so far), then closes. Skipped when a write failed (the tail is uncertain) and
        silent when it cannot be done: ``--resume`` then goes back to the previous checkpoint."""
        self._chunks.checkpoint_now()
        self.close()

    def close(self) -> None:
        """Releases the file and the compression processes (also after a failure)."""
        self._compressor.close()
        self._files.close()

    # --- resume -----------------------------------------------------------------------------------

    def _resume(self, limit: int) -> None:
        """Positions the writer after the last checkpoint on disk holding at most ``limit`` media bytes;
        starts the image over when there is none (not even a whole volume section)."""
        scan = ImageScan(self.base, self._chunks.volume)
        points, tables = scan.checkpoints()
        self._chunks.volume = scan.volume
        usable = [p for p in points if min(p.chunks * self.chunk_size, self.media_size) <= limit]
        if not usable:
            remove_segments(self.base, 1)
            self._chunks.open_segment()
            return
        point = usable[-1]
        remove_segments(self.base, point.segment + 1)
        self._files.reopen([segment_name(self.base, n) for n in range(1, point.segment + 1)], point.end)
        self._chunks.resume_at(point.end, point.segment_chunks)
        self._kept = tables[:point.tables]
        self.done = min(point.chunks * self.chunk_size, self.media_size)

    def written_media(self) -> Iterator[bytes]:
        """The media bytes kept by a resume, in order, a batch of chunks at a time: read back and
        decompressed (on the compression processes when there are some), every chunk checked.

        Raises:
            DftkError: a kept chunk is damaged (then the image cannot be resumed).
        """
        batches = kept_batches(self._kept, self.chunk_size, self.media_size)
        yield from read_back(batches, self._compressor.pool, self._compressor.depth)
