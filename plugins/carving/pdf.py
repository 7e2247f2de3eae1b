"""PDF: the validator passes every %%EOF followed by an incremental update and checks that the last
startxref points at the cross-reference section; bifragment gap carving takes the gap from where the
cross-reference table or stream says objects are and where they are found, and the cut from the object
across it (a Flate stream must inflate to its end)."""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from dftk_plugins.carving.fragments import MAX_GAP, beyond, boundaries, first_valid
from dftk_plugins.carving.inflate import CHECKPOINT, MAX_CHECKPOINTS, inflate_bounded
from dftk_plugins.carving.model import Validator, Verdict, View

STEP = 1 << 20
_EOF = re.compile(rb"%%EOF")
_STARTXREF = re.compile(rb"startxref\s+(\d+)\s*$")
_UPDATE = re.compile(rb"\s*(?:\d+\s+\d+\s+obj|xref|%[^%P])")


def pdf(view: View) -> Verdict | None:
    """PDF: through the last ``%%EOF`` of its incremental updates, the final ``startxref`` checked."""
    if not re.match(rb"%PDF-\d\.\d", view.read(0, 8)):
        return None
    pos, end = 0, 0
    while pos < view.size:
        data = view.buffer(pos, STEP + 5)
        m = _EOF.search(data)
        if m is None:
            if len(data) <= 5:
                break
            pos += len(data) - 5
            continue
        end = pos + m.end()
        if not _closes_a_section(view, end):
            pos = end  # an "%%EOF" inside a stream (fonts and CMaps carry them) or a linearized file's first one
            continue
        after = view.read(end, 4096)
        following = end + len(after) - len(after.lstrip(b" \t\r\n\0"))
        if not _UPDATE.match(view.read(following, 64)):
            after = view.read(end, 64)
            return _pdf_checked(view, end + len(after) - len(after.lstrip(b"\r\n")))
        pos = end
    return Verdict(end, False, 0.3, end) if end else Verdict(view.size, False, 0.2, 0)


def _closes_a_section(view: View, eof_end: int) -> bool:
    """Whether the "%%EOF" ending at ``eof_end`` follows a real ``startxref N`` (N inside the file)."""
    tail = view.read(max(0, eof_end - 1024), min(eof_end, 1024))[:-5].rstrip(b"\r\n")
    m = _STARTXREF.search(tail)
    return m is not None and 0 < int(m.group(1)) < eof_end


def _pdf_checked(view: View, end: int) -> Verdict:
    tail = view.read(max(0, end - 1024), min(end, 1024)).rstrip(b"\r\n")[:-5]
    m = _STARTXREF.search(tail)
    if m is None or int(m.group(1)) >= end:
        return Verdict(end, False, 0.5, end)
    target = view.read(int(m.group(1)), 32)
    if target.startswith(b"xref") or re.match(rb"\d+\s+\d+\s+obj", target):
        return Verdict(end, True, 0.95)
    return Verdict(end, False, 0.5, end)


PDF_TAIL = 4 << 20  # how far before the end the cross-reference section is looked for
STREAM_LIMIT = 64 << 20  # a stream inflated to check a cut inflates to no more than this
OBJECT_LIMIT = 16 << 20  # an object across the cut larger than this is not checked here (memory)
PIECE = 1 << 14  # a wrong cut's second part fails to inflate within its first piece
PDF_BUDGET = 8 << 20  # bytes inflated or compared over all cut trials of one object (about 0.1 s)
_XREF_TABLE = re.compile(rb"(?<![A-Za-z])xref\s*\r?\n")
_XREF_SECTION = re.compile(rb"(?<![A-Za-z])xref\s*\r?\n|(?<![0-9])\d+\s+\d+\s+obj\b")
_XREF_ENTRY = re.compile(rb"(\d{10}) (\d{5}) ([nf])")
_SUBSECTION = re.compile(rb"\s*(\d+) (\d+)\s*\r?\n")
_STARTXREF_EOF = re.compile(rb"startxref\s+(\d+)\s*%%EOF")
_STREAM = re.compile(rb">>\s*stream\r?\n")
_LENGTH = re.compile(rb"/Length\s+(\d+)(?!\d|\s+\d+\s+R)")  # a direct length, not a reference
_WIDTHS = re.compile(rb"/W\s*\[\s*(\d)\s+(\d)\s+(\d)\s*\]")
_INDEX = re.compile(rb"/Index\s*\[([\d\s]*)\]")


def pdf_gaps(validate: Validator, view: View, verdict: Verdict, sector: int) -> Verdict | None:
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
    found = list(_STARTXREF_EOF.finditer(tail))
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
    first = _compressed_edges(body, fed, sector)
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


def _compressed_edges(body: bytes, cuts: list[int], sector: int) -> list[int]:
    """Of ``cuts``, those after a sector of ``body`` that looks compressed and before one that does not.
    Consecutive sector boundaries with whole sectors around them (all but those at the ends of ``body``)
    are told from one count of high bytes per sector (numpy), not two ``_looks_compressed`` calls each."""
    inner = [cut for cut in cuts if sector <= cut <= len(body) - sector]
    known: set[int] = set()
    if inner and all(b - a == sector for a, b in zip(inner, inner[1:], strict=False)):  # one sector apart
        span = np.frombuffer(body, dtype=np.uint8, count=sector * (len(inner) + 1), offset=inner[0] - sector)
        looks = (np.count_nonzero((span >= 0x80).reshape(-1, sector), axis=1) >= sector // 4).tolist()
        known = {cut for cut, before, after in zip(inner, looks, looks[1:], strict=False) if before and not after}
    else:
        inner = []

    def edge(cut: int) -> bool:
        if inner and sector <= cut <= len(body) - sector:
            return cut in known
        return _looks_compressed(body[cut - sector:cut]) and not _looks_compressed(body[cut:cut + sector])

    return [cut for cut in cuts if edge(cut)]


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
