"""Logical evidence: a directory of loose files, walked without following links or changing anything."""

from __future__ import annotations

import errno
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
                item = self.entry(child, entry)
                if item is None:
                    subdirs.append(child)
                else:
                    yield item
            stack.extend(reversed(subdirs))

    def _scan(self, rel: str) -> tuple[list[os.DirEntry[str]], Problem | None]:
        try:
            with os.scandir(self.root / rel) as it:
                return sorted(it, key=lambda e: os.fsencode(e.name)), None
        except OSError as e:
            return [], Problem("/" + display_name(rel), f"cannot list directory: {e.strerror or e}")

    def entry(self, rel: str, dirent: os.DirEntry[str] | None = None) -> EvidenceFile | Problem | None:
        """The entry at ``rel`` (never following a link): a regular file, None for a directory, or a Problem
        that lists what is neither (a link, FIFO, socket or device has no content to examine here)."""
        shown = "/" + display_name(rel)
        try:
            st = dirent.stat(follow_symlinks=False) if dirent else os.lstat(self.root / rel)
        except OSError as e:
            return Problem(shown, f"cannot stat: {e.strerror or e}")
        if stat.S_ISDIR(st.st_mode):
            return None
        if not stat.S_ISREG(st.st_mode):
            return Problem(shown, self._special(rel, st.st_mode))
        return EvidenceFile(path=shown, size=st.st_size, inode=st.st_ino, mtime=_utc(st.st_mtime_ns),
                            atime=_utc(st.st_atime_ns), ctime=_utc(st.st_ctime_ns), locator=rel)

    def _special(self, rel: str, mode: int) -> str:
        if stat.S_ISLNK(mode):
            try:
                target = display_name(os.readlink(self.root / rel))
            except OSError as e:
                target = f"? ({e.strerror or e})"
            return f"symbolic link to {target}: listed, not followed"
        return f"{special_kind(mode)}: listed, content not read"

    def stored_files(self) -> Iterator[tuple[str, Path]]:
        """Each loose file, under its path in the evidence: what a seal covers."""
        for item in self.walk():
            if isinstance(item, EvidenceFile):
                yield item.path, self.root / item.locator

    def open_file(self, file: EvidenceFile) -> Buffer:
        """The file's content, at most the size the walk listed (a file still growing is cut there)."""
        path = self.root / file.locator
        try:
            fd = open_regular(path)
        except OSError as e:
            raise EvidenceError(f"{file.path}: cannot open: {e.strerror or e}") from e
        try:
            size = min(os.fstat(fd).st_size, file.size)
            if size > MAP_THRESHOLD:
                return mmap.mmap(fd, size, access=mmap.ACCESS_READ)
            return _read_all(fd, size)
        except OSError as e:
            raise EvidenceError(f"{file.path}: read error: {e.strerror or e}") from e
        finally:
            os.close(fd)


def special_kind(mode: int) -> str:
    """What a non-regular file is, in the examiner's words."""
    for test, kind in ((stat.S_ISLNK, "symbolic link"), (stat.S_ISFIFO, "named pipe (FIFO)"),
                       (stat.S_ISSOCK, "socket"), (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"),
                       (stat.S_ISDIR, "directory")):
        if test(mode):
            return kind
    return f"file of unknown type (mode {mode:o})"


def open_regular(path: Path) -> int:
    """A read-only descriptor of a regular file; anything else is refused before a read could block on it
    (a FIFO with no writer) or never end (a character device such as /dev/zero).

    Raises:
        OSError: it cannot be opened, or it is not a regular file (``strerror`` names what it is).
    """
    fd = open_read_only(path, os.O_NONBLOCK)  # opening a FIFO for reading must not wait for a writer
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        os.close(fd)
        raise
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise OSError(errno.EINVAL, f"not a regular file: {special_kind(mode)}", str(path))
    return fd


def _read_all(fd: int, size: int) -> bytes:
    """Exactly ``size`` bytes, fewer only when the file is shorter now."""
    parts: list[bytes] = []
    offset = 0
    while offset < size:
        data = os.pread(fd, size - offset, offset)
        if not data:
            break
        parts.append(data)
        offset += len(data)
    return b"".join(parts)
