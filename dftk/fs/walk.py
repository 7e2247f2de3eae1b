"""The file walk: the regular files an evidence item holds, and their content, read once.

For media evidence, the files of every file system (through TSK, each file system walked in an isolated
parser process); for logical evidence (a folder of loose files), the folder's own walk."""

from __future__ import annotations

import mmap
import tempfile
import weakref
from collections.abc import Iterator

from dftk.errors import EvidenceError, one_line
from dftk.evidence import MAP_THRESHOLD, Buffer, Evidence, EvidenceFile, EvidenceSpec, LogicalEvidence, WalkItem, reopen
from dftk.fs.filesystem import FileSystem, file_systems
from dftk.fs.volumes import Volume, per_volume, volumes
from dftk.records import Problem

# Opened file systems per evidence item and volume offset, released with the evidence.
_OPEN: weakref.WeakKeyDictionary[Evidence, dict[int, FileSystem]] = weakref.WeakKeyDictionary()


def files(evidence: Evidence) -> Iterator[WalkItem]:
    """Yields the regular files of the evidence (allocated and deleted), with Problems for what cannot be
    listed, in a stable order."""
    if isinstance(evidence, LogicalEvidence):
        return evidence.walk()
    return media_walk(evidence)


def content(evidence: Evidence, file: EvidenceFile) -> Buffer:
    """The content of a file from :func:`files`, read once.

    Raises:
        EvidenceError: it cannot be read.
    """
    if isinstance(evidence, LogicalEvidence):
        return evidence.open_file(file)
    return media_content(evidence, file)


def media_walk(evidence: Evidence) -> Iterator[WalkItem]:
    """Every readable file of every file system, each file system walked in an isolated parser process;
    paths carry ``/p<N>`` when there is a partition table."""
    partitioned = volumes(evidence)[0] is not None
    return per_volume(evidence, _volume_files, partitioned)


def open_volume(spec: EvidenceSpec, volume: Volume) -> FileSystem | Problem:
    """The file system of one volume, or the Problem that says TSK cannot open one there."""
    try:
        return file_system_at(reopen(spec), volume.offset)
    except EvidenceError:
        return Problem(f"volume {volume.index}", f"offset {volume.offset}: no file system The Sleuth Kit can open")


def _volume_files(spec: EvidenceSpec, volume: Volume, partitioned: bool) -> Iterator[WalkItem]:
    fs = open_volume(spec, volume)
    if isinstance(fs, Problem):
        yield fs
        return
    prefix = f"/p{volume.index}" if partitioned else ""
    for entry in fs.walk():
        if isinstance(entry, Problem):
            yield entry
        elif entry.readable:
            yield entry.to_file(prefix)


def file_system_at(evidence: Evidence, offset: int) -> FileSystem:
    """The file system of the volume at ``offset`` bytes, opened once per evidence item."""
    opened = _OPEN.setdefault(evidence, {})
    if offset not in opened:
        for fs in file_systems(evidence):
            if not isinstance(fs, Problem) and fs.volume.offset == offset:
                opened[offset] = fs
                break
        else:
            raise EvidenceError(f"{evidence.path}: no file system at offset {offset}")
    return opened[offset]


def media_content(evidence: Evidence, file: EvidenceFile) -> Buffer:
    """Reads one file's content once: bytes when small, a read-only map of a spooled copy when large."""
    offset, inode, attribute = file.locator.split(":")
    fs = file_system_at(evidence, int(offset))
    try:
        chunks = fs.content(int(inode), attribute or None, file.size)
        if file.size <= MAP_THRESHOLD:
            return b"".join(chunks)
        return _spool(chunks)
    except OSError as e:
        reason = one_line(e, 160)
        raise EvidenceError(f"{file.path}: The Sleuth Kit cannot read the content: {reason}") from e


def _spool(chunks: Iterator[bytes]) -> Buffer:
    with tempfile.TemporaryFile(prefix="dftk-") as spool:
        for chunk in chunks:
            spool.write(chunk)
        spool.flush()
        if spool.tell() == 0:
            return b""
        return mmap.mmap(spool.fileno(), 0, access=mmap.ACCESS_READ)
