"""Helpers for plugins that scan bytes for patterns: overlapping media windows, unallocated space, context.

Media-scope scanners (raw YARA, indicators) see the media in chunks. A ``Windows`` object glues the tail
of the previous chunk to the next one so that a match straddling a chunk boundary is seen whole, and
tells the scanner which matches to report so that each is reported exactly once: a match ``[start, end)``
belongs to the window whose report range ``(low, high]`` holds its end.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from dftk.errors import DftkError
from dftk.evidence import Evidence, EvidenceSpec, reopen
from dftk.plugin import Problem
from dftk.volumes import Volume, per_volume, volumes

FINAL = 1 << 62
T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Window:
    """Bytes to scan, their absolute offset, and the end offsets ``(low, high]`` to report from them."""

    data: bytes
    start: int
    low: int
    high: int

    def owns(self, start: int, end: int) -> bool:
        """Whether a match at absolute ``[start, end)`` is reported from this window."""
        return self.low < end <= self.high and start >= self.start


class Windows:
    """Overlapping windows over a chunked byte stream.

    Args:
        longest: the longest match a scanner reports; the tail kept between chunks is longer than that.
        margin: how far past a match's end the scanner looks (lookahead, word boundaries); a match ending
            that close to the end of a chunk is left for the next window, which sees what follows it.
    """

    def __init__(self, longest: int, margin: int = 64) -> None:
        self.keep = longest + 2 * margin
        self.margin = margin
        self.tail = b""
        self.tail_start = 0
        self.low = -1

    def push(self, offset: int, data: bytes) -> Window:
        """The window made of the kept tail and the chunk at ``offset``."""
        if self.tail and self.tail_start + len(self.tail) != offset:
            self.tail = b""  # not contiguous (should not happen in one media pass): start afresh
        start = offset - len(self.tail)
        window = Window(self.tail + data, start, self.low, offset + len(data) - self.margin)
        self.low = window.high
        self.tail = window.data[-self.keep:]
        self.tail_start = start + len(window.data) - len(self.tail)
        return window

    def final(self) -> Window:
        """The last window: what the previous ones left unreported at the very end of the media."""
        window = Window(self.tail, self.tail_start, self.low, FINAL)
        self.tail = b""
        return window


def windows_over(data: bytes | memoryview | Any, size: int, longest: int) -> Iterator[Window]:
    """Overlapping windows over one large buffer (a read-only map of a big file), one at a time."""
    windows = Windows(longest)
    for at in range(0, len(data), size):
        yield windows.push(at, bytes(data[at:at + size]))
    yield windows.final()


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
        for item in per_volume(evidence, _file_system_runs):
            if isinstance(item, Problem):
                problems.append(item)
            else:
                ranges.append(item)
    except DftkError as e:
        problems.append(Problem("evidence", f"unallocated space not known: {e}"))
    return UnallocatedMap(ranges), problems


def _file_system_runs(spec: EvidenceSpec, volume: Volume) -> Iterator[tuple[int, int] | Problem]:
    from dftk.blocks import unallocated_runs
    from dftk.filewalk import file_system_at

    try:
        fs = file_system_at(reopen(spec), volume.offset)
    except DftkError:
        return  # no file system here: the whole volume is raw data, reported by the file walk
    try:
        block = int(fs.tsk.info.block_size)
        runs = list(unallocated_runs(fs.tsk, volume.offset))
    except DftkError as e:
        yield Problem(f"volume {volume.index}", f"unallocated space not known: {e}")
        return
    for first, count in runs:
        yield volume.offset + first * block, volume.offset + (first + count) * block


def escape(data: bytes) -> str:
    """Bytes as printable ASCII text: printable ASCII kept, everything else as \\xNN (backslash doubled)."""
    return "".join(chr(b) if 32 <= b < 127 and b != 92 else "\\\\" if b == 92 else f"\\x{b:02x}" for b in data)


def context(data: bytes | memoryview | Any, start: int, end: int, width: int = 16) -> str:
    """The escaped bytes either side of ``data[start:end]``, the match itself between brackets."""
    before = bytes(data[max(0, start - width):start])
    after = bytes(data[end:end + width])
    return f"{escape(before)}[{escape(bytes(data[start:end]))}]{escape(after)}"
