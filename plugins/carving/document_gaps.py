"""Bifragment gap carving of ZIP, PDF and OLE2, whose own offset tables say where the second fragment must be.

A ZIP's records chain by their lengths and its central directory (after the gap) names every local header's
offset; a PDF's cross-reference table names every object's offset. Where the next record or object is
actually found, at a sector boundary's distance from where it was expected, gives the gap; where the cut
lies follows from the record whose data the gap broke (a ZIP entry's CRC-32, a PDF stream's Adler-32, an
OLE2 file's PowerPoint records). A reassembly is accepted only when the whole file then validates, and
(PDF, OLE2) only when no other cut would: where the bytes around the cut are not checked, it stays partial.
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
from dftk_plugins.carving.model import Spliced, Validator, Verdict, View

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


PDF_TAIL = 4 << 20  # how far before the end the cross-reference section is looked for
STREAM_LIMIT = 64 << 20  # a stream inflated to check a cut inflates to no more than this
OBJECT_LIMIT = 16 << 20  # an object across the cut larger than this is not checked here (memory)
PIECE = 1 << 14  # a wrong cut's second part fails to inflate within its first piece
PDF_BUDGET = 8 << 20  # bytes inflated or compared over all cut trials of one object (about 0.1 s)
_XREF_TABLE = re.compile(rb"(?<![A-Za-z])xref\s*\r?\n")
_XREF_SECTION = re.compile(rb"(?<![A-Za-z])xref\s*\r?\n|(?<![0-9])\d+\s+\d+\s+obj\b")
_XREF_ENTRY = re.compile(rb"(\d{10}) (\d{5}) ([nf])")
_SUBSECTION = re.compile(rb"\s*(\d+) (\d+)\s*\r?\n")
_STARTXREF = re.compile(rb"startxref\s+(\d+)\s*%%EOF")
_STREAM = re.compile(rb">>\s*stream\r?\n")
_LENGTH = re.compile(rb"/Length\s+(\d+)(?!\d|\s+\d+\s+R)")  # a direct length, not a reference
_WIDTHS = re.compile(rb"/W\s*\[\s*(\d)\s+(\d)\s+(\d)\s*\]")
_INDEX = re.compile(rb"/Index\s*\[([\d\s]*)\]")


def pdf(validate: Validator, view: View, verdict: Verdict, sector: int) -> Verdict | None:
    """PDF gap carving: the last cross-reference section (a table, or an object of /Type /XRef) is found a
    whole number of sectors after where ``startxref`` says it is: that is the gap. Every object it lists
    must then be at its offset, before the cut in place and after it shifted by the gap; the cut lies
    between the last object found in place and the first found shifted, where the object across it (its
    stream inflating, its ``endobj`` in place) holds."""
    end = verdict.length
    if verdict.good <= 0:
        return None  # no closing "startxref" was found: nothing tells where the section should be
    tail = view.read(max(0, end - PDF_TAIL), min(end, PDF_TAIL))
    base = end - len(tail)
    found = list(_STARTXREF.finditer(tail))
    if not found:
        return None
    said = int(found[-1].group(1))
    section = _xref_section(tail[:found[-1].start()], base, said, sector)
    if section is None:
        return None
    shift, objects = section
    return first_valid(validate, view, _pdf_pairs(view, objects, shift, said, sector))


def _xref_section(tail: bytes, base: int, said: int, sector: int) -> tuple[int, list[tuple[int, int, int]]] | None:
    """The gap and the in-use entries of the last cross-reference section that sits a whole number of
    sectors after ``said`` (``tail`` is read at ``base``)."""
    last = min(base + len(tail) - 1, said + MAX_GAP)
    for at in range(last - (last - said) % sector, max(base, said), -sector):  # nearest the end first
        m = _XREF_SECTION.match(tail, at - base)
        if m is None:
            continue
        shift, data = at - said, tail[at - base:]
        objects = _xref_entries(data) if data.startswith(b"xref") else _xref_stream_entries(data)
        return (shift, objects) if objects else None
    return None


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


def _xref_stream_entries(data: bytes) -> list[tuple[int, int, int]]:
    """The in-use entries (type 1: an offset in the file) of a cross-reference stream (PDF 1.5, ISO
    32000-1 7.5.8): rows of fields as wide as /W says, for the object numbers /Index lists; empty if the
    object is not one or does not decode."""
    m = _STREAM.search(data, 0, 4096)
    if m is None:
        return []
    head = data[:m.start()]
    widths, length = _WIDTHS.search(head), _LENGTH.search(head)
    size, index = re.search(rb"/Size\s+(\d+)", head), _INDEX.search(head)
    if not re.search(rb"/Type\s*/XRef\b", head) or widths is None or length is None or size is None:
        return []
    rows = _decoded(head, data[m.end():m.end() + int(length.group(1))])
    w_type, w_offset, w_generation = (int(w) for w in widths.groups())
    step = w_type + w_offset + w_generation
    if rows is None or step == 0:
        return []
    bounds = [int(n) for n in index.group(1).split()] if index else [0, int(size.group(1))]
    numbers = (n for first, count in zip(bounds[::2], bounds[1::2], strict=False) for n in range(first, first + count))
    found = []
    for number, at in zip(numbers, range(0, len(rows) - step + 1, step), strict=False):
        kind = int.from_bytes(rows[at:at + w_type], "big") if w_type else 1  # type 1 when the field is absent
        if kind == 1:
            offset = int.from_bytes(rows[at + w_type:at + w_type + w_offset], "big")
            found.append((offset, number, int.from_bytes(rows[at + w_type + w_offset:at + step], "big")))
    return sorted(found)


def _decoded(head: bytes, raw: bytes) -> bytes | None:
    """A cross-reference stream's rows: inflated if Flate-encoded, PNG predictors None and Up undone (the
    ones writers use); None for other filters or predictors."""
    if b"/FlateDecode" in head:
        rows = zlib.decompressobj().decompress(raw, STREAM_LIMIT)
    elif b"/Filter" in head:
        return None
    else:
        rows = raw
    predictor, columns = re.search(rb"/Predictor\s+(\d+)", head), re.search(rb"/Columns\s+(\d+)", head)
    if predictor is None or int(predictor.group(1)) == 1:
        return rows
    if int(predictor.group(1)) < 10 or columns is None or int(columns.group(1)) == 0:
        return None
    width = int(columns.group(1))
    out, prev = bytearray(), bytes(width)
    for at in range(0, len(rows) - width, width + 1):
        row = rows[at + 1:at + 1 + width]
        if rows[at] == 2:
            row = bytes((a + b) & 0xFF for a, b in zip(row, prev, strict=False))
        elif rows[at] != 0:
            return None
        out += row
        prev = row
    return bytes(out)


def _object_at(read: Any, at: int, number: int, generation: int) -> bool:
    head: bytes = read(at, 32)
    return re.match(rb"%d\s+%d\s+obj" % (number, generation), head) is not None


def _pdf_pairs(view: View, objects: list[tuple[int, int, int]], shift: int, said: int,
               sector: int) -> Iterator[tuple[int, int]]:
    """Cuts between the last object found in place and the first found shifted, where every object the
    section lists is then found and the object across the cut holds."""
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
    cuts = boundaries(view, low + 32, high, sector)
    if high - low > OBJECT_LIMIT:
        for cut in reversed(cuts):  # too large to check here; the whole file's validation decides
            yield cut, view.start + cut + shift
        return
    body = view.read(low, high - low)
    second = shifted(low, high - low)
    for cut in _object_cuts(body, second, low, cuts, sector):
        yield cut, view.start + cut + shift


def _object_cuts(body: bytes, second: bytes, low: int, cuts: list[int], sector: int) -> Iterator[int]:
    """Of ``cuts`` (positions in the file, inside the object read in place as ``body`` and shifted as
    ``second``, both from ``low``), those where the object holds: for a Flate stream, those where its
    data in place then shifted inflates to its end (see ``_stream_cuts``), then the others."""
    m = _STREAM.search(body)
    offsets = [cut - low for cut in cuts]
    if m is None or b"/FlateDecode" not in body[:m.start()]:
        yield from (low + cut for cut in _only_holding(body, second, list(reversed(offsets))))
        return
    inside = [cut for cut in offsets if cut > m.end()]
    resumed, rest = _stream_cuts(body, second, m.end(), inside, sector)
    yield from (low + cut for cut in resumed if _object_holds(body, second, cut))
    others = rest + [cut for cut in reversed(offsets) if cut <= m.end()]
    yield from (low + cut for cut in _only_holding(body, second, others))


def _only_holding(body: bytes, second: bytes, cuts: list[int]) -> list[int]:
    """The cut at which the object holds, if only one does: where its bytes are not checked (a stream
    neither Flate-encoded nor ended in place), several do and which is the file's cannot be told."""
    holding: list[int] = []
    budget = PDF_BUDGET
    for cut in cuts:
        if budget <= 0:
            return []
        budget -= len(body)
        if _object_holds(body, second, cut):
            holding.append(cut)
            if len(holding) > 1:
                return []
    return holding


