"""JPEG: the marker chain, each scan's entropy-coded data up to the marker that ends it, then libjpeg-turbo's
decoder run strictly, and bifragment gap carving (Garfinkel, DFRWS 2007).

The strict decode treats libjpeg's "Corrupt JPEG data" warnings as failures: an invalid Huffman code, a
restart marker out of sequence, the scan's last MCU (the count the frame header implies) reached before
the marker that ends the scan ("extraneous bytes") or not reached at it ("premature end"). Pillow decodes
through all of these, so a file with another file's sectors inside its entropy-coded data would pass a
plain decode; zeros and text in particular hold no marker, so the marker chain alone cannot see them.
Decoding at 1/8 scale to grey still Huffman-decodes every MCU but skips most of the pixel work. A block
that cannot be compressed data (printable text; zeros, unless the file's Huffman tables make zero bits
flat blocks) also fails a file, since a decode can absorb one by chance: the MCU count is one number.

Gap carving cuts at a sector boundary before the break (the first invalid marker, or the first 7-bit
block) and resumes at a sector boundary after it from which the data runs to a marker that continues the
chain to EOI; the strict decode of each reassembly decides, a bounded number of times.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice

import simplejpeg

from dftk_plugins.carving.fragments import MAX_GAP, boundaries, first_valid
from dftk_plugins.carving.images import decodes
from dftk_plugins.carving.model import Validator, Verdict, View

STEP = 1 << 20
FIRST_STEP = 64 << 10
BLOCK = 512  # foreign data is judged in blocks on 512-byte boundaries of the byte space (the smallest sector)
MAX_PIXELS = 200_000_000  # progressive files keep every coefficient in memory: refuse bombs above this
_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7]")  # ends entropy-coded data (FF 00 is stuffing, FF D0-D7 RSTn)
_FILL = re.compile(rb"\xff*")
_PRINTABLE = bytes(range(0x20, 0x7F)) + b"\t\n\r"
_STANDALONE = {0x01, *range(0xD0, 0xD8)}
_FRAMES = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
# Markers that may follow a scan: EOI, another scan with its tables, DNL, comments, application data.
_AFTER_SCAN = {0xD9, 0xDA, 0xC4, 0xCC, 0xDB, 0xDC, 0xDD, 0xFE, *range(0xE0, 0xF0)}
_CORRUPT = ("Corrupt JPEG data", "Premature end of JPEG file")
# Gap carving bounds: cut points tried before the break, resume points per plausible end, plausible ends
# looked at, reassemblies decoded, and bytes decoded over all of them.
MAX_CUTS = 3
MAX_RESUMES = 4
MAX_ENDS = 12
MAX_TRIES = 8
MAX_DECODED = 16 << 20
LONG_RUN = 2048  # a clean run this long is compressed data, not random filler (see _ends)


@dataclass(slots=True)
class Chain:
    """What the marker chain of one image showed.

    Attributes:
        end: the position after its EOI, or None when the chain broke.
        good: how far the chain held (-1: this is no JPEG at all).
        mpf: whether an APP2 MPF segment says more images follow the first EOI.
        entropy: ``(start, end)`` of each scan's entropy-coded data.
        zeros_flat: whether zero bits may be compressed data: they decode as each Huffman table's first
            symbol (its code is all zeros), which in a sequential file must be DC difference 0 and EOB
            for a run of zero bytes to be flat blocks (progressive refinement bits may be zero anyway).
    """

    end: int | None = None
    good: int = -1
    mpf: bool = False
    entropy: list[tuple[int, int]] = field(default_factory=list)
    zeros_flat: bool = True


def jpeg(view: View) -> Verdict | None:
    """JPEG: the marker chain up to EOI (and the further images of an MPF file), then a strict decode and no
    block of text, or of zeros where zeros cannot be compressed data, inside the entropy-coded data."""
    chain = parse(view, 0)
    if chain.end is None:
        if chain.good < 0:
            return None
        length = _foreign(view, chain) or chain.good
        return Verdict(length, False, 0.4, length)
    data = view.buffer(0, chain.end)
    sound = _sound(data)
    foreign = _foreign(view, chain, certain=True) if sound is not False else _foreign(view, chain)
    if foreign is None and (sound or (sound is None and decodes(data, "JPEG"))):
        # sound is None: a kind libjpeg-turbo cannot judge (Pillow's lenient decode is the weaker check)
        return Verdict(_more_images(view, chain), True, 0.99 if sound else 0.8)
    return Verdict(foreign or chain.end, False, 0.5, foreign or 0)


def parse(view: View, pos: int, after_scan: bool = False) -> Chain:
    """The marker chain from the SOI at ``pos`` (or, ``after_scan``, from the marker at ``pos`` that ends a
    scan of a frame already seen) up to EOI; each scan's entropy-coded data runs to the next marker."""
    chain = Chain()
    if not after_scan:
        pos += 2
    seen_frame = seen_scan = after_scan
    sequential, first_symbols_zero = False, True
    while True:
        head = view.read(pos, 4)
        if len(head) < 2 or head[0] != 0xFF:
            break
        marker = head[1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker == 0xD9:
            chain.end = (pos + 2) if seen_frame and seen_scan else None
            break
        if marker in _STANDALONE:
            pos += 2
            continue
        if marker < 0xC0 or marker == 0xD8 or len(head) < 4 or (seen_scan and marker not in _AFTER_SCAN):
            break
        length = struct.unpack(">H", head[2:4])[0]
        if length < 2:
            break
        if marker in _FRAMES:
            if seen_frame:
                break  # one frame per image (hierarchical files aside): another file's header
            seen_frame, sequential = True, marker in (0xC0, 0xC1)
        if marker == 0xC4:
            first_symbols_zero = first_symbols_zero and _first_symbols_zero(view.read(pos + 4, length - 2))
        chain.mpf = chain.mpf or (marker == 0xE2 and view.read(pos + 4, 4) == b"MPF\x00")
        pos += 2 + length
        if marker == 0xDA:
            if not seen_frame:
                return Chain(mpf=chain.mpf)
            seen_scan = True
            found = _entropy_end(view, pos)
            chain.entropy.append((pos, view.size if found is None else found))
            if found is None:
                break
            pos = found
    chain.good = pos if seen_scan else -1
    chain.zeros_flat = first_symbols_zero or not sequential
    return chain


def _first_symbols_zero(tables: bytes) -> bool:
    """Whether each Huffman table of a DHT segment has symbol 0 first (DC difference 0, or EOB)."""
    pos = 0
    while pos + 17 <= len(tables):
        count = sum(tables[pos + 1:pos + 17])
        if count and pos + 17 < len(tables) and tables[pos + 17] != 0:
            return False
        pos += 17 + count
    return True


def _entropy_end(view: View, pos: int) -> int | None:
    """The position of the marker that ends the entropy-coded data starting at ``pos``."""
    step = FIRST_STEP  # most scans are short (a progressive file has ten or so): the window grows from small
    while pos < view.size:
        data = view.buffer(pos, step + 1)
        m = _MARKER.search(data)
        if m is not None:
            return pos + m.start()
        if len(data) <= 1:
            return None
        pos += len(data) - 1
        step = min(2 * step, STEP)
    return None


def _sound(data: bytes | memoryview) -> bool | None:
    """Whether libjpeg-turbo decodes the image without a warning (True), finds its entropy-coded data corrupt
    (False), or cannot judge it (None: a sampling or precision it does not decode, a decompression bomb)."""
    try:
        height, width, colorspace, _ = simplejpeg.decode_jpeg_header(data)
        if int(width) * int(height) > MAX_PIXELS:
            return None
        target = "CMYK" if colorspace in ("CMYK", "YCCK") else "GRAY"
        simplejpeg.decode_jpeg(data, colorspace=target, fastdct=True, min_factor=8, strict=True)
    except ValueError as error:
        return False if str(error).startswith(_CORRUPT) else None
    except (RuntimeError, MemoryError, OverflowError, TypeError):
        return None
    return True


def _more_images(view: View, chain: Chain) -> int:
    """The end of an MPF file: its further images follow the first EOI, each a JPEG that must decode."""
    end = chain.end or 0
    while chain.mpf and view.read(end, 3) == b"\xff\xd8\xff":
        chain = parse(view, end)
        if chain.end is None or not _sound(view.read(end, chain.end - end)):
            break
        end = chain.end
    return end


def _foreign(view: View, chain: Chain, certain: bool = False) -> int | None:
    """The first 512-byte block of the entropy-coded data that is filler: all 7-bit (zeros, text) when the
    decode already failed and the break is sought; when the decode passed, only a block that cannot be
    compressed data however the picture looks: printable text, or zeros unless they decode as flat blocks."""
    for start, end in chain.entropy:
        pos: int = start + (-(view.start + start)) % BLOCK
        while pos + BLOCK <= end:
            data = view.read(pos, min(STEP, (end - pos) // BLOCK * BLOCK))  # blocks never straddle windows
            for i in range(0, len(data) - BLOCK + 1, BLOCK):
                block = data[i:i + BLOCK]
                if block.isascii() and (not certain or _filler(block, chain.zeros_flat)):
                    return pos + i
            if len(data) < BLOCK:
                break
            pos += len(data)
    return None


def _filler(block: bytes, zeros_flat: bool) -> bool:
    """Whether a 7-bit block cannot be compressed data: zeros that are no flat blocks, or printable text."""
    if block.count(0) == len(block):
        return not zeros_flat
    return not block.translate(None, _PRINTABLE)


def gaps(validate: Validator, view: View, verdict: Verdict, sector: int) -> Verdict | None:
    """JPEG gap carving: the first fragment is cut at a sector boundary at or before the break in a scan's
    entropy-coded data (the first marker that cannot be one, or the first filler-looking block); the second
    resumes at a sector boundary from which the data runs clean (no invalid marker) to a marker that
    continues the chain to EOI. The strict decode of the reassembly decides: the MCU count must be reached
    exactly at that marker, so a resume too early (filler inside) or too late (data lost) fails."""
    chain = parse(view, 0)
    foreign = _foreign(view, chain)
    if foreign is not None:
        scans = [(next(s for s, e in chain.entropy if s <= foreign < e), foreign)]
    else:  # the last scan, then the first: random filler can hold what parses as a scan
        scans = [scan for scan in dict.fromkeys(chain.entropy[-1:] + chain.entropy[:1]) if scan[0] < scan[1]]
    for start, stop in scans:
        cuts = boundaries(view, start, stop, sector)[::-1][:MAX_CUTS]
        found = first_valid(validate, view, _pairs(view, cuts, stop, sector)) if cuts else None
        if found is not None:
            return found
    return None  # (a file broken before its first scan is not reassembled: header cuts are not sought)


def _pairs(view: View, cuts: list[int], brk: int, sector: int) -> Iterator[tuple[int, int]]:
    """(cut, absolute resume) pairs, most likely first. The break at ``brk`` is foreign, so the gap holds
    it: every resume point is after it. A pair ranks by the sum of the ranks of its end (``_ends``), its
    cut (nearest the break first) and its resume point (``_likely``), so that no one end uses up the
    tries; at most MAX_TRIES pairs, and no more once their reassemblies add up to MAX_DECODED bytes."""
    ends = _ends(_resume_runs(view, max(cuts[-1] + sector, brk + 1), sector))
    ranked = sorted((e + i + j, e, j, cut, resume, end) for e, (end, resumes) in enumerate(ends)
                    for i, cut in enumerate(cuts) for j, resume in enumerate(resumes) if resume >= cut + sector)
    decoded = 0
    for tries, (*_, cut, resume, end) in enumerate(ranked[:MAX_TRIES]):
        decoded += cut + end - resume
        if tries and decoded > MAX_DECODED:
            return
        yield cut, view.start + resume


def _ends(runs: Iterator[tuple[int, int, list[int]]]) -> list[tuple[int, list[int]]]:
    """The plausible ends (where the file ends, its resume points), up to MAX_ENDS of them or the first
    after a long clean run, which comes first: random filler holds an invalid marker every 265 bytes on
    average, so the false ends it holds (an FF D9 in it) follow short runs, while the second fragment's
    data runs clean to the true end."""
    short: list[tuple[int, list[int]]] = []
    for length, end, resumes in islice(runs, MAX_ENDS):
        if length >= LONG_RUN and resumes:
            return [(end, resumes), *short]
        if resumes:
            short.append((end, resumes))
    return short


def _resume_runs(view: View, low: int, sector: int) -> Iterator[tuple[int, int, list[int]]]:
    """For each marker after ``low`` that continues the chain to EOI: the length of the clean run before it,
    where the file then ends, and the resume points (sector boundaries, gap bounded; none when the run holds
    no boundary) from which the data runs to that marker with no other marker in between, most likely first
    (``_likely``)."""
    prev = low - 1
    for mark, at in _markers(view, low):
        if prev >= low + MAX_GAP:
            return
        tail = parse(view, at, after_scan=True) if at is not None else None
        if tail is not None and tail.end is not None:
            points = [p for p in boundaries(view, prev, min(mark, low + MAX_GAP), sector) if p >= low]
            yield mark - max(prev, low), tail.end, _likely(view, points) if points else []
        prev = mark


def _likely(view: View, points: list[int]) -> list[int]:
    """Resume points in order of likelihood: never one at a filler-looking (7-bit) block; first those right
    after such a block (zero or text filler ends there), then the first of the run (random filler's last
    invalid marker is most often in its last sector), then the next ones; MAX_RESUMES of them."""
    after_filler: list[int] = []
    others: list[int] = []
    chunk_at, chunk = -1, b""
    for p in points:
        if not (chunk_at <= p - BLOCK and p + BLOCK <= chunk_at + len(chunk)):
            chunk_at = p - BLOCK
            chunk = view.read(chunk_at, min(STEP, points[-1] + BLOCK - chunk_at))
        i = p - BLOCK - chunk_at
        if chunk[i + BLOCK:i + 2 * BLOCK].isascii():
            continue
        if chunk[i:i + BLOCK].isascii():
            after_filler.append(p)
        elif len(others) < MAX_RESUMES:
            others.append(p)
        if len(after_filler) >= MAX_RESUMES:
            break
    return (after_filler + others)[:MAX_RESUMES]


def _markers(view: View, pos: int) -> Iterator[tuple[int, int | None]]:
    """Positions of the bytes FF xx from ``pos`` on that end entropy-coded data, each with the position of
    the marker proper (after any fill bytes FF) when it may continue the chain after a scan: its code may
    follow a scan and (but for a scan header) its segment ends where another marker starts. Random filler
    holds one every few hundred bytes, so most are ruled out here without a read; a run of FF is one break,
    not one per byte."""
    while pos < view.size:
        data = view.read(pos, STEP + 1)
        skip = 0
        for m in _MARKER.finditer(data):
            i = m.start()
            if i >= STEP:
                break
            if i < skip:
                continue
            fill = _FILL.match(data, i + 1)
            at = (fill.end() if fill else i + 1) - 1  # the last FF: fill bytes may precede a marker
            skip = at + 1  # the same break
            yield pos + i, (pos + at) if _may_end(data, at) else None
        if len(data) <= 1:
            return
        pos += STEP


def _may_end(data: bytes, at: int) -> bool:
    """Whether the marker at ``at`` may follow a scan, as far as ``data`` shows."""
    if at + 1 >= len(data):
        return True
    code = data[at + 1]
    if code in (0xD9, 0xDA):  # EOI; a scan header, whose segment entropy-coded data follows
        return True
    if code not in _AFTER_SCAN:
        return False
    after = at + 2 + int.from_bytes(data[at + 2:at + 4], "big")
    return after >= len(data) or data[after] == 0xFF
