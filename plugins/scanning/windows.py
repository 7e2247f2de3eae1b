"""Helpers the scanning plugins share: overlapping media windows, and a match shown in its context.

Media-scope scanners (raw YARA, indicators) see the media in chunks. A ``Windows`` object glues the tail
of the previous chunk to the next one so that a match straddling a chunk boundary is seen whole, and
tells the scanner which matches to report so that each is reported exactly once: a match ``[start, end)``
belongs to the window whose report range ``(low, high]`` holds its end.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

FINAL = 1 << 62


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


def escape(data: bytes) -> str:
    """Bytes as printable ASCII text: printable ASCII kept, everything else as \\xNN (backslash doubled)."""
    return "".join(chr(b) if 32 <= b < 127 and b != 92 else "\\\\" if b == 92 else f"\\x{b:02x}" for b in data)


def context(data: bytes | memoryview | Any, start: int, end: int, width: int = 16) -> str:
    """The escaped bytes either side of ``data[start:end]``, the match itself between brackets."""
    before = bytes(data[max(0, start - width):start])
    after = bytes(data[end:end + width])
    return f"{escape(before)}[{escape(bytes(data[start:end]))}]{escape(after)}"
