"""ZIP and the formats built on it (OOXML, ODF, JAR): the validator walks the local entries and checks every
CRC-32 and the central directory; bifragment gap carving finds the gap where the next record actually sits
(a whole number of sectors after where it was expected) and the cut from the broken entry's CRC-32."""

from __future__ import annotations

import re
import struct
import zlib
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

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

ENTRY_CHECK_LIMIT = 64 << 20  # entries declaring more than this are not inflated (no decompression bombs)
_LOCAL = b"PK\x03\x04"
_CENTRAL = b"PK\x01\x02"
_ZIP_END = b"PK\x05\x06"
_END_RECORD = re.compile(re.escape(_ZIP_END))
_DESCRIPTOR = b"PK\x07\x08"
WINDOW = 1 << 20
FIRST_WINDOW = 64 << 10  # a _Window's first read
NEAR = 1 << 20  # how far past the local entries an end record is looked for (APK signing blocks sit there)
_FIRST_METHODS = (0, 8, 9, 12, 14, 99)
MAX_ENTRIES = 1 << 20


@dataclass(frozen=True, slots=True)
class _Entry:
    """A local entry: header at ``offset``, data from ``data``, next record expected at ``end``."""

    offset: int
    data: int
    end: int
    method: int
    flags: int
    crc: int
    csize: int
    usize: int
    checked: bool  # its CRC was verified (False: encrypted, too large or another method: present only)


class _Window:
    """Reads of a view served from one buffer: a ZIP's records are met in order. Every refill copies its
    bytes, and most archives are small, so the first is small; each refill doubles it, up to WINDOW."""

    def __init__(self, view: View) -> None:
        self.view: View = view
        self.at = 0
        self.buf = b""
        self.span = FIRST_WINDOW

    def get(self, pos: int, n: int) -> bytes:
        if n > WINDOW:
            data: bytes = self.view.read(pos, n)
            return data
        if pos < self.at or pos + n > self.at + len(self.buf):
            self.at, self.buf = pos, self.view.read(pos, max(n, self.span))
            self.span = min(2 * self.span, WINDOW)
        return self.buf[pos - self.at:pos - self.at + n]


def zip_archive(view: View) -> Verdict | None:
    """ZIP: the local entries chained from this start (each one's CRC checked), then the central directory
    whose records point at them and the end-of-central-directory record that points back to it."""
    head = view.read(0, 30)
    if len(head) < 30 or not head.startswith(_LOCAL) or struct.unpack("<H", head[8:10])[0] not in _FIRST_METHODS:
        return None
    entries, stop, bad = _walk(view)
    if bad is None:
        found = _zip_checked(view, stop, entries) or _end_near(view, stop, entries)
        if found is not None:
            return found
    if _continues_an_archive(view):
        return None
    good = bad.offset if bad is not None else stop
    if good == 0 and bad is not None and bad.data > 30 and bad.csize:
        return Verdict(bad.data, False, 0.2, bad.data)  # only the first header stands: what gap carving needs
    return Verdict(good, False, 0.3, good) if good > 30 else None


def _walk(view: View) -> tuple[list[_Entry], int, _Entry | None]:
    """The local entries chained from the start whose data checks; where the next record was expected;
    the entry whose data failed its CRC, if that is what broke the chain."""
    win, entries, pos = _Window(view), list[_Entry](), 0
    while len(entries) < MAX_ENTRIES:
        head = win.get(pos, 30)
        if len(head) < 30 or head[:4] != _LOCAL:
            break
        flags, method, _, _, crc, csize, usize, nlen, xlen = struct.unpack("<HHHHIIIHH", head[6:30])
        if 0xFFFFFFFF in (csize, usize):
            csize, usize = _zip64_sizes(win.get(pos + 30 + nlen, xlen), csize, usize)
        data = pos + 30 + nlen + xlen
        if flags & 8:
            entry = _streamed(view, pos, data, method, flags)
            if entry is None:
                break
        else:
            checked = _crc_holds(view, win, data, method, flags, crc, csize, usize)
            entry = _Entry(pos, data, data + csize, method, flags, crc, csize, usize, checked is True)
            if checked is False or entry.end > view.size:
                return entries, entry.end, entry
        entries.append(entry)
        pos = entry.end
    return entries, pos, None


