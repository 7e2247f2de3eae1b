"""Virtual disk containers as evidence: VMDK, VHD/VHDX and QCOW, through the libyal Python bindings
(the same family as libewf-python), opened read-only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dftk.errors import EvidenceError
from dftk.evidence.libyal import LibyalEvidence, libyal_reason

SIGNATURES = {b"KDMV": "vmdk", b"# Disk DescriptorFile": "vmdk", b"QFI\xfb": "qcow", b"conectix": "vhd",
              b"vhdxfile": "vhd"}


def sniff(head: bytes, tail: bytes) -> str | None:
    """The container format from the first bytes (or a fixed VHD's footer), else None."""
    for signature, fmt in SIGNATURES.items():
        if head.startswith(signature):
            return fmt
    return "vhd" if tail.startswith(b"conectix") else None


def _open(path: Path, fmt: str) -> Any:
    if fmt == "vmdk":
        import pyvmdk

        handle = pyvmdk.handle()
        handle.open(str(path))
        handle.open_extent_data_files()
        return handle
    if fmt == "vhd":
        import pyvhdi

        handle = pyvhdi.file()
        handle.open(str(path))
        if handle.get_parent_identifier():
            raise EvidenceError(f"{path}: differential VHD: its parent disk is needed and is not supported yet")
        return handle
    import pyqcow

    handle = pyqcow.file()
    handle.open(str(path))
    return handle


class VirtualDiskEvidence(LibyalEvidence):
    """A VMDK, VHD or QCOW virtual disk: its virtual media, read through libyal."""

    def __init__(self, path: Path, fmt: str) -> None:
        self.format = fmt
        try:
            self._handle = _open(path, fmt)
            size = int(self._handle.get_media_size())
        except (OSError, ValueError) as e:
            raise EvidenceError(f"{path}: not a readable {fmt.upper()} image: {libyal_reason(e)}") from e
        super().__init__(str(path), size, [path])
