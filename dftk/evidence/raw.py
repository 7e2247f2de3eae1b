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
        if fmt == "split":
            try:
                check_sizes([(seg.path, seg.size) for seg in self._segments])
            except EvidenceError:
                self.close()
                raise
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
    """Finds the segments of a split raw image given its first (or any) segment, else None.

    Raises:
        EvidenceError: a segment is missing in the middle of the set (later ones exist): opened anyway, every
            later byte would be at a wrong offset, or silently absent.
    """
    names = _segment_names(path)
    if names is None:
        return None
    present = {p.name for p in path.parent.iterdir()} if path.parent.is_dir() else set()
    segments: list[Path] = []
    for index, name in enumerate(names):
        if name not in present:
            later = [n for n in names[index + 1:] if n in present]
            if later and segments:
                raise EvidenceError(f"{path.parent / name}: segment missing from the split image ({len(later)} later "
                                    f"segment(s) exist, up to {later[-1]}): the set is incomplete")
            break
        segments.append(path.parent / name)
    return segments or None


def _segment_names(path: Path) -> list[str] | None:
    """Every name the split set of ``path`` may use, in order."""
    m = _NUMBERED.match(path.name)
    if m:
        stem, width = m["stem"], len(m["num"])
        first = 0 if (path.parent / f"{stem}{0:0{width}d}").exists() else 1
        return [f"{stem}{i:0{width}d}" for i in range(first, min(10**width, 10000))]
    m = _LETTERED.match(path.name)
    if not m or not (path.parent / f"{m['stem']}ab").exists():
        return None
    return [f"{m['stem']}{chr(97 + i // 26)}{chr(97 + i % 26)}" for i in range(26 * 26)]


def check_sizes(segments: Sequence[tuple[Path, int]]) -> None:
    """Every segment but the last holds as many bytes as the first: a short one in the middle would shift every
    later offset.

    Raises:
        EvidenceError: naming the segment.
    """
    if len(segments) < 2:
        return
    expected = segments[0][1]
    for path, size in segments[1:-1]:
        if size != expected:
            raise EvidenceError(f"{path}: holds {size} bytes, the segments before it {expected}: a short or long "
                                "segment in the middle of a split image (truncated or replaced?)")
    if segments[-1][1] > expected:
        raise EvidenceError(f"{segments[-1][0]}: the last segment holds more bytes ({segments[-1][1]}) than the "
                            f"others ({expected})")