def _zip64_sizes(extra: bytes, csize: int, usize: int) -> tuple[int, int]:
    """The 64-bit sizes of a ZIP64 extra field (APPNOTE 4.5.3: uncompressed first, each only if masked)."""
    pos = 0
    while pos + 4 <= len(extra):
        tag, size = struct.unpack("<HH", extra[pos:pos + 4])
        if tag == 1:
            field = extra[pos + 4:pos + 4 + size]
            if usize == 0xFFFFFFFF:
                usize, field = struct.unpack("<Q", field[:8])[0], field[8:]
            if csize == 0xFFFFFFFF:
                csize = struct.unpack("<Q", field[:8])[0]
            break
        pos += 4 + size
    return csize, usize


def _crc_holds(view: View, win: _Window, data: int, method: int, flags: int, crc: int, csize: int,
               usize: int) -> bool | None:
    """Whether an entry's data inflates to its size and CRC; None when it cannot be checked here."""
    if flags & 1 or method not in (0, 8) or csize > ENTRY_CHECK_LIMIT or usize > ENTRY_CHECK_LIMIT:
        return None
    if csize <= WINDOW:
        pieces: list[bytes] | Iterator[bytes] = [win.get(data, csize)]
    else:
        pieces = (view.read(at, min(WINDOW, data + csize - at)) for at in range(data, data + csize, WINDOW))
    got = _inflated(pieces, method, usize)
    return got is not None and got == (crc, usize, csize)


def _inflated(pieces: Iterable[bytes], method: int, usize: int) -> tuple[int, int, int] | None:
    """(CRC-32, size, bytes consumed) of stored or deflated data given in pieces; None if it is broken or
    comes to more than ``usize`` bytes. Deflated data ends where its stream ends."""
    inflater = zlib.decompressobj(-15) if method == 8 else None
    crc = size = fed = 0
    for piece in pieces:  # a short read (the view's end) shows as data missing: fewer bytes consumed
        fed += len(piece)
        try:
            out = piece if inflater is None else inflate_bounded(inflater, piece, usize - size)
        except zlib.error:
            return None  # a broken stream: this entry fails, the archive may still be carved in part
        if out is None or size + len(out) > usize:
            return None
        crc, size = zlib.crc32(out, crc), size + len(out)
        if inflater is not None and inflater.eof:
            break
    if inflater is None:
        return crc, size, fed
    return (crc, size, fed - len(inflater.unused_data)) if inflater.eof else None


def _streamed(view: View, pos: int, data: int, method: int, flags: int) -> _Entry | None:
    """An entry whose sizes follow its data (general purpose flag bit 3): its deflate stream is inflated to
    find where it ends, then the data descriptor there must agree (APPNOTE 4.3.9)."""
    if method != 8 or flags & 1:
        return None  # a stored or encrypted stream has no end of its own to find
    pieces = (view.read(at, WINDOW) for at in range(data, data + ENTRY_CHECK_LIMIT, WINDOW))
    got = _inflated(pieces, method, ENTRY_CHECK_LIMIT)
    if got is None:
        return None
    crc, usize, csize = got
    tail = view.read(data + csize, 24)
    sig = 4 if tail[:4] == _DESCRIPTOR else 0
    for width, fmt in ((12, "<III"), (20, "<IQQ")):
        fields = struct.unpack(fmt, tail[sig:sig + width]) if len(tail) >= sig + width else ()
        if fields == (crc, csize, usize):
            return _Entry(pos, data, data + csize + sig + width, method, flags, crc, csize, usize, True)
    return None


def _zip_checked(view: View, cd_offset: int, entries: list[_Entry]) -> Verdict | None:
    """The central directory at ``cd_offset`` and the end record after it: every record's local header
    among the entries walked (or found and checked where it points), with the same CRC."""
    win = _Window(view)
    walked = {e.offset: e for e in entries}
    pos, count, sound = cd_offset, 0, True
    while True:
        rec = win.get(pos, 46)
        if len(rec) < 46 or rec[:4] != _CENTRAL:
            break
        flags, method, _, _, crc, csize, usize, nlen, xlen, clen = struct.unpack("<HHHHIIIHHH", rec[8:34])
        local = struct.unpack("<I", rec[42:46])[0]
        if 0xFFFFFFFF in (csize, usize, local):
            local = _zip64_local(win.get(pos + 46 + nlen, xlen), csize, usize, local)
        entry = walked.get(local) or _entry_at(view, local)
        if entry is None or entry.checked and entry.crc != crc:
            return None
        sound = sound and entry.checked
        pos, count = pos + 46 + nlen + xlen + clen, count + 1
    if count == 0:
        return None
    end = _end_record(view, cd_offset, pos, count)
    if end is None:
        return None
    return Verdict(end, True, 0.99 if sound else 0.8)


