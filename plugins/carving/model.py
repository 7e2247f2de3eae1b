"""What a validator sees and says: a bounded view of the bytes at a candidate, and its verdict."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol


class Reader(Protocol):
    """Random access to the carved byte space (the evidence, or its unallocated runs end to end)."""

    size: int

    def read(self, offset: int, length: int) -> bytes: ...

    def buffer(self, offset: int, length: int) -> bytes | memoryview:
        """What ``read`` returns, as a view where the bytes are already in memory (no copy): for callers
        that only hand them to C code (CRCs, decoders, numpy, ``re``)."""
        ...


class View:
    """The bytes from a candidate's offset, at most ``limit`` of them; reads past the end come back short."""

    __slots__ = ("reader", "size", "start")

    def __init__(self, reader: Reader, start: int, limit: int) -> None:
        self.reader = reader
        self.start = start
        self.size = max(0, min(limit, reader.size - start))

    def read(self, pos: int, length: int) -> bytes:
        end = pos + length if pos + length < self.size else self.size  # no min(): called very often
        if pos < 0 or pos >= end:
            return b""
        return self.reader.read(self.start + pos, end - pos)

    def buffer(self, pos: int, length: int) -> bytes | memoryview:
        """The bytes ``read`` returns, without a copy where the reader holds them (see ``Reader.buffer``)."""
        end = pos + length if pos + length < self.size else self.size
        if pos < 0 or pos >= end:
            return b""
        return self.reader.buffer(self.start + pos, end - pos)


class Spliced:
    """A reader that sees ``[0, cut)`` of one view followed by the bytes from ``resume`` on: a candidate
    reassembly of a file split in two fragments."""

    def __init__(self, view: View, cut: int, resume: int, limit: int) -> None:
        self.view, self.cut, self.resume = view, cut, resume
        self.size = min(limit, cut + view.reader.size - resume)
        self.start = 0

    def read(self, pos: int, length: int) -> bytes:
        if pos < 0 or pos >= self.size or length <= 0:
            return b""
        length = min(length, self.size - pos)
        head = self.view.read(pos, min(length, self.cut - pos)) if pos < self.cut else b""
        rest = length - len(head)
        if rest <= 0:
            return head
        at = self.resume + max(0, pos - self.cut)
        return head + self.view.reader.read(at, rest)

    buffer = read


@dataclass(frozen=True, slots=True)
class Verdict:
    """A validator's answer.

    Attributes:
        length: bytes of the file (``full``) or of what validated before the structure broke.
        full: whether the whole structure validated to its real end.
        confidence: 0..1; how strong the checks that passed are (CRCs and decodes count most).
        good: for a partial file, the position up to which the structure is known to be sound; gap
            carving looks for the fragment break after it.
        fragments: ``(offset, length)`` runs in the carved byte space (one run unless reassembled).
    """

    length: int
    full: bool
    confidence: float
    good: int = 0
    fragments: tuple[tuple[int, int], ...] = field(default=())


Validator = Callable[[View], "Verdict | None"]

Reassembler = Callable[[Validator, View, Verdict, int], "Verdict | None"]
"""Gap carving for one format: (its validator, the view at the candidate, the partial verdict, the sector
size) -> a full verdict with two or more fragments, or None."""
