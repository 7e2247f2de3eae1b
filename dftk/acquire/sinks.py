"""Where imaging writes: :class:`RawSink` (raw or split raw, with background writeback) and
:class:`E01Sink` (the E01 writer of :mod:`dftk.ewf.writer` behind the same interface), both able to
continue a partial image.
"""

from __future__ import annotations

import errno
import os
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from dftk.acquire.options import Options
from dftk.acquire.sources import AcquisitionError, BadRange, Source
from dftk.ewf.segments import segment_name
from dftk.ewf.writer import EwfWriter

_FLUSH_EVERY = 32 << 20  # raw: start writeback every so many bytes


class RawSink:
    """A raw image, or split raw (``DEST.001``, ``DEST.002``... of ``split`` bytes each)."""

    def __init__(self, dest: Path, split: int | None, resume_at: int = 0) -> None:
        self.dest, self.split = dest, split
        self.start = resume_at
        self.paths: list[Path] = []
        self._fd = -1
        self._room = 0
        self._unflushed = 0
        self._flusher: ThreadPoolExecutor | None = None
        self._flushing: Future[None] | None = None
        if resume_at:
            self._reopen(resume_at)

    def _name(self, index: int) -> Path:
        return self.dest.with_name(f"{self.dest.name}.{index + 1:03d}") if self.split else self.dest

    def _next(self, flags: int = os.O_CREAT | os.O_EXCL) -> None:
        self._stop_writeback()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        path = self._name(len(self.paths))
        try:
            self._fd = os.open(path, os.O_WRONLY | flags | getattr(os, "O_CLOEXEC", 0), 0o644)
        except OSError as e:
            raise AcquisitionError(f"{path}: cannot create destination: {e.strerror or e}") from e
        self.paths.append(path)
        self._room = self.split or 1 << 62

    def _reopen(self, done: int) -> None:
        per = self.split or done
        for index in range(-(-done // per)):
            self._next(flags=0)
            keep = min(per, done - index * per)
            os.ftruncate(self._fd, keep)
            os.lseek(self._fd, keep, os.SEEK_SET)
            self._room = per - keep if self.split else 1 << 62

    def write(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        while len(view):
            if self._room == 0 or self._fd < 0:
                self._next()
            n = self._write(view[: self._room])
            view = view[n:]
            self._room -= n
            self._unflushed += n
            if self._unflushed >= _FLUSH_EVERY:
                self._start_writeback()

    def _start_writeback(self) -> None:
        """Starts writing the recent bytes to disk and lets the kernel drop the pages already written (on a
        helper thread: the kernel may block while it queues the writes), so the final fsync has little
        left to wait for and the page cache is recycled instead of growing."""
        self._unflushed = 0
        if not hasattr(os, "posix_fadvise"):
            return
        pos = os.lseek(self._fd, 0, os.SEEK_CUR)
        lo = max(0, pos - 4 * _FLUSH_EVERY)
        if self._flusher is None:
            self._flusher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="writeback")
        if self._flushing is None or self._flushing.done():  # never queue up: skip while one is running
            self._flushing = self._flusher.submit(os.posix_fadvise, self._fd, lo, pos - lo,
                                                  os.POSIX_FADV_DONTNEED)

    def _stop_writeback(self) -> None:
        if self._flusher is not None:
            self._flusher.shutdown(wait=True)
            self._flusher = None
        self._flushing = None

    def _write(self, view: memoryview) -> int:
        try:
            return os.write(self._fd, view)
        except OSError as e:
            full = " (destination full)" if e.errno in (errno.ENOSPC, errno.EDQUOT) else ""
            raise AcquisitionError(f"{self.paths[-1]}: cannot write{full}: {e.strerror or e}; nothing after "
                                   "this point was written; free space and run again with --resume") from e

    def finish(self, hashes: dict[str, str], bad: list[BadRange]) -> list[Path]:
        self.close()
        return self.paths

    def close(self) -> None:
        self._stop_writeback()
        if self._fd >= 0:
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = -1


class E01Sink:
    """The E01 writer behind the same interface as :class:`RawSink`; with ``resume_limit``, continues the
    partial image from its last checkpoint within that many bytes (:attr:`start`)."""

    def __init__(self, dest: Path, source: Source, options: Options, physical: bool,
                 resume_limit: int | None = None) -> None:
        base = dest.with_suffix("") if dest.suffix.lower() == ".e01" else dest
        self.first = segment_name(base, 1)
        self.writer = EwfWriter(base, source.size, source.sector_size, options.fields, options.compression,
                                options.split, physical, options.workers, checkpoint=options.checkpoint,
                                resume_limit=resume_limit)
        self.start = self.writer.done

    def write(self, data: bytes) -> None:
        self.writer.write(data)

    def finish(self, hashes: dict[str, str], bad: list[BadRange]) -> list[Path]:
        return self.writer.finish(hashes["md5"], hashes["sha1"], [(b.start, b.count) for b in bad])

    def close(self) -> None:
        self.writer.close()

    def interrupt(self) -> None:
        """Closes after a failure, keeping what was written as a last checkpoint when it can."""
        self.writer.interrupt()
