"""Unallocated space: what no file system claims (volume-system gaps and each file system's unallocated
blocks), as a map of image offsets and written out with a map back to image offsets (``fs unalloc``)."""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dftk.errors import DftkError
from dftk.evidence import Evidence, EvidenceSpec, reopen
from dftk.fs.blocks import unallocated_runs
from dftk.fs.filesystem import FileSystem
from dftk.fs.volumes import Volume, per_volume, volumes
from dftk.fs.walk import file_system_at
from dftk.records import Problem

_CHUNK = 4 << 20


class UnallocatedMap:
    """Which image offsets lie in unallocated space (volume gaps and file systems' unallocated blocks)."""

    def __init__(self, ranges: list[tuple[int, int]]) -> None:
        merged: list[list[int]] = []
        for start, end in sorted(ranges):
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        self.starts = [r[0] for r in merged]
        self.ends = [r[1] for r in merged]

    def __contains__(self, offset: object) -> bool:
        if not isinstance(offset, int):
            return False
        i = bisect.bisect_right(self.starts, offset) - 1
        return i >= 0 and offset < self.ends[i]

    def __len__(self) -> int:
        return len(self.starts)


def unallocated_map(evidence: Evidence) -> tuple[UnallocatedMap, list[Problem]]:
    """The unallocated space of the evidence, and Problems for volumes whose space is unknown."""
    ranges: list[tuple[int, int]] = []
    problems: list[Problem] = []
    try:
        _, found = volumes(evidence)
        ranges += [(v.offset, v.offset + v.length) for v in found if v.role == "unallocated" and v.length]
        for item in per_volume(evidence, _file_system_ranges):
            if isinstance(item, Problem):
                problems.append(item)
            else:
                ranges.append(item)
    except DftkError as e:
        problems.append(Problem("evidence", f"unallocated space not known: {e}"))
    return UnallocatedMap(ranges), problems


def file_system_runs(fs: FileSystem) -> list[tuple[int, int]]:
    """``(image offset, length)`` of each run of a file system's unallocated blocks, in block order.

    Raises:
        DftkError: TSK's block walk cannot be used on this file system.
    """
    block = int(fs.tsk.info.block_size)
    offset = fs.volume.offset
    return [(offset + first * block, count * block) for first, count in unallocated_runs(fs.tsk, offset)]


def _file_system_ranges(spec: EvidenceSpec, volume: Volume) -> Iterator[tuple[int, int] | Problem]:
    try:
        fs = file_system_at(reopen(spec), volume.offset)
    except DftkError:
        return  # no file system here: the whole volume is raw data, reported by the file walk
    try:
        runs = file_system_runs(fs)
    except DftkError as e:
        yield Problem(f"volume {volume.index}", f"unallocated space not known: {e}")
        return
    for start, length in runs:
        yield start, start + length


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
        runs = file_system_runs(fs)
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
