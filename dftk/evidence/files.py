"""The files an evidence item holds, as plugins see them."""

from __future__ import annotations

import mmap
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Union

if TYPE_CHECKING:
    from dftk.records import Problem

# File content handed to file-scope plugins: bytes for ordinary files, a read-only mmap for big ones.
Buffer = bytes | mmap.mmap

# Files larger than this are mapped rather than copied into memory.
MAP_THRESHOLD = 64 << 20


@dataclass(frozen=True, slots=True)
class EvidenceFile:
    """One file inside the evidence, with its context.

    Attributes:
        path: ``/``-separated path from the evidence root; undecodable name bytes are shown escaped.
        size: logical size in bytes.
        inode: the file system's address for the entry, when it has one.
        deleted: whether the entry is deleted (unallocated).
        mtime, atime, ctime, crtime: tz-aware UTC times, None when the file system records none.
        locator: where the evidence reader finds the content (opaque to plugins).
    """

    path: str
    size: int
    inode: int | None = None
    deleted: bool = False
    mtime: datetime | None = None
    atime: datetime | None = None
    ctime: datetime | None = None
    crtime: datetime | None = None
    locator: str = ""

    def context(self) -> dict[str, object]:
        """The file's context as JSON values, recorded with every finding about it."""
        times = {k: (v.isoformat() if v else None) for k, v in self.times().items()}
        return {"path": self.path, "size": self.size, "inode": self.inode, "deleted": self.deleted, **times}

    def times(self) -> dict[str, datetime | None]:
        return {"mtime": self.mtime, "atime": self.atime, "ctime": self.ctime, "crtime": self.crtime}


WalkItem = Union[EvidenceFile, "Problem"]
