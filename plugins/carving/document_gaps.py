"""Bifragment gap carving of ZIP and PDF, whose own offset tables say where the second fragment must be.

A ZIP's records chain by their lengths and its central directory (after the gap) names every local header's
offset; a PDF's cross-reference table names every object's offset. Where the next record or object is
actually found, at a sector boundary's distance from where it was expected, gives the gap; where the cut
lies follows from the record whose data the gap broke (a ZIP entry's CRC-32, a PDF stream's Adler-32). A
reassembly is accepted only when the whole file then validates.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections import deque
from collections.abc import Iterator
from typing import Any

from dftk_plugins.carving import documents
from dftk_plugins.carving.documents import ENTRY_CHECK_LIMIT, WINDOW, inflate_bounded
from dftk_plugins.carving.fragments import MAX_GAP, MAX_TRIES, boundaries, first_valid
from dftk_plugins.carving.model import Validator, Verdict, View

MAX_SHIFTS = 8  # gap sizes tried per file
CHECKPOINT = 8  # inflater states kept every this many sector boundaries while looking for the cut
MAX_CHECKPOINTS = 512  # so at most this many states (some 40 KiB each) are held at once
TRIAL_BUDGET = 64 << 20  # bytes re-checked over all cut trials of one entry
_ZIP_RECORD = re.compile(rb"PK(?:\x01\x02|\x03\x04|\x05\x06)")


def beyond(view: View, at: int, n: int) -> bytes:
    """Bytes of the carved space at absolute ``at`` (past the view's end: a second fragment lies there),
    empty or short outside the space."""
    if at < 0 or n <= 0 or at >= view.reader.size:
        return b""
    data: bytes = view.reader.read(at, min(n, view.reader.size - at))
    return data


def zip_archive(validate: Validator, view: View, verdict: Verdict, sector: int) -> Verdict | None:
    """ZIP gap carving: the record that should follow the broken entry (or central record) is looked for
    a whole number of sectors further on, or the end record after the gap tells the shift; the cut is
    where the broken entry's CRC then holds."""
    entries, expect, bad = documents._walk(view)
    low = bad.offset if bad is not None else expect
    if bad is None and view.read(expect, 4) == documents._CENTRAL:
        low, expect = _central_break(view, expect)
    elif bad is None:
        for entry in reversed(entries):  # the cut may lie in entries whose data could not be checked
            if entry.checked:
                break
            low = entry.offset

    ends = bad is None and view.read(expect, 4) == documents._LOCAL  # a streamed entry broke

    def pairs() -> Iterator[tuple[int, int]]:
        for shift in _zip_shifts(view, expect, sector, ends):
            cuts = _crc_cuts(view, bad, shift, sector) if _checkable(bad) else \
                reversed(boundaries(view, max(low - 1, expect - MAX_TRIES * sector, 0), expect, sector))
            for cut in cuts:
                yield cut, view.start + cut + shift

    return first_valid(validate, view, pairs())


def _central_break(view: View, pos: int) -> tuple[int, int]:
    """The last central record that chains from ``pos`` and where the next record was expected after it."""
    last = pos
    while True:
        rec = view.read(pos, 46)
        if len(rec) < 46 or rec[:4] != documents._CENTRAL:
            return last, pos
        nlen, xlen, clen = struct.unpack("<HHH", rec[28:34])
        last, pos = pos, pos + 46 + nlen + xlen + clen


def _zip_shifts(view: View, expect: int, sector: int, ends: bool) -> Iterator[int]:
    """Gap sizes (whole sectors, nearest first): a ZIP record a whole number of sectors after where the
    next one was expected; with ``ends``, also an end record whose central directory is that far off (the
    only clue when the broken entry's length is not known: its sizes follow its data)."""
    base, seen = view.start + expect, set()
    for at in range(base, base + MAX_GAP + sector, WINDOW):
        area = beyond(view, at, WINDOW + 22)
        for shift in _congruent(area, at - base, sector) + (_ends(view, area, at) if ends else []):
            if 0 < shift <= MAX_GAP and shift % sector == 0 and shift not in seen:
                seen.add(shift)
                yield shift
                if len(seen) >= MAX_SHIFTS:
                    return
        if len(area) < WINDOW:
            return


def _congruent(area: bytes, offset: int, sector: int) -> list[int]:
    """Offsets (``offset`` + position) of ZIP records at whole sectors into ``area``: only every sector's
    first bytes are looked at (a strided slice), so a long gap costs little."""
    firsts, found = area[::sector], []
    k = firsts.find(b"P")
    while k >= 0:
        if _ZIP_RECORD.match(area, k * sector):
            found.append(offset + k * sector)
        k = firsts.find(b"P", k + 1)
    return found


def _ends(view: View, area: bytes, at: int) -> list[int]:
    """Shifts told by end records in ``area`` (read at ``at``): where each is, less where its central
    directory offset and size put it."""
    found, k = [], area.find(documents._ZIP_END)
    while 0 <= k <= len(area) - 22:
        cd_size, cd_offset = struct.unpack("<II", area[k + 12:k + 20])
        found.append(at + k - view.start - cd_offset - cd_size)
        k = area.find(documents._ZIP_END, k + 1)
    return found


def _checkable(bad: documents._Entry | None) -> bool:
    return bad is not None and bad.method in (0, 8) and not bad.flags & 9 and bad.csize <= ENTRY_CHECK_LIMIT


def _crc_cuts(view: View, bad: documents._Entry | None, shift: int, sector: int) -> Iterator[int]:
    """Cuts (sector boundaries inside the broken entry's data) at which its data, read up to the cut in
    place and on from the cut ``shift`` bytes further, inflates to its size and CRC. The data in place is
    inflated once, with the inflater's state kept at checkpoints; cuts are tried from where that inflation
    failed backwards, the nearest first (filler breaks a deflate stream soon after the cut)."""
    if bad is None:
        return
    first = view.read(bad.data, bad.csize)
    second = beyond(view, view.start + bad.data + shift, bad.csize)
    if len(second) < bad.csize:
        return
    states = _checkpoints(first, bad, boundaries(view, bad.data - 1, bad.end - 1, sector))
    budget = TRIAL_BUDGET
    while states and budget > 0:
        cut, state, crc, size, later = states.pop()
        for trial in reversed(later):
            inflater = state.copy() if state is not None else None
            head = _fed(inflater, first[cut - bad.data:trial - bad.data], crc, size, bad.usize)
            if head is None:
                continue
            rest = second[trial - bad.data:]
            budget -= len(rest)
            if _rest_holds(inflater, rest, head, bad):
                yield trial
        if budget <= 0:
            return


def _checkpoints(first: bytes, bad: documents._Entry, cuts: list[int]) -> deque[Any]:
    """Inflater states (with CRC and size so far) at every CHECKPOINT-th cut, each with the cuts that
    follow it, up to where the data in place stops inflating or overruns."""
    inflater = zlib.decompressobj(-15) if bad.method == 8 else None
    states: deque[Any] = deque(maxlen=MAX_CHECKPOINTS)
    crc = size = 0
    prev = bad.data
    for i, cut in enumerate(cuts):
        got = _fed(inflater, first[prev - bad.data:cut - bad.data], crc, size, bad.usize)
        if got is None or (inflater is not None and inflater.eof):
            break
        crc, size = got
        if i % CHECKPOINT == 0:
            states.append((cut, inflater.copy() if inflater is not None else None, crc, size, []))
        states[-1][4].append(cut)
        prev = cut
    return states


def _fed(inflater: Any, data: bytes, crc: int, size: int, usize: int) -> tuple[int, int] | None:
    """CRC and size after feeding ``data`` (inflated when there is an inflater); None if it breaks."""
    try:
        out = data if inflater is None else inflate_bounded(inflater, data, usize - size)
    except zlib.error:
        return None
    if out is None or size + len(out) > usize:
        return None
    return zlib.crc32(out, crc), size + len(out)


def _rest_holds(inflater: Any, rest: bytes, head: tuple[int, int], bad: documents._Entry) -> bool:
    """Whether the rest of the entry, fed in small pieces (a wrong cut fails within the first), ends the
    data with the entry's size and CRC."""
    crc, size = head
    for at in range(0, len(rest), 1 << 14):
        got = _fed(inflater, rest[at:at + (1 << 14)], crc, size, bad.usize)
        if got is None:
            return False
        crc, size = got
        if inflater is not None and inflater.eof:
            break
    return (inflater is None or inflater.eof) and (crc, size) == (bad.crc, bad.usize)


PDF_TAIL = 4 << 20  # how far before the end the cross-reference table is looked for
STREAM_LIMIT = 64 << 20  # a stream inflated to check a cut inflates to no more than this
_XREF_TABLE = re.compile(rb"(?<![A-Za-z])xref\s*\r?\n")
_XREF_ENTRY = re.compile(rb"(\d{10}) (\d{5}) ([nf])")
_SUBSECTION = re.compile(rb"\s*(\d+) (\d+)\s*\r?\n")
_STARTXREF = re.compile(rb"startxref\s+(\d+)\s*%%EOF")


def pdf(validate: Validator, view: View, verdict: Verdict, sector: int) -> Verdict | None:
    """PDF gap carving: the cross-reference table (after the gap) is found a whole number of sectors after
    where ``startxref`` says it is: that is the gap. Every object it lists must then be at its offset,
    before the cut in place and after it shifted by the gap; the cut lies between the last object found
    in place and the first found shifted, where the object across it (its stream inflating, its
    ``endobj`` in place) holds."""
    end = verdict.length
    if verdict.good <= 0:
        return None  # no closing "startxref" was found: nothing tells where the table should be
    tail = view.read(max(0, end - PDF_TAIL), min(end, PDF_TAIL))
    base = end - len(tail)
    found = list(_STARTXREF.finditer(tail))
    if not found:
        return None
    said = int(found[-1].group(1))
    table = [base + m.start() for m in _XREF_TABLE.finditer(tail, 0, found[-1].start())]
    if not table or not 0 < table[-1] - said <= MAX_GAP or (table[-1] - said) % sector:
        return None
    shift = table[-1] - said
    objects = _xref_entries(view.read(table[-1], end - table[-1]))
    if not objects:
        return None
    return first_valid(validate, view, _pdf_pairs(view, objects, shift, said, sector))


def _xref_entries(data: bytes) -> list[tuple[int, int, int]]:
    """The in-use entries ``(offset, object number, generation)`` of a cross-reference table, in offset
    order; empty if the table does not parse."""
    m = _XREF_TABLE.match(data)
    pos, found = (m.end() if m else 0), []
    while (sub := _SUBSECTION.match(data, pos)) is not None:
        first, count = int(sub.group(1)), int(sub.group(2))
        pos = sub.end()
        for number in range(first, first + count):
            entry = _XREF_ENTRY.match(data, pos)
            if entry is None:
                return []
            if entry.group(3) == b"n":
                found.append((int(entry.group(1)), number, int(entry.group(2))))
            pos = entry.end()
            pos += len(data[pos:pos + 2]) - len(data[pos:pos + 2].lstrip(b" \r\n"))  # its 2-byte end of line
    return sorted(found)


def _object_at(read: Any, at: int, number: int, generation: int) -> bool:
    head: bytes = read(at, 32)
    return re.match(rb"%d\s+%d\s+obj" % (number, generation), head) is not None


def _pdf_pairs(view: View, objects: list[tuple[int, int, int]], shift: int, said: int,
               sector: int) -> Iterator[tuple[int, int]]:
    """Cuts between the last object found in place and the first found shifted, where every object the
    table lists is then found and the object across the cut holds."""
    def shifted(at: int, n: int) -> bytes:
        return beyond(view, view.start + at + shift, n)

    in_place = [_object_at(view.read, o, n, g) for o, n, g in objects]
    moved = [_object_at(shifted, o, n, g) for o, n, g in objects]
    k = 0
    while k < len(objects) and in_place[k]:
        k += 1
    if k == 0 or not all(moved[k:]):
        return
    low = objects[k - 1][0]
    high = objects[k][0] if k < len(objects) else said
    budget = TRIAL_BUDGET
    for cut in reversed(boundaries(view, low + 32, high, sector)):
        if budget <= 0:
            return
        budget -= high - low
        if _object_holds(view, cut, shift, low, high):
            yield cut, view.start + cut + shift


def _object_holds(view: View, cut: int, shift: int, low: int, high: int) -> bool:
    """Whether the object across the cut, read from both fragments, ends in ``endobj`` and its stream (if
    Flate-encoded) inflates to its end: a wrong cut leaves gap bytes inside it."""
    if high - low > STREAM_LIMIT:
        return True  # too large to check here; the whole file's validation decides
    body = view.read(low, cut - low) + beyond(view, view.start + cut + shift, high - cut)
    if re.search(rb"endobj\s*$", body) is None:
        return False
    m = re.search(rb">>\s*stream\r?\n", body)
    if m is None:
        return b"endstream" not in body  # a stream whose dictionary the gap broke
    if b"/FlateDecode" not in body[:m.start()]:
        return True
    inflater = zlib.decompressobj()
    try:
        inflater.decompress(body[m.end():], STREAM_LIMIT)
    except zlib.error:
        return False
    return inflater.eof