def _stream_cuts(body: bytes, second: bytes, data: int, inside: list[int],
                 sector: int) -> tuple[Iterator[int], list[int]]:
    """Cuts inside a Flate stream starting at ``data`` where it resumes, and the cuts past where it ended
    in place. The stream in place is inflated once, its state kept at checkpoints: the cut is no later
    than where that inflation broke (data before the cut is the file's own). Text or zeros after the cut
    may inflate on for long, so the cuts where the bytes stop looking compressed are tried first, then
    the others from the break backwards (random bytes break a stream soon)."""
    inflater = zlib.decompressobj()
    marks: list[tuple[int, Any]] = []
    fed: list[int] = []
    prev = data
    for cut in inside:
        out = _inflated(inflater, body[prev:cut])
        if out is None or inflater.eof:
            break
        if len(fed) % CHECKPOINT == 0:
            marks = marks[-MAX_CHECKPOINTS:] + [(cut, inflater.copy())]
        fed.append(cut)
        prev = cut
    rest = list(reversed(inside[len(fed):])) if inflater.eof else []  # the stream ended before them
    first = [cut for cut in fed if _looks_compressed(body[cut - sector:cut])
             and not _looks_compressed(body[cut:cut + sector])]
    chosen = set(first)
    order = first + [cut for cut in reversed(fed) if cut not in chosen]

    def resumed() -> Iterator[int]:
        budget = PDF_BUDGET
        for cut in order:
            mark = [(at, state) for at, state in marks if at <= cut][-1:]
            if not mark or budget <= 0:
                continue
            trial = mark[0][1].copy()
            if _inflated(trial, body[mark[0][0]:cut]) is not None:
                ok, used = _resumes(trial, second, cut, budget)
                budget -= used
                if ok:
                    yield cut

    return resumed(), rest


