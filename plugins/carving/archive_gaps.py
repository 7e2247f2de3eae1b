"""Bifragment gap carving of ZIP and the formats built on it: the gap is found where the next record actually
sits (a whole number of sectors after where it was expected), the cut from the broken entry's CRC-32."""

from __future__ import annotations

import re
import struct
import zlib
from collections import deque
from collections.abc import Iterator
from typing import Any

from dftk_plugins.carving.archives import _CENTRAL, _LOCAL, _ZIP_END, ENTRY_CHECK_LIMIT, WINDOW, _Entry, _walk
from dftk_plugins.carving.fragments import (
    MAX_GAP,
    MAX_SHIFTS,
    MAX_TRIES,
    beyond,
    beyond_buffer,
    boundaries,
    first_valid,
)
from dftk_plugins.carving.inflate import CHECKPOINT, MAX_CHECKPOINTS, inflate_bounded
from dftk_plugins.carving.model import Validator, Verdict, View

_END_RECORD = re.compile(re.escape(_ZIP_END))
TRIAL_BUDGET = 64 << 20  # bytes re-checked over all cut trials of one entry
_ZIP_RECORD = re.compile(rb"PK(?:\x01\x02|\x03\x04|\x05\x06)")


def zip_gaps(validate: Validator, view: View, verdict: Verdict, sector: int) -> Verdict | None:
    """ZIP gap carving: the record that should follow the broken entry (or central record) is looked for
    a whole number of sectors further on, or the end record after the gap tells the shift; the cut is
    where the broken entry's CRC then holds."""
    entries, expect, bad = _walk(view)
    low = bad.offset if bad is not None else expect
    if bad is None and view.read(expect, 4) == _CENTRAL:
        low, expect = _central_break(view, expect)
    elif bad is None:
        for entry in reversed(entries):  # the cut may lie in entries whose data could not be checked
            if entry.checked:
                break
            low = entry.offset

    ends = bad is None and view.read(expect, 4) == _LOCAL  # a streamed entry broke

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
        if len(rec) < 46 or rec[:4] != _CENTRAL:
            return last, pos
        nlen, xlen, clen = struct.unpack("<HHH", rec[28:34])
        last, pos = pos, pos + 46 + nlen + xlen + clen


def _zip_shifts(view: View, expect: int, sector: int, ends: bool) -> Iterator[int]:
    """Gap sizes (whole sectors, nearest first): a ZIP record a whole number of sectors after where the
    next one was expected; with ``ends``, also an end record whose central directory is that far off (the
    only clue when the broken entry's length is not known: its sizes follow its data)."""
    base, seen = view.start + expect, set()
    for at in range(base, base + MAX_GAP + sector, WINDOW):
        area = beyond_buffer(view, at, WINDOW + 22)
        for shift in _congruent(area, at - base, sector) + (_ends(view, area, at) if ends else []):
            if 0 < shift <= MAX_GAP and shift % sector == 0 and shift not in seen:
                seen.add(shift)
                yield shift
                if len(seen) >= MAX_SHIFTS:
                    return
        if len(area) < WINDOW:
            return


def _congruent(area: bytes | memoryview, offset: int, sector: int) -> list[int]:
    """Offsets (``offset`` + position) of ZIP records at whole sectors into ``area``: only every sector's
    first bytes are looked at (a strided slice), so a long gap costs little."""
    firsts, found = bytes(area[::sector]), []
    k = firsts.find(b"P")
    while k >= 0:
        if _ZIP_RECORD.match(area, k * sector):
            found.append(offset + k * sector)
        k = firsts.find(b"P", k + 1)
    return found


def _ends(view: View, area: bytes | memoryview, at: int) -> list[int]:
    """Shifts told by end records in ``area`` (read at ``at``): where each is, less where its central
    directory offset and size put it."""
    found = []
    for m in _END_RECORD.finditer(area):
        k = m.start()
        if k > len(area) - 22:
            break
        cd_size, cd_offset = struct.unpack_from("<II", area, k + 12)
        found.append(at + k - view.start - cd_offset - cd_size)
    return found


def _checkable(bad: _Entry | None) -> bool:
    return bad is not None and bad.method in (0, 8) and not bad.flags & 9 and bad.csize <= ENTRY_CHECK_LIMIT


def _crc_cuts(view: View, bad: _Entry | None, shift: int, sector: int) -> Iterator[int]:
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


def _checkpoints(first: bytes, bad: _Entry, cuts: list[int]) -> deque[Any]:
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


def _rest_holds(inflater: Any, rest: bytes, head: tuple[int, int], bad: _Entry) -> bool:
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
