"""Seals: the hash, size and modification time of every file that holds the evidence.

A seal is taken before and after each command that reads evidence; any difference is a failure of the
read-only guarantee and is reported as such. For a container (E01) the seal covers the container files as
stored on disk, which is what must not change; the media hash inside is the hashing plugin's business.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dftk.errors import EvidenceError
from dftk.evidence.base import Evidence, open_read_only
from dftk.records import canonical_json

_CHUNK = 4 << 20
_DETAIL_LIMIT = 64


@dataclass(frozen=True, slots=True)
class Seal:
    sha256: str
    files: int
    bytes: int
    detail: list[dict[str, Any]]

    def summary(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "files": self.files, "bytes": self.bytes, "sources": self.detail}


def _seal_file(name: str, path: Path, progress: Callable[[int], None] | None) -> dict[str, Any]:
    try:
        fd = open_read_only(path)
    except OSError as e:
        raise EvidenceError(f"{path}: cannot open to seal: {e.strerror or e}") from e
    try:
        h, size = hashlib.sha256(), 0
        while data := os.read(fd, _CHUNK):
            h.update(data)
            size += len(data)
            if progress:
                progress(len(data))
        mtime = os.fstat(fd).st_mtime_ns
    except OSError as e:
        raise EvidenceError(f"{path}: read error while sealing: {e.strerror or e}") from e
    finally:
        os.close(fd)
    return {"path": name, "size": size, "mtime_ns": mtime, "sha256": h.hexdigest()}


def seal(evidence: Evidence, progress: Callable[[int], None] | None = None) -> Seal:
    """Hashes every source file of the evidence and combines the results into one seal."""
    combined, files, total = hashlib.sha256(), 0, 0
    detail: list[dict[str, Any]] = []
    for name, path in evidence.stored_files():
        entry = _seal_file(name, path, progress)
        combined.update(canonical_json(entry).encode() + b"\n")
        files += 1
        total += entry["size"]
        if len(detail) < _DETAIL_LIMIT:
            detail.append(entry)
    return Seal(combined.hexdigest(), files, total, detail)