_HIGH = bytes(range(128, 256))


def _looks_compressed(data: bytes) -> bool:
    """Whether a sector looks like compressed data: about half its bytes have the high bit set (text
    has none, zeros none)."""
    return len(data) - len(data.translate(None, _HIGH)) >= len(data) // 4


def _inflated(inflater: Any, piece: bytes) -> bytes | None:
    try:
        out: bytes | None = inflate_bounded(inflater, piece, STREAM_LIMIT)
        return out
    except zlib.error:
        return None


def _resumes(inflater: Any, second: bytes, cut: int, budget: int) -> tuple[bool, int]:
    """Whether the stream, inflated up to ``cut``, inflates to its end on the shifted data from there
    (fed no more than ``budget`` bytes), and how many bytes were fed."""
    for at in range(cut, min(len(second), cut + budget), PIECE):
        if _inflated(inflater, second[at:at + PIECE]) is None:
            return False, at + PIECE - cut
        if inflater.eof:
            return True, at + PIECE - cut
    return False, len(second) - cut


def _object_holds(body: bytes, second: bytes, cut: int) -> bool:
    """Whether the object across the cut, read from both fragments, ends in ``endobj`` with its stream's
    ``endstream`` where its /Length puts it, and its stream (if Flate-encoded) inflates to its end: a wrong
    cut leaves gap bytes inside it."""
    whole = body[:cut] + second[cut:]
    if re.search(rb"endobj\s*$", whole) is None:
        return False
    m = _STREAM.search(whole)
    if m is None:
        return b"endstream" not in whole  # a stream whose dictionary the gap broke
    length = _LENGTH.search(whole, 0, m.start())
    if length is not None and not re.match(rb"\s*endstream", whole[m.end() + int(length.group(1)):]):
        return False
    if b"/FlateDecode" not in whole[:m.start()]:
        return True
    inflater = zlib.decompressobj()
    try:
        inflater.decompress(whole[m.end():], STREAM_LIMIT)
    except zlib.error:
        return False
    return inflater.eof


OLE2_GAP = 1 << 20  # how far past a misplaced sector its shifted copy is looked for
_FAT_MARKERS = (documents._FREE, documents._END, documents._FATSECT, documents._DIFSECT)


