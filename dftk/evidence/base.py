"""Evidence: one read-only, random-access interface over every source dftk examines.

This package is the bottom layer: bytes only. It opens a raw image, split raw (``.000``/``.001``...,
``aa``/``ab``...), E01 and split E01 (libewf-python), VMDK, VHD and QCOW virtual disks (libyal bindings), a
block device, a directory of loose files (logical evidence: a file source without media bytes) and bytes in
memory (``Evidence.from_bytes``, the test double). Nothing here ever opens a file for writing, and nothing
here knows partitions or file systems (``dftk.fs`` does).
"""

from __future__ import annotations

import os
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from dftk.errors import EvidenceError

CHUNK = 4 << 20


@dataclass(frozen=True, slots=True)
class EvidenceSpec:
    """What is needed to open the same evidence again, in another process or on another host."""

    path: str
    format: str = "auto"


# Evidence open in this process, so work handed around by spec reuses it instead of opening it again.
LIVE: weakref.WeakValueDictionary[EvidenceSpec, Evidence] = weakref.WeakValueDictionary()


def open_read_only(path: Path, extra: int = 0) -> int:
    """Opens a file descriptor for reading only, without touching the access time where allowed."""
    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | extra
    noatime = getattr(os, "O_NOATIME", 0)
    try:
        return os.open(path, flags | noatime)
    except PermissionError:
        if not noatime:
            raise
        # O_NOATIME needs ownership (or CAP_FOWNER); plain read-only is still read-only.
        return os.open(path, flags)


class Evidence(ABC):
    """Read-only random access over one evidence item.

    Attributes:
        path: the path the examiner gave.
        format: ``raw``, ``split``, ``e01``, ``vmdk``, ``vhd``, ``qcow``, ``device``, ``logical`` or ``bytes``.
        size: media size in bytes (for logical evidence: the sum of file sizes).
        sector_size: bytes per sector.
        sources: the files on disk that hold the evidence, in order.
        stored_hashes: media hashes recorded inside the container (E01), lower-case hex by algorithm.
        metadata: acquisition metadata recorded inside the container (E01 header values).
    """

    format: str = "raw"
    sector_size: int = 512
    has_media = True

    def __init__(self, path: str, size: int, sources: Sequence[Path] = ()) -> None:
        self.path = path
        self.size = size
        self.sources = tuple(sources)
        self.stored_hashes: Mapping[str, str] = {}
        self.metadata: Mapping[str, str] = {}
        self.observer: Callable[[int], None] | None = None
        self.spec = EvidenceSpec(path, "auto")

    @classmethod
    def from_bytes(cls, data: bytes, name: str = "memory") -> Evidence:
        """Evidence held in memory: the test double that every test can build without files."""
        return BytesEvidence(data, name)

    def read(self, offset: int, length: int) -> bytes:
        """Reads up to ``length`` bytes at ``offset``; short only at the end of the media."""
        if offset < 0 or length < 0:
            raise EvidenceError(f"{self.path}: invalid read at offset {offset} of {length} bytes")
        length = max(0, min(length, self.size - offset))
        if length == 0:
            return b""
        data = self._read(offset, length)
        if len(data) != length:
            raise EvidenceError(f"{self.path}: short read at offset {offset}: {len(data)} of {length} bytes")
        if self.observer is not None:
            self.observer(len(data))
        return data

    def chunks(self, size: int = CHUNK, start: int = 0, end: int | None = None) -> Iterator[tuple[int, bytes]]:
        """Yields ``(offset, bytes)`` over ``[start, end)`` in pieces of ``size`` bytes."""
        stop = self.size if end is None else min(end, self.size)
        offset = start
        while offset < stop:
            data = self.read(offset, min(size, stop - offset))
            yield offset, data
            offset += len(data)

    def stored_files(self) -> Iterator[tuple[str, Path]]:
        """Each file on disk that holds the evidence, with the name a seal records it under."""
        for path in self.sources:
            yield str(path), path

    def mapped(self, offset: int, length: int) -> memoryview | None:
        """``[offset, offset + length)`` mapped from the page cache without a copy, when the evidence is a
        regular image file that holds the range in one piece; None otherwise (read it instead).

        An I/O error under a mapping kills the process with SIGBUS instead of raising, so only a process
        whose death is contained (a pool worker, whose range is then reported as not processed) should
        map evidence.
        """
        return None

    @abstractmethod
    def _read(self, offset: int, length: int) -> bytes: ...

    closed = False

    def close(self) -> None:
        """Releases the handles on the sources."""
        self.closed = True
        self._close()

    def _close(self) -> None:
        """Subclasses release their handles here."""

    def __enter__(self) -> Evidence:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def describe(self) -> dict[str, object]:
        """A JSON-ready summary: what an examiner sees with ``dftk evidence info``."""
        return {
            "path": self.path,
            "format": self.format,
            "size": self.size,
            "sector_size": self.sector_size,
            "sources": [str(p) for p in self.sources],
            "stored_hashes": dict(self.stored_hashes),
            "metadata": dict(self.metadata),
        }


class BytesEvidence(Evidence):
    """Evidence in memory."""

    format = "bytes"

    def __init__(self, data: bytes, name: str) -> None:
        super().__init__(name, len(data))
        self._data = bytes(data)
        self.spec = EvidenceSpec(f"{name}@{id(self):x}", "bytes")
        LIVE[self.spec] = self

    def _read(self, offset: int, length: int) -> bytes:
        return self._data[offset : offset + length]
