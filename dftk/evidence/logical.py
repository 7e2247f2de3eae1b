"""Logical evidence: a directory of loose files, walked without following links or changing anything."""

from __future__ import annotations

import mmap
import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from dftk.errors import EvidenceError
from dftk.evidence.base import Evidence, open_read_only
from dftk.evidence.files import MAP_THRESHOLD, Buffer, EvidenceFile, WalkItem
from dftk.records import Problem


def display_name(name: str) -> str:
    """A file name as it can be shown and stored: undecodable bytes become ``\\xNN`` escapes."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def _utc(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, tz=UTC)


class LogicalEvidence(Evidence):
    """A directory of loose files (logical evidence). It has files but no media byte stream."""

    format = "logical"
    has_media = False
    _size: int | None = None

    def __init__(self, root: Path) -> None:
        if not os.access(root, os.R_OK | os.X_OK):
            raise EvidenceError(f"{root}: directory is not readable")
        self.root = root
        super().__init__(str(root), 0, [root])

    @property
    def size(self) -> int:
        """The sum of the files' sizes, counted when first asked (a worker reopening the folder never is)."""
        if self._size is None:
            self._size = sum(f.size for f in self.walk() if isinstance(f, EvidenceFile))
        return self._size

    @size.setter
    def size(self, value: int) -> None:
        self._size = value or None

    def _read(self, offset: int, length: int) -> bytes:
        raise EvidenceError(f"{self.path}: logical evidence has no media byte stream")

    def walk(self) -> Iterator[WalkItem]:
        """Depth-first, in name order; symbolic links are listed, never followed."""
        stack = [""]
        while stack:
            rel = stack.pop()
            entries, problem = self._scan(rel)
            if problem:
                yield problem
            subdirs = []
            for entry in entries:
                child = f"{rel}/{entry.name}" if rel else entry.name
                item = self._item(entry, child)
                if isinstance(item, str):
                    subdirs.append(child)
                elif item is not None:
                    yield item
            stack.extend(reversed(subdirs))

    def _scan(self, rel: str) -> tuple[list[os.DirEntry[str]], Problem | None]:
        try:
            with os.scandir(self.root / rel) as it:
                return sorted(it, key=lambda e: os.fsencode(e.name)), None
        except OSError as e:
            return [], Problem("/" + display_name(rel), f"cannot list directory: {e.strerror or e}")

    def _item(self, entry: os.DirEntry[str], rel: str) -> EvidenceFile | Problem | str | None:
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError as e:
            return Problem("/" + display_name(rel), f"cannot stat: {e.strerror or e}")
        if stat.S_ISDIR(st.st_mode):
            return "dir"
        if not stat.S_ISREG(st.st_mode):
            return None  # links, sockets, fifos and devices hold no content of their own
        return EvidenceFile(
            path="/" + display_name(rel),
            size=st.st_size,
            inode=st.st_ino,
            mtime=_utc(st.st_mtime_ns),
            atime=_utc(st.st_atime_ns),
            ctime=_utc(st.st_ctime_ns),
            locator=rel,
        )

    def stored_files(self) -> Iterator[tuple[str, Path]]:
        """Each loose file, under its path in the evidence: what a seal covers."""
        for item in self.walk():
            if isinstance(item, EvidenceFile):
                yield item.path, self.root / item.locator

    def open_file(self, file: EvidenceFile) -> Buffer:
        path = self.root / file.locator
        try:
            fd = open_read_only(path)
        except OSError as e:
            raise EvidenceError(f"{file.path}: cannot open: {e.strerror or e}") from e
        try:
            size = os.fstat(fd).st_size
            if size > MAP_THRESHOLD:
                return mmap.mmap(fd, size, access=mmap.ACCESS_READ)
            return _read_all(fd, size)
        except OSError as e:
            raise EvidenceError(f"{file.path}: read error: {e.strerror or e}") from e
        finally:
            os.close(fd)


def _read_all(fd: int, size: int) -> bytes:
    parts: list[bytes] = []
    offset = 0
    while True:
        data = os.pread(fd, max(size - offset, 1 << 16), offset)
        if not data:
            return b"".join(parts)
        parts.append(data)
        offset += len(data)
