"""Unallocated space: what no file system claims, written out with a map back to image offsets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dftk.blocks import unallocated_runs
from dftk.errors import DftkError
from dftk.evidence import Evidence, EvidenceSpec, reopen
from dftk.filewalk import file_system_at
from dftk.plugin import Problem
from dftk.volumes import Volume, per_volume, volumes

_CHUNK = 4 << 20


def write_unallocated(evidence: Evidence, outdir: Path) -> Iterator[dict[str, Any] | Problem]:
    """Writes the volume system's gaps and every file system's unallocated blocks; yields map rows."""
    _, found = volumes(evidence)
    for volume in found:
        if volume.role == "unallocated" and volume.length:
            name = f"unpartitioned-{volume.index}.bin"
            yield from _copy_runs(evidence, outdir / name, name, [(volume.offset, volume.length)], volume)
    yield from per_volume(evidence, _file_system_unalloc, str(outdir))


def _file_system_unalloc(spec: EvidenceSpec, volume: Volume, outdir: str) -> Iterator[dict[str, Any] | Problem]:
    evidence = reopen(spec)
    try:
        fs = file_system_at(evidence, volume.offset)
        block = int(fs.tsk.info.block_size)
        runs = [(volume.offset + first * block, count * block)
                for first, count in unallocated_runs(fs.tsk, volume.offset)]
    except DftkError as e:
        yield Problem(f"volume {volume.index}", f"unallocated space not available: {e}")
        return
    name = f"vol{volume.index}-{fs.fs_type}.unalloc"
    yield from _copy_runs(evidence, Path(outdir) / name, name, runs, volume)


def _copy_runs(evidence: Evidence, target: Path, name: str, runs: list[tuple[int, int]],
               volume: Volume) -> Iterator[dict[str, Any] | Problem]:
    written = 0
    with target.open("xb") as out:
        for image_offset, length in runs:
            end = min(image_offset + length, evidence.size)
            for _, data in evidence.chunks(_CHUNK, image_offset, end):
                out.write(data)
            if end < image_offset + length:
                yield Problem(name, f"run at image offset {image_offset} is cut short by the end of the evidence")
            yield {"file": name, "file_offset": written, "image_offset": image_offset, "length": end - image_offset,
                   "volume_index": volume.index, "volume_offset": volume.offset}
            written += end - image_offset
