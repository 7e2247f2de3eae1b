"""Raw images, split raw images and block devices: one or more files read as one byte stream."""

from __future__ import annotations

import mmap
import os
import re
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dftk.errors import EvidenceError
from dftk.evidence.base import Evidence, open_read_only

_NUMBERED = re.compile(r"^(?P<stem>.*\.)(?P<num>\d{3})$")
_LETTERED = re.compile(r"^(?P<stem>.*?)(?P<letters>aa)$")


@dataclass(slots=True)
class _Segment:
    path: Path
    start: int
    size: int
    fd: int = field(default=-1)


class SegmentedEvidence(Evidence):
    """A raw image, a block device or split raw: one or more files read as one byte stream."""

    def __init__(self, path: str, segments: Sequence[Path], fmt: str) -> None:
        self.format = fmt
        self._segments: list[_Segment] = []
        start = 0
        try:
            for seg in segments:
                fd = open_read_only(seg)
                size = os.lseek(fd, 0, os.SEEK_END)
                self._segments.append(_Segment(seg, start, size, fd))
                start += size
        except OSError as e:
            self.close()
            raise EvidenceError(f"{e.filename or path}: cannot open: {e.strerror or e}") from e
        super().__init__(path, start, segments)
        if fmt == "device":
            self.sector_size = _device_sector_size(self._segments[0].fd)

    def _read(self, offset: int, length: int) -> bytes:
        parts = []
        for seg in self._segments:
            if offset >= seg.start + seg.size or offset + length <= seg.start:
                continue
            local = max(0, offset - seg.start)
            want = min(seg.size - local, offset + length - seg.start - local)
            parts.append(self._pread(seg, want, local))
        return b"".join(parts)

    def mapped(self, offset: int, length: int) -> memoryview | None:
        seg = next((s for s in self._segments if s.start <= offset and offset + length <= s.start + s.size), None)
        if seg is None or length <= 0 or seg.fd < 0 or not stat.S_ISREG(os.fstat(seg.fd).st_mode):
            return None  # a device is read, never mapped: its bad sectors must raise, not kill
        local = offset - seg.start
        base = local - local % mmap.ALLOCATIONGRANULARITY
        try:
            region = mmap.mmap(seg.fd, local + length - base, prot=mmap.PROT_READ, offset=base)
        except (OSError, ValueError, OverflowError):
            return None
        return memoryview(region)[local - base:local - base + length]

    def _pread(self, seg: _Segment, length: int, offset: int) -> bytes:
        try:
            data = os.pread(seg.fd, length, offset)
        except OSError as e:
            raise EvidenceError(f"{seg.path}: read error at offset {offset}: {e.strerror or e}") from e
        if len(data) != length:
            raise EvidenceError(f"{seg.path}: file shrank while reading (offset {offset})")
        return data

    def _close(self) -> None:
        for seg in self._segments:
            if seg.fd >= 0:
                os.close(seg.fd)
                seg.fd = -1


def _device_sector_size(fd: int) -> int:
    try:
        import fcntl
        import struct

        blksszget = 0x1268
        return int(struct.unpack("i", fcntl.ioctl(fd, blksszget, b"\0" * 4))[0])
    except OSError:
        return 512


def split_segments(path: Path) -> list[Path] | None:
    """Finds the segments of a split raw image given its first (or any) segment, else None."""
    m = _NUMBERED.match(path.name)
    if m:
        stem, width = m["stem"], len(m["num"])
        first = 0 if (path.parent / f"{stem}{0:0{width}d}").exists() else 1
        names = (f"{stem}{i:0{width}d}" for i in range(first, 10**width))
    else:
        m = _LETTERED.match(path.name)
        if not m or not (path.parent / f"{m['stem']}ab").exists():
            return None
        stem = m["stem"]
        names = (f"{stem}{chr(97 + i // 26)}{chr(97 + i % 26)}" for i in range(26 * 26))
    segments = []
    for name in names:
        candidate = path.parent / name
        if not candidate.is_file():
            break
        segments.append(candidate)
    return segments or None


