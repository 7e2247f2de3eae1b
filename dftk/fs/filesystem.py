"""File systems through pytsk3: every entry of every file system, allocated and deleted, and their content.

Together with ``dftk/volumes.py`` this is the single adapter in front of The Sleuth Kit. The walk mirrors
``fls -r -p``: the same entries (including TSK's virtual ``$OrphanFiles``), the same NTFS streams, the
same deleted flags, so a listing can be checked line by line against TSK's own tools.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytsk3

from dftk.errors import one_line
from dftk.evidence.base import Evidence
from dftk.evidence.files import EvidenceFile
from dftk.fs.volumes import TskImage, Volume, beyond_end, type_name, volumes
from dftk.records import Problem

_NAME_TYPES = {0: "unknown", 1: "fifo", 2: "char", 3: "dir", 4: "block", 5: "file", 6: "link", 7: "socket",
               8: "shadow", 9: "whiteout", 10: "virtual", 11: "virtual-dir"}
_META_TYPES = {0: "unknown", 1: "file", 2: "dir", 3: "fifo", 4: "char", 5: "block", 6: "link", 7: "shadow",
               8: "socket", 9: "whiteout", 10: "virtual", 11: "virtual-dir"}
# fls's one-letter types, by dftk's type names
TYPE_LETTERS = {"file": "r", "dir": "d", "link": "l", "fifo": "p", "char": "c", "block": "b", "socket": "s",
                "shadow": "h", "whiteout": "w", "virtual": "v", "virtual-dir": "V", "unknown": "-"}
_DATA = int(pytsk3.TSK_FS_ATTR_TYPE_NTFS_DATA)
_INDEX_ROOT = int(pytsk3.TSK_FS_ATTR_TYPE_NTFS_IDXROOT)
_FILE_NAME = int(pytsk3.TSK_FS_ATTR_TYPE_NTFS_FNAME)
_NAME_UNALLOC = int(pytsk3.TSK_FS_NAME_FLAG_UNALLOC)
_META_UNALLOC = int(pytsk3.TSK_FS_META_FLAG_UNALLOC)
_MAX_DEPTH = 128  # as TSK's own directory walk


@dataclass(frozen=True, slots=True)
class FsEntry:
    """One entry of a file system listing (one line of ``fls -r -p``)."""

    volume: Volume
    fs_type: str
    path: str
    inode: int
    attribute: str | None  # NTFS "type-id" of the stream this entry stands for, as fls prints it
    name_type: str
    meta_type: str | None
    deleted: bool
    reallocated: bool
    size: int
    times: dict[str, datetime | None]
    mode: int = 0
    uid: int = 0
    gid: int = 0
    link: str | None = None

    @property
    def type(self) -> str:
        return self.name_type if self.name_type != "unknown" else (self.meta_type or "unknown")

    @property
    def readable(self) -> bool:
        """Whether there is content to read: a regular file whose metadata survives."""
        return self.meta_type == "file" and self.inode > 0

    def locator(self) -> str:
        attr = self.attribute or ""
        return f"{self.volume.offset}:{self.inode}:{attr}"

    def to_file(self, prefix: str) -> EvidenceFile:
        return EvidenceFile(path=prefix + "/" + self.path, size=self.size, inode=self.inode, deleted=self.deleted,
                            locator=self.locator(), **self.times)

    def to_json(self) -> dict[str, Any]:
        return {
            "volume_offset": self.volume.offset, "volume_index": self.volume.index, "fs_type": self.fs_type,
            "path": "/" + self.path, "inode": self.inode, "attribute": self.attribute, "type": self.type,
            "meta_type": self.meta_type, "deleted": self.deleted, "reallocated": self.reallocated,
            "size": self.size, **{k: (v.isoformat() if v else None) for k, v in self.times.items()},
        }


def _time(meta: Any, name: str) -> datetime | None:
    seconds = int(getattr(meta, name, 0) or 0)
    if seconds <= 0:
        return None
    nanos = int(getattr(meta, f"{name}_nano", 0) or 0)
    try:
        return datetime.fromtimestamp(seconds, tz=UTC).replace(microsecond=nanos // 1000)
    except (OverflowError, OSError, ValueError):
        return None


def _link(meta: Any) -> str | None:
    target = getattr(meta, "link", None) if meta is not None else None
    if not target:
        return None
    return _display(target if isinstance(target, bytes) else str(target).encode("utf-8", "surrogateescape"))


def _display(raw: bytes) -> str:
    return raw.decode("utf-8", "backslashreplace")


class FileSystem:
    """One opened file system inside one volume."""

    def __init__(self, evidence: Evidence, volume: Volume) -> None:
        self.volume = volume
        self._image = TskImage(evidence)
        self.tsk = pytsk3.FS_Info(self._image, offset=volume.offset)
        self.fs_type = type_name("TSK_FS_TYPE_", int(self.tsk.info.ftype))
        self._ntfs = self.fs_type.startswith("ntfs")

    def walk(self) -> Iterator[FsEntry | Problem]:
        """Every entry, depth first, in directory order; cycles and unreadable directories become Problems."""
        root = int(self.tsk.info.root_inum)
        try:
            directory = self.tsk.open_dir(inode=root)
        except OSError as e:
            yield self._problem("/", f"cannot open the root directory: {one_line(e, 200)}")
            return
        yield from self._walk_dir(directory, "", (root,))

    def _walk_dir(self, directory: Any, parent: str, ancestors: tuple[int, ...]) -> Iterator[FsEntry | Problem]:
        try:
            entries = list(directory)
        except OSError as e:
            yield self._problem("/" + parent, f"directory could not be read completely: {one_line(e, 200)}")
            return
        for entry in entries:
            name = entry.info.name
            raw = bytes(name.name or b"")
            if raw in (b".", b".."):
                continue
            path = f"{parent}/{_display(raw)}" if parent else _display(raw)
            yield from self._entries(entry, self._with_meta(entry), path)
            yield from self._descend(entry, path, ancestors)

    def _with_meta(self, entry: Any) -> Any:
        """The entry itself, or for a deleted name whose metadata pytsk3 did not load, the file by inode."""
        addr = int(entry.info.name.meta_addr)
        if entry.info.meta is not None or addr == 0:
            return entry
        try:
            return self.tsk.open_meta(inode=addr)
        except OSError:
            return entry

    def _descend(self, entry: Any, path: str, ancestors: tuple[int, ...]) -> Iterator[FsEntry | Problem]:
        meta = entry.info.meta
        if meta is None or int(meta.type) not in (2, 11):  # directory or virtual directory
            return
        inode = int(entry.info.name.meta_addr)
        if inode in ancestors:
            yield self._problem("/" + path, f"directory cycle: inode {inode} is its own ancestor; not followed")
            return
        if len(ancestors) >= _MAX_DEPTH:
            yield self._problem("/" + path, f"directory nesting deeper than {_MAX_DEPTH}; not followed")
            return
        if int(entry.info.name.flags) & _NAME_UNALLOC and not int(meta.flags) & _META_UNALLOC:
            return  # a deleted name whose directory inode is reused: its content is another directory's
        try:
            sub = entry.as_directory()
        except OSError as e:
            if not int(entry.info.name.flags) & _NAME_UNALLOC:
                yield self._problem("/" + path, f"cannot open directory: {one_line(e, 200)}")
            return
        yield from self._walk_dir(sub, path, (*ancestors, inode))

    def _entries(self, entry: Any, file: Any, path: str) -> Iterator[FsEntry]:
        meta = file.info.meta
        if not (self._ntfs and meta is not None):
            yield self._entry(entry, meta, path, None)
            return
        printed = False
        for attr in file:
            kind = int(attr.info.type)
            if kind not in (_DATA, _INDEX_ROOT):
                continue
            printed = True
            stream = bytes(attr.info.name or b"")
            shown = stream and not (kind == _INDEX_ROOT and stream == b"$I30")
            yield self._entry(entry, meta, f"{path}:{_display(stream)}" if shown else path,
                              f"{kind}-{int(attr.info.id)}", int(attr.info.size))
        if not printed:
            yield self._entry(entry, meta, path, None)

    def _entry(self, entry: Any, meta: Any, path: str, attribute: str | None, size: int | None = None) -> FsEntry:
        name = entry.info.name
        name_unalloc = bool(int(name.flags) & _NAME_UNALLOC)
        meta_unalloc = meta is not None and bool(int(meta.flags) & _META_UNALLOC)
        times = {k: (_time(meta, k) if meta is not None else None) for k in ("mtime", "atime", "ctime", "crtime")}
        return FsEntry(
            volume=self.volume, fs_type=self.fs_type, path=path, inode=int(name.meta_addr), attribute=attribute,
            name_type=_NAME_TYPES.get(int(name.type), "unknown"),
            meta_type=_META_TYPES.get(int(meta.type), "unknown") if meta is not None else None,
            deleted=name_unalloc or meta_unalloc, reallocated=name_unalloc and meta is not None and not meta_unalloc,
            size=size if size is not None else (int(meta.size) if meta is not None else 0), times=times,
            mode=int(meta.mode) if meta is not None else 0, uid=int(meta.uid) if meta is not None else 0,
            gid=int(meta.gid) if meta is not None else 0, link=_link(meta),
        )

    def content(self, inode: int, attribute: str | None, size: int, chunk: int = 1 << 20) -> Iterator[bytes]:
        """A file's content in chunks (the stream named by ``attribute`` on NTFS), as ``icat`` reads it.

        Raises:
            OSError: TSK cannot read the content (typical of deleted files whose clusters are reused).
        """
        handle = self.tsk.open_meta(inode=inode)
        extra = tuple(int(x) for x in attribute.split("-")) if attribute else ()
        offset = 0
        while offset < size:
            data = bytes(handle.read_random(offset, min(chunk, size - offset), *extra))
            if not data:
                break
            yield data
            offset += len(data)

    def file_names(self, inode: int) -> list[tuple[int, int, dict[str, datetime | None]]]:
        """NTFS: each $FILE_NAME attribute's id, size and its own four times (what ``fls -m`` prints)."""
        handle = self.tsk.open_meta(inode=inode)
        found = []
        for attr in handle:
            if int(attr.info.type) != _FILE_NAME:
                continue
            size = int(attr.info.size)
            raw = bytes(handle.read_random(0, size, _FILE_NAME, int(attr.info.id)))
            if len(raw) >= 40:
                found.append((int(attr.info.id), size, _file_name_times(raw)))
        return found

    def _problem(self, path: str, message: str) -> Problem:
        return Problem(f"volume {self.volume.index} ({self.fs_type}) {path}", message)


def _filetime(value: int) -> datetime | None:
    if value <= 0:
        return None
    seconds, remainder = divmod(value - 116444736000000000, 10_000_000)
    try:
        return datetime.fromtimestamp(seconds, tz=UTC).replace(microsecond=remainder // 10)
    except (OverflowError, OSError, ValueError):
        return None


def _file_name_times(raw: bytes) -> dict[str, datetime | None]:
    created, modified, changed, accessed = struct.unpack_from("<4Q", raw, 8)
    return {"mtime": _filetime(modified), "atime": _filetime(accessed), "ctime": _filetime(changed),
            "crtime": _filetime(created)}


def file_systems(evidence: Evidence) -> Iterator[FileSystem | Problem]:
    """Opens the file system of every partition; a partition TSK cannot read becomes a Problem."""
    table, found = volumes(evidence)
    yield from beyond_end(evidence, found)
    for volume in found:
        if volume.role != "partition":
            continue
        try:
            yield FileSystem(evidence, volume)
        except OSError as e:
            what = f"partition {volume.index} at offset {volume.offset}" if table else "evidence"
            yield Problem(f"volume {volume.index}", f"{what}: no file system The Sleuth Kit can open "
                          f"({one_line(e, 120)})")
