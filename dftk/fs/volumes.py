"""Volumes through pytsk3: with ``dftk/fs.py`` the single adapter in front of The Sleuth Kit.

Lists the partition table's entries (allocated partitions, unallocated gaps and the table's own
structures, as ``mmls`` does) or, when there is no partition table, one volume holding a bare file system.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytsk3

from dftk.errors import EvidenceError
from dftk.evidence import Evidence, open_evidence
from dftk.fs.isolation import NativeCrash, isolated
from dftk.records import Problem

_ALLOC = int(pytsk3.TSK_VS_PART_FLAG_ALLOC)
_META = int(pytsk3.TSK_VS_PART_FLAG_META)


class TskImage(pytsk3.Img_Info):  # type: ignore[misc]
    """Presents any dftk Evidence to The Sleuth Kit as an image."""

    def __init__(self, evidence: Evidence) -> None:
        self._evidence = evidence
        super().__init__(url="", type=pytsk3.TSK_IMG_TYPE_EXTERNAL)

    def read(self, offset: int, length: int) -> bytes:
        try:
            return self._evidence.read(offset, length)
        except EvidenceError:
            # TSK treats an empty read as an I/O error and reports it itself.
            return b""

    def get_size(self) -> int:
        return self._evidence.size

    def close(self) -> None:
        """The Evidence owns the handles; TSK must not close them."""


@dataclass(frozen=True, slots=True)
class Volume:
    """One entry of the volume system (or the whole evidence when it holds a bare file system).

    Attributes:
        index: TSK's slot address (``mmls``'s first column); 0 for a bare file system.
        offset, length: in bytes from the start of the evidence.
        role: ``partition``, ``unallocated`` (space outside any partition) or ``table`` (the table itself
            and extended-partition containers).
    """

    index: int
    offset: int
    length: int
    description: str
    role: str

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "offset": self.offset, "length": self.length,
                "description": self.description, "role": self.role}


def type_name(prefix: str, value: int) -> str:
    """The lower-case TSK name of an enum value (``ext2``, ``dos``, ``fat16``...)."""
    for name in dir(pytsk3):
        if name.startswith(prefix) and not name.endswith(("_DETECT", "_ENUM")) and getattr(pytsk3, name) == value:
            return name.removeprefix(prefix).lower()
    return f"type {value}"


def _volume_system(image: Any) -> Any | None:
    try:
        return pytsk3.Volume_Info(image)
    except OSError:
        return None


def _file_system(image: Any) -> str | None:
    try:
        fs = pytsk3.FS_Info(image, offset=0)
    except OSError:
        return None
    return type_name("TSK_FS_TYPE_", int(fs.info.ftype)) + " file system"


def open_image(path: str | os.PathLike[str], fmt: str = "auto") -> Evidence:
    """Opens evidence to examine as a disk: with ``fmt="auto"``, a plain file is accepted only when The Sleuth
    Kit recognises a partition table or a file system at its start (``fmt="raw"`` takes arbitrary bytes).

    Raises:
        EvidenceError: it cannot be opened, or (auto) it is no disk image; one line naming the file.
    """
    evidence = open_evidence(path, fmt)
    if fmt == "auto" and evidence.format in ("raw", "split") and detect_layout(evidence) is None:
        evidence.close()
        raise EvidenceError(
            f"{evidence.path}: not a disk image: no partition table or file system recognised "
            "(use --evidence-format raw to examine it as raw data)"
        )
    return evidence


def detect_layout(evidence: Evidence) -> str | None:
    """Names the partition table or file system at the start of the evidence, or None if TSK sees none."""
    image = TskImage(evidence)
    vs = _volume_system(image)
    if vs is not None:
        return type_name("TSK_VS_TYPE_", int(vs.info.vstype)) + " partition table"
    return _file_system(image)


def volumes(evidence: Evidence) -> tuple[str | None, list[Volume]]:
    """The partition table's type (None when there is none) and its volumes, in table order."""
    vs = _volume_system(TskImage(evidence))
    if vs is None:
        return None, [Volume(0, 0, evidence.size, "file system (no partition table)", "partition")]
    block = int(vs.info.block_size)
    found = []
    for part in vs:
        flags = int(part.flags)
        role = "partition" if flags & _ALLOC else "table" if flags & _META else "unallocated"
        found.append(Volume(int(part.addr), int(part.start) * block, int(part.len) * block,
                            bytes(part.desc).decode("utf-8", "replace").strip("\0 "), role))
    return type_name("TSK_VS_TYPE_", int(vs.info.vstype)), found


def beyond_end(evidence: Evidence, found: list[Volume]) -> Iterator[Problem]:
    """A volume that ends past the end of the evidence means a truncated image: say so, since TSK
    silently drops the partitions it can no longer find."""
    for volume in found:
        end = volume.offset + volume.length
        if end > evidence.size:
            yield Problem(f"volume {volume.index}",
                          f"{volume.description} ends at byte {end}, beyond the end of the evidence ({evidence.size} "
                          "bytes): the image is truncated and volumes inside it may be missing")


def per_volume(evidence: Evidence, fn: Callable[..., Iterator[Any]], *args: Any) -> Iterator[Any]:
    """Runs ``fn(spec, volume, *args)`` for every partition in its own parser process; a volume whose
    parser crashes, and a volume table that runs past the end of the evidence, become Problems."""
    table, found = volumes(evidence)
    yield from beyond_end(evidence, found)
    for volume in found:
        if volume.role != "partition":
            continue
        if evidence.format == "bytes":  # memory cannot be handed to another process; the test double runs here
            yield from fn(evidence.spec, volume, *args)
            continue
        try:
            yield from isolated(fn, evidence.spec, volume, *args)
        except NativeCrash as e:
            yield Problem(f"volume {volume.index}", f"stopped early: {e}; the rest of this volume is missing")
