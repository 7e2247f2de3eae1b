"""Volumes and file systems through pytsk3: the one module that imports it (the single TSK adapter)."""

from __future__ import annotations

from typing import Any

import pytsk3

from dftk.errors import EvidenceError
from dftk.evidence import Evidence


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


def _type_name(prefix: str, value: int) -> str:
    for name in dir(pytsk3):
        if name.startswith(prefix) and not name.endswith(("_DETECT", "_ENUM")) and getattr(pytsk3, name) == value:
            return name.removeprefix(prefix).lower()
    return f"type {value}"


def _volume_system(image: Any) -> str | None:
    try:
        vs = pytsk3.Volume_Info(image)
    except OSError:
        return None
    return _type_name("TSK_VS_TYPE_", int(vs.info.vstype)) + " partition table"


def _file_system(image: Any) -> str | None:
    try:
        fs = pytsk3.FS_Info(image, offset=0)
    except OSError:
        return None
    return _type_name("TSK_FS_TYPE_", int(fs.info.ftype)) + " file system"


def detect_layout(evidence: Evidence) -> str | None:
    """Names the partition table or file system at the start of the evidence, or None if TSK sees none."""
    image = TskImage(evidence)
    return _volume_system(image) or _file_system(image)