def ole2(validate: Validator, view: View, verdict: Verdict, sector: int) -> Verdict | None:
    """OLE2 gap carving ([MS-CFB]): the file is its header and a run of sectors, so the cut is a sector
    boundary and the gap a whole number of sectors. The sectors the header locates (the FAT sectors, the
    first directory and mini FAT sectors) that do not hold what they should in place are looked for
    shifted: the shift at which all are found is the gap. The cut is then searched between the header
    and the first of them: a failed reassembly's first bad sector lies in the gap bytes, so it tells on
    which side of that sector the cut is. A cut is accepted only when it alone validates: where the
    sectors around it are not checked (opaque stream data), several would, and the file stays partial."""
    head = view.read(0, 512)
    unit = 1 << struct.unpack("<H", head[30:32])[0]
    if unit != sector or view.start % sector:
        return None  # the file's sectors do not line up with the medium's
    misplaced = [(pos, test) for pos, test in _located(view, head) if not test(view.read(pos, sector))]
    if not misplaced:
        return None
    high = min(pos for pos, _ in misplaced)
    for gap in _ole2_gaps(view, misplaced, sector):
        found = _ole2_cut(validate, view, gap, high, sector)
        if found is not False:
            return found if isinstance(found, Verdict) else None  # an ambiguous cut stays partial
    return None


def _located(view: View, head: bytes) -> list[tuple[int, Any]]:
    """(position, test) of the sectors the header locates: the FAT sectors listed in the header (each
    holding FAT entries, with the entries of the FAT sectors it covers marked as such), the first
    directory sector (the root entry) and the first mini FAT sector."""
    unit = 1 << struct.unpack("<H", head[30:32])[0]
    per = unit // 4
    fat_count, first_dir = struct.unpack("<II", head[44:52])
    minifat_first = struct.unpack("<I", head[60:64])[0]
    fat = [s for s in struct.unpack("<109I", head[76:512]) if s < documents._SPECIAL][:fat_count]
    limit = fat_count * per
    located = []
    for number, index in enumerate(fat):
        marked = [s % per for s in fat if s // per == number]
        located.append((unit + index * unit, _fat_test(limit, per, marked)))
    if first_dir < limit:
        located.append((unit + first_dir * unit, _root_test))
    if minifat_first < limit:
        located.append((unit + minifat_first * unit, _fat_test(limit * per, per, [])))
    return located


def _fat_test(limit: int, per: int, marked: list[int]) -> Any:
    def test(data: bytes) -> bool:
        if len(data) < per * 4:
            return False
        words = struct.unpack(f"<{per}I", data[:per * 4])
        return (all(w < limit or w >= documents._DIFSECT for w in words) and any(w in _FAT_MARKERS for w in words)
                and all(words[m] == documents._FATSECT for m in marked))
    return test


def _root_test(data: bytes) -> bool:
    return data.startswith(documents._ROOT) and data[66:67] == b"\x05"


def _ole2_gaps(view: View, misplaced: list[tuple[int, Any]], sector: int) -> Iterator[int]:
    """Gaps (whole sectors, smallest first, at most MAX_SHIFTS) at which every misplaced sector is found."""
    pos, test = misplaced[0]
    region = beyond(view, view.start + pos + sector, OLE2_GAP)
    found = 0
    for gap in range(sector, len(region) + 1, sector):
        if test(region[gap - sector:gap]) and all(other(beyond(view, view.start + p + gap, sector))
                                                  for p, other in misplaced[1:]):
            yield gap
            found += 1
            if found >= MAX_SHIFTS:
                return


def _ole2_cut(validate: Validator, view: View, gap: int, high: int, sector: int) -> Verdict | bool:
    """The reassembly for ``gap`` with its cut searched from ``high`` (a sector that must come after it)
    down to the header; False when no cut validates, True when more than one does (ambiguous). A failed
    reassembly's first bad sector, when before the cut, is in place gap bytes: the cut is at or before
    it. When after (gap bytes taken shifted, or a check that notices them late, such as inflation), the
    cut is tried one sector lower."""
    cut = high
    for _ in range(MAX_TRIES // 2):
        if cut < sector:
            return False
        whole = _spliced_verdict(validate, view, cut, gap)
        if whole is not None and whole.full:
            if any(_spliced_full(validate, view, other, gap) for other in (cut - sector, cut + sector)
                   if sector <= other <= high):
                return True
            return Verdict(whole.length, True, whole.confidence * 0.95,
                           fragments=((view.start, cut), (view.start + cut + gap, whole.length - cut)))
        bad = whole.good if whole is not None else 0
        cut = bad if 0 < bad < cut and bad % sector == 0 else cut - sector
    return False


def _spliced_verdict(validate: Validator, view: View, cut: int, gap: int) -> Verdict | None:
    return validate(View(Spliced(view, cut, view.start + cut + gap, view.size), 0, view.size))


def _spliced_full(validate: Validator, view: View, cut: int, gap: int) -> bool:
    whole = _spliced_verdict(validate, view, cut, gap)
    return whole is not None and whole.full
