"""Bifragment gap carving (Garfinkel, DFRWS 2007): a file whose structure breaks part-way is tried as two
fragments, the first cut at a sector boundary after the last sound structure and the second resumed at a
sector boundary further on; a reassembly is accepted only when the whole file then validates.

Candidate pairs come from the format: for PNG the next chunk header must sit at the resumed position (its
type name is searched for, so the gap follows from where it is found) and the broken chunk's CRC must
then hold. Each format declares its own gap carver (``Format.gaps``); this module holds the shared parts.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Iterable, Iterator

from dftk_plugins.carving.model import Spliced, Validator, Verdict, View

MAX_GAP = 16 << 20
MAX_TRIES = 48
MAX_SHIFTS = 8  # gap sizes tried per file by the carvers that derive the gap from offset tables
_PNG_TYPES = re.compile(rb"IDAT|IEND")


def first_valid(validate: Validator, view: View, pairs: Iterable[tuple[int, int]]) -> Verdict | None:
    """The first ``(cut, resume)`` pair whose reassembly validates whole, as a two-fragment verdict: ``cut``
    is the first fragment's length, ``resume`` the absolute offset where the second starts."""
    for tries, (cut, resume) in enumerate(pairs):
        if tries >= MAX_TRIES:
            break
        spliced = Spliced(view, cut, resume, view.size)
        whole = validate(View(spliced, 0, view.size))
        if whole is not None and whole.full and whole.length > cut:
            second = whole.length - cut
            fragments = ((view.start, cut), (resume, second))
            return Verdict(whole.length, True, whole.confidence * 0.95,
                           fragments=fragments)
    return None


def png(validate: Validator, view: View, verdict: Verdict, sector: int) -> Verdict | None:
    """PNG gap carving: the next chunk header must sit at the resumed position and the broken chunk's CRC
    must then hold."""
    return first_valid(validate, view, _png_pairs(view, verdict.good, sector))


def boundaries(view: View, low: int, high: int, sector: int) -> list[int]:
    """Sector boundaries (absolute) strictly after ``low`` and at most ``high`` (positions in the file)."""
    first = (view.start + low) // sector * sector + sector
    return [b - view.start for b in range(first, view.start + high + 1, sector)]


def _png_pairs(view: View, chunk: int, sector: int) -> Iterator[tuple[int, int]]:
    head = view.read(chunk, 8)
    if len(head) < 8 or chunk <= 8:
        return
    length = struct.unpack(">I", head[:4])[0]
    if length > 0x7FFFFFFF or not head[4:].isalpha():
        return
    following = chunk + 12 + length
    cuts = boundaries(view, chunk + 8, following, sector)
    base = view.start + chunk
    region = view.reader.read(base, following - chunk + MAX_GAP)
    for m in _PNG_TYPES.finditer(region):
        header = base + m.start() - 4
        for cut in reversed(cuts):
            resume = header - (following - cut)
            if resume > view.start + cut and resume % sector == 0 and _crc_holds(view, chunk, cut, resume, length):
                yield cut, resume


def _crc_holds(view: View, chunk: int, cut: int, resume: int, length: int) -> bool:
    spliced = Spliced(view, cut, resume, view.size)
    body = spliced.read(chunk + 4, length + 8)
    return len(body) == length + 8 and zlib.crc32(body[:-4]) == struct.unpack(">I", body[-4:])[0]


def beyond(view: View, at: int, n: int) -> bytes:
    """Bytes of the carved space at absolute ``at`` (past the view's end: a second fragment lies there),
    empty or short outside the space."""
    n = _within(view, at, n)
    return view.reader.read(at, n) if n else b""


def beyond_buffer(view: View, at: int, n: int) -> bytes | memoryview:
    """``beyond`` without a copy where the reader holds the bytes in memory (``Reader.buffer``)."""
    n = _within(view, at, n)
    return view.reader.buffer(at, n) if n else b""


def _within(view: View, at: int, n: int) -> int:
    return 0 if at < 0 or n <= 0 or at >= view.reader.size else min(n, view.reader.size - at)
