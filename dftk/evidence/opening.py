"""Opening evidence: its format detected from what is on disk (or named), opened read-only."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from dftk.errors import EvidenceError
from dftk.evidence.base import LIVE, Evidence, EvidenceSpec, open_read_only
from dftk.evidence.libyal import EwfEvidence
from dftk.evidence.logical import LogicalEvidence
from dftk.evidence.raw import SegmentedEvidence, split_segments
from dftk.evidence.virtual import VirtualDiskEvidence, sniff

FORMATS = ("auto", "raw", "split", "e01", "vmdk", "vhd", "qcow", "device", "logical")
_EWF_SIGNATURES = (b"EVF\x09\x0d\x0a\xff\x00", b"EVF2\x0d\x0a\x81\x00", b"LVF\x09\x0d\x0a\xff\x00")


def reopen(spec: EvidenceSpec) -> Evidence:
    """The evidence a spec names: the live object in this process, else opened again (in a worker)."""
    live = LIVE.get(spec)
    if live is not None and not live.closed:
        return live
    evidence = open_evidence(spec.path, spec.format)
    LIVE[spec] = evidence
    return evidence


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
    container = sniff(head, tail)
    if container:
        return container
    if re.search(r"\.(e|ex|l|lx)\d\d$", path.name, re.IGNORECASE):
        raise EvidenceError(f"{path}: not an EWF/E01 file (no EVF signature at offset 0)")
    segments = split_segments(path)
    return "split" if segments and len(segments) > 1 else "raw"


def open_evidence(path: str | os.PathLike[str], fmt: str = "auto") -> Evidence:
    """Opens evidence read-only, detecting its format unless ``fmt`` names one.

    Detection tells containers, split sets, folders and devices apart; whether a plain file holds a disk
    at all is the file-system layer's question (``dftk.fs.open_image``).

    Args:
        path: image file, first segment, block device or directory.
        fmt: one of :data:`FORMATS`.

    Raises:
        EvidenceError: with a one-line reason naming the file.
    """
    p = Path(os.path.abspath(path))
    detected = _kind_of(p)  # also when a format is named: a missing or unreadable path fails the same way
    evidence = _open_as(p, detected if fmt == "auto" else fmt)
    evidence.spec = EvidenceSpec(str(p), fmt)
    LIVE[evidence.spec] = evidence
    return evidence


def _open_as(p: Path, fmt: str) -> Evidence:
    if fmt == "logical":
        return LogicalEvidence(p)
    if fmt == "e01":
        return EwfEvidence(p)
    if fmt in ("vmdk", "vhd", "qcow"):
        return VirtualDiskEvidence(p, fmt)
    if fmt == "split":
        segments = split_segments(p)
        if not segments:
            raise EvidenceError(f"{p}: no split segments found (expected .000/.001... or aa/ab...)")
        return SegmentedEvidence(str(p), segments, "split")
    if fmt in ("raw", "device"):
        return SegmentedEvidence(str(p), [p], fmt)
    raise EvidenceError(f"{p}: unknown evidence format {fmt!r}")
