"""Evidence: one read-only, random-access interface over every source dftk examines.

Sources: a raw image, split raw (``.000``/``.001``..., ``aa``/``ab``...), E01 and split E01 (through
libewf-python), VMDK, VHD and QCOW virtual disks (libyal bindings), a block device, a directory of loose
files (logical evidence) and bytes in memory (``Evidence.from_bytes``, the test double). Nothing here ever
opens a file for writing.
"""

from __future__ import annotations

import mmap
import os
import re
import stat
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from dftk.errors import EvidenceError

if TYPE_CHECKING:
    from dftk.files import Buffer, EvidenceFile, WalkItem

FORMATS = ("auto", "raw", "split", "e01", "vmdk", "vhd", "qcow", "device", "logical")
CHUNK = 4 << 20
_EWF_SIGNATURES = (b"EVF\x09\x0d\x0a\xff\x00", b"EVF2\x0d\x0a\x81\x00", b"LVF\x09\x0d\x0a\xff\x00")
_NUMBERED = re.compile(r"^(?P<stem>.*\.)(?P<num>\d{3})$")
_LETTERED = re.compile(r"^(?P<stem>.*?)(?P<letters>aa)$")


@dataclass(frozen=True, slots=True)
class EvidenceSpec:
    """What is needed to open the same evidence again, in another process or on another host."""

    path: str
    format: str = "auto"


# Evidence open in this process, so work handed around by spec reuses it instead of opening it again.
_LIVE: weakref.WeakValueDictionary[EvidenceSpec, Evidence] = weakref.WeakValueDictionary()


def reopen(spec: EvidenceSpec) -> Evidence:
    """The evidence a spec names: the live object in this process, else opened again (in a worker)."""
    live = _LIVE.get(spec)
    if live is not None and not live.closed:
        return live
    evidence = open_evidence(spec.path, spec.format, require_image=False)
    _LIVE[spec] = evidence
    return evidence


def open_read_only(path: Path) -> int:
    """Opens a file descriptor for reading only, without touching the access time where allowed."""
    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)
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

    def walk(self) -> Iterator[WalkItem]:
        """Yields the regular files of every file system (allocated and deleted), with Problems for
        what cannot be listed."""
        from dftk.filewalk import media_walk

        return media_walk(self)

    def open_file(self, file: EvidenceFile) -> Buffer:
        """Returns the content of a file from :meth:`walk`, read once."""
        from dftk.filewalk import media_content

        return media_content(self, file)

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
        _LIVE[self.spec] = self

    def _read(self, offset: int, length: int) -> bytes:
        return self._data[offset : offset + length]


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


def _kind_of(path: Path) -> str:
    try:
        st = path.stat()
    except FileNotFoundError as e:
        raise EvidenceError(f"{path}: no such file or directory") from e
    except OSError as e:
        raise EvidenceError(f"{path}: cannot open: {e.strerror or e}") from e
    if stat.S_ISDIR(st.st_mode):
        return "logical"
    if stat.S_ISBLK(st.st_mode):
        return "device"
    if not stat.S_ISREG(st.st_mode):
        raise EvidenceError(f"{path}: not a regular file, directory or block device")
    if st.st_size == 0:
        raise EvidenceError(f"{path}: empty file (0 bytes), not an evidence image")
    return _sniff(path)


def _sniff(path: Path) -> str:
    try:
        fd = open_read_only(path)
        try:
            head = os.pread(fd, 32, 0)
            tail = os.pread(fd, 8, max(0, os.fstat(fd).st_size - 512))
        finally:
            os.close(fd)
    except OSError as e:
        raise EvidenceError(f"{path}: cannot read: {e.strerror or e}") from e
    if head.startswith(_EWF_SIGNATURES):
        return "e01"
    from dftk.virtual import sniff

    container = sniff(head, tail)
    if container:
        return container
    if re.search(r"\.(e|ex|l|lx)\d\d$", path.name, re.IGNORECASE):
        raise EvidenceError(f"{path}: not an EWF/E01 file (no EVF signature at offset 0)")
    segments = split_segments(path)
    return "split" if segments and len(segments) > 1 else "raw"


def open_evidence(path: str | os.PathLike[str], fmt: str = "auto", require_image: bool = True) -> Evidence:
    """Opens evidence read-only, detecting its format unless ``fmt`` names one.

    Args:
        path: image file, first segment, block device or directory.
        fmt: one of :data:`FORMATS`.
        require_image: when the format is detected, refuse a raw file in which no partition table or
            file system is recognised (pass ``fmt="raw"`` to examine arbitrary bytes).

    Raises:
        EvidenceError: with a one-line reason naming the file.
    """
    p = Path(os.path.abspath(path))
    detected = _kind_of(p)
    chosen = detected if fmt == "auto" else fmt
    evidence = _open_as(p, chosen)
    evidence.spec = EvidenceSpec(str(p), fmt)
    _LIVE[evidence.spec] = evidence
    if fmt == "auto" and require_image and chosen in ("raw", "split"):
        _require_layout(evidence)
    return evidence


def _open_as(p: Path, fmt: str) -> Evidence:
    if fmt == "logical":
        from dftk.logical import LogicalEvidence

        return LogicalEvidence(p)
    if fmt == "e01":
        from dftk.ewf import EwfEvidence

        return EwfEvidence(p)
    if fmt in ("vmdk", "vhd", "qcow"):
        from dftk.virtual import VirtualDiskEvidence

        return VirtualDiskEvidence(p, fmt)
    if fmt == "split":
        segments = split_segments(p)
        if not segments:
            raise EvidenceError(f"{p}: no split segments found (expected .000/.001... or aa/ab...)")
        return SegmentedEvidence(str(p), segments, "split")
    if fmt in ("raw", "device"):
        return SegmentedEvidence(str(p), [p], fmt)
    raise EvidenceError(f"{p}: unknown evidence format {fmt!r}")


def _require_layout(evidence: Evidence) -> None:
    from dftk.volumes import detect_layout

    if detect_layout(evidence) is None:
        evidence.close()
        raise EvidenceError(
            f"{evidence.path}: not a disk image: no partition table or file system recognised "
            "(use --evidence-format raw to examine it as raw data)"
        )
