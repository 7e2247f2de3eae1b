"""E01 and split E01 evidence through libewf-python (pyewf), opened read-only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dftk.errors import EvidenceError, one_line
from dftk.evidence.base import Evidence


def libyal_reason(error: BaseException) -> str:
    # libewf chains every layer's message into one; the last clause names the root cause.
    text = one_line(error)
    clauses = [c.strip() for c in text.split(". ") if c.strip()]
    return clauses[0].split(": ", 1)[-1] if clauses else type(error).__name__


class LibyalEvidence(Evidence):
    """Evidence read through a libyal handle (libewf, libvmdk, libvhdi, libqcow: the same read API)."""

    _handle: Any = None

    def _read(self, offset: int, length: int) -> bytes:
        try:
            return bytes(self._handle.read_buffer_at_offset(length, offset))
        except OSError as e:
            raise EvidenceError(f"{self.path}: read error at offset {offset}: {libyal_reason(e)}") from e

    def _close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


class EwfEvidence(LibyalEvidence):
    """Expert Witness Format evidence (E01, Ex01, split .E01/.E02...)."""

    format = "e01"

    def __init__(self, path: Path) -> None:
        import pyewf

        try:
            segments = pyewf.glob(str(path))
            handle = pyewf.handle()
            handle.open(segments, "r")
        except (OSError, ValueError, TypeError) as e:
            raise EvidenceError(f"{path}: not a readable E01 image: {libyal_reason(e)}") from e
        self._handle = handle
        super().__init__(str(path), int(handle.get_media_size()), [Path(s) for s in segments])
        self.sector_size = int(handle.get_bytes_per_sector() or 512)
        self.stored_hashes = _stored_hashes(handle)
        self.metadata = {k: str(v) for k, v in (handle.get_header_values() or {}).items() if v}
        self._check_complete()

    def _check_complete(self) -> None:
        # A truncated E01 opens fine and fails only when the missing chunks are read: probe the last sector.
        if self.size == 0:
            self.close()
            raise EvidenceError(f"{self.path}: E01 image holds no media data")
        try:
            self._read(self.size - self.sector_size, self.sector_size)
        except EvidenceError as e:
            self.close()
            raise EvidenceError(f"{self.path}: truncated or incomplete E01: {e.args[0].split(': ', 1)[-1]}") from e



def _stored_hashes(handle: Any) -> dict[str, str]:
    hashes = {}
    for name in ("MD5", "SHA1", "SHA256"):
        try:
            value = handle.get_hash_value(name)
        except (OSError, KeyError):
            value = None
        if value:
            hashes[name.lower()] = str(value).lower()
    return hashes
