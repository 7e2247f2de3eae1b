"""What imaging reads: the :class:`Source` protocol, :class:`FileSource` (a block device or image file,
read-only), reads with retries that fall back to sector by sector and record the unreadable ranges
(:class:`BadRange`), and :class:`AcquisitionError`, raised when an acquisition cannot go on.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from dftk.errors import DftkError
from dftk.evidence.base import open_read_only
from dftk.evidence.opening import open_evidence

_GONE = {errno.ENODEV, errno.ENXIO, errno.ENOENT, errno.ENOMEDIUM, errno.EBADF, errno.ESHUTDOWN}


class AcquisitionError(DftkError):
    """The acquisition cannot go on: source vanished, destination full or unwritable, bad resume."""


class Source(Protocol):
    """What imaging reads: a size, a sector size and positioned reads that raise OSError on failure."""

    path: str
    size: int
    sector_size: int

    def read(self, offset: int, length: int) -> bytes: ...

    def close(self) -> None: ...


class FileSource:
    """A block device or an image file, opened read-only."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)
        try:
            self._fd = open_read_only(path)
            self.is_device = stat.S_ISBLK(os.fstat(self._fd).st_mode)
            self.size = os.lseek(self._fd, 0, os.SEEK_END)
        except OSError as e:
            raise AcquisitionError(f"{path}: cannot open source: {e.strerror or e}") from e
        self.sector_size = _sector_size(path) if self.is_device else 512

    def read(self, offset: int, length: int) -> bytes:
        return os.pread(self._fd, length, offset)

    def readinto(self, offset: int, view: memoryview) -> int:
        """Reads into ``view`` (no allocation); returns the bytes read."""
        return os.preadv(self._fd, [view], offset)

    def close(self) -> None:
        os.close(self._fd)

    def identity(self) -> dict[str, Any]:
        ident: dict[str, Any] = {"path": self.path, "size": self.size, "sector_size": self.sector_size,
                                 "device": self.is_device}
        if self.is_device:
            ident.update(_device_model_serial(Path(self.path)))
        return ident


def _sector_size(path: Path) -> int:
    with open_evidence(path, "device") as ev:
        return ev.sector_size


def _device_model_serial(path: Path) -> dict[str, str]:
    name = path.resolve().name
    found = {}
    for key, rel in (("model", "device/model"), ("serial", "device/serial"), ("serial", "serial")):
        try:
            value = (Path("/sys/class/block") / name / rel).read_text().strip()
        except OSError:
            continue
        if value and key not in found:
            found[key] = value
    return found


# --- reading with retries -------------------------------------------------------------------------


@dataclass(slots=True)
class BadRange:
    """Sectors ``[start, start + count)`` that could not be read, zero-filled in the image."""

    start: int
    count: int
    error: str


def _read_exact(source: Source, offset: int, length: int) -> bytes:
    try:
        data = source.read(offset, length)
    except OSError as e:
        if e.errno in _GONE:
            raise AcquisitionError(f"{source.path}: source vanished at byte {offset}: {e.strerror or e}") from e
        raise
    if len(data) != length:
        raise AcquisitionError(f"{source.path}: source vanished or shrank: read {len(data)} of {length} "
                               f"bytes at byte {offset}")
    return data


def read_block(source: Source, offset: int, length: int, retries: int, bad: list[BadRange]) -> bytes:
    """Reads one block, retrying ``retries`` times; then sector by sector, zero-filling what fails."""
    for _ in range(retries + 1):
        try:
            return _read_exact(source, offset, length)
        except OSError:
            continue
    return _read_sectors(source, offset, length, bad)


def read_block_into(source: Source, offset: int, view: memoryview, retries: int, bad: list[BadRange]) -> None:
    """:func:`read_block` into a buffer: the same retries and sector-by-sector fallback, without allocating
    when the source can read into a buffer (:class:`FileSource`)."""
    readinto = getattr(source, "readinto", None)
    if readinto is None:
        view[:] = read_block(source, offset, len(view), retries, bad)
        return
    for _ in range(retries + 1):
        try:
            n = readinto(offset, view)
        except OSError as e:
            if e.errno in _GONE:
                raise AcquisitionError(f"{source.path}: source vanished at byte {offset}: {e.strerror or e}") from e
            continue
        if n != len(view):
            raise AcquisitionError(f"{source.path}: source vanished or shrank: read {n} of {len(view)} "
                                   f"bytes at byte {offset}")
        return
    view[:] = _read_sectors(source, offset, len(view), bad)


def _read_sectors(source: Source, offset: int, length: int, bad: list[BadRange]) -> bytes:
    size = source.sector_size
    out = bytearray()
    for at in range(offset, offset + length, size):
        want = min(size, offset + length - at)
        try:
            out += _read_exact(source, at, want)
        except OSError as e:
            out += bytes(want)
            _add_bad(bad, at // size, e.strerror or str(e))
    return bytes(out)


def _add_bad(bad: list[BadRange], sector: int, error: str) -> None:
    last = bad[-1] if bad else None
    if last and last.start + last.count == sector and last.error == error:
        last.count += 1
    else:
        bad.append(BadRange(sector, 1, error))