def _zip64_local(extra: bytes, csize: int, usize: int, local: int) -> int:
    """The local header offset of a central record whose 32-bit one is masked (ZIP64 extra field)."""
    pos = 0
    while pos + 4 <= len(extra):
        tag, size = struct.unpack("<HH", extra[pos:pos + 4])
        if tag == 1:
            skip = 8 * ((usize == 0xFFFFFFFF) + (csize == 0xFFFFFFFF))
            if local == 0xFFFFFFFF:
                local = struct.unpack("<Q", extra[pos + 4 + skip:pos + 12 + skip])[0]
            break
        pos += 4 + size
    return local


def _entry_at(view: View, local: int) -> _Entry | None:
    """The entry whose local header a central record points at when it was not on the chain walked."""
    head = view.read(local, 30)
    if len(head) < 30 or head[:4] != _LOCAL:
        return None
    flags, method, _, _, crc, csize, usize, nlen, xlen = struct.unpack("<HHHHIIIHH", head[6:30])
    data = local + 30 + nlen + xlen
    if flags & 8:
        return _streamed(view, local, data, method, flags)
    checked = _crc_holds(view, _Window(view), data, method, flags, crc, csize, usize)
    if checked is False:
        return None
    return _Entry(local, data, data + csize, method, flags, crc, csize, usize, checked is True)


def _end_record(view: View, cd_offset: int, cd_end: int, count: int) -> int | None:
    """The end of the end-of-central-directory record (and its comment) that closes this central
    directory; a digital signature or ZIP64 end records may stand between."""
    area: bytes = view.read(cd_end, 1 << 16)
    at = area.find(_ZIP_END)
    while 0 <= at <= len(area) - 22:
        total, cd_size, offset, comment = struct.unpack("<HIIH", area[at + 10:at + 22])
        if total in (count & 0xFFFF, 0xFFFF) and (offset, cd_size) in ((cd_offset, cd_end - cd_offset),
                                                                        (0xFFFFFFFF, 0xFFFFFFFF)):
            return cd_end + at + 22 + int(comment)
        at = area.find(_ZIP_END, at + 1)
    return None


def _end_near(view: View, stop: int, entries: list[_Entry]) -> Verdict | None:
    """When the entries are followed by something else (an APK signing block, an unchained entry): an end
    record shortly after that points back to this start, and its central directory checked."""
    area = view.read(stop, NEAR)
    at = area.find(_ZIP_END)
    while 0 <= at <= len(area) - 22:
        cd_size, cd_offset = struct.unpack("<II", area[at + 12:at + 20])
        if cd_offset + cd_size == stop + at:
            return _zip_checked(view, cd_offset, entries)
        at = area.find(_ZIP_END, at + 1)
    return None


def _continues_an_archive(view: View) -> bool:
    """Whether the local entry just before this header chains to it: then this is an inner entry of an
    archive that starts earlier (and is carved from there), not an archive of its own."""
    back = min(view.start, WINDOW // 4)  # an entry longer than this ahead goes unseen: this one then stands
    area = view.reader.read(view.start - back, back)
    at = area.rfind(_LOCAL)
    while at >= 0:
        head = area[at:at + 30]
        if len(head) == 30:
            flags, _, _, _, _, csize, _, nlen, xlen = struct.unpack("<HHHHIIIHH", head[6:30])
            if not flags & 8 and at + 30 + nlen + xlen + csize == back:
                return True
        at = area.rfind(_LOCAL, 0, at)
    return False


def zip_kind(view: View, length: int) -> str:
    """The format a ZIP is: docx, xlsx, pptx, odt, ods, odp, jar, or zip."""
    head = view.read(0, min(length, 1 << 16))
    if b"[Content_Types].xml" in head or b"word/" in head or b"xl/" in head or b"ppt/" in head:
        for marker, kind in ((b"word/", "docx"), (b"xl/", "xlsx"), (b"ppt/", "pptx")):
            if marker in view.read(max(0, length - (1 << 16)), 1 << 16) or marker in head:
                return kind
    m = re.search(rb"mimetypeapplication/vnd\.oasis\.opendocument\.(text|spreadsheet|presentation)", head)
    if m:
        return {b"text": "odt", b"spreadsheet": "ods", b"presentation": "odp"}[m.group(1)]
    return "jar" if b"META-INF/MANIFEST.MF" in head else "zip"


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
