"""ISO base media files (ISO/IEC 14496-12): MP4, M4A, MOV (QuickTime), HEIC/HEIF, AVIF, 3GP.

The file is a chain of top-level boxes from ``ftyp``; it ends after the last one (a box of a type that is
not a top-level box, or none, follows). The chain alone says nothing about the media data, so a ``full``
verdict also needs the index that points into it: ``moov`` (movies: every track's chunk offsets in
``stco``/``co64`` inside the file, its ``stsz`` sample sizes adding up to no more than the file and
counting as many samples as ``stts``) or ``meta`` (HEIF images: every ``iloc`` item extent inside the
file, and each HEVC item a chain of length-prefixed NAL units filling its extent exactly).
Audio samples carry no checksum: a movie whose ``moov`` comes first, cut inside ``mdat`` and followed by
other data, can look whole; so can one cut inside the text of its trailing metadata.

Gap carving (``gaps``) resumes at the next top-level box header and accepts a split only when a single
sector-aligned cut validates; a split inside media data validates at many cuts and is left partial.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field

from dftk_plugins.carving.fragments import MAX_GAP, MAX_TRIES, boundaries
from dftk_plugins.carving.model import Spliced, Validator, Verdict, View

MiB = 1 << 20
TOP_LEVEL = frozenset({b"moov", b"mdat", b"free", b"skip", b"wide", b"meta", b"uuid", b"pdin", b"moof", b"mfra",
                       b"sidx", b"ssix", b"styp", b"emsg", b"prft", b"meco", b"imda", b"pnot"})
MAX_BOXES = 1 << 16  # fragmented movies have a moof + mdat pair per fragment; more than this is no file
MAX_INDEX = 32 * MiB  # a moov or meta larger than this is not read (hours of video have a few MiB)
MAX_ITEMS = 4096  # HEIF items whose NAL units are walked
_TOP_LEVEL_NAMES = re.compile(b"|".join(re.escape(t) for t in sorted(TOP_LEVEL)))
_MOVIE_PATH = frozenset({b"trak", b"mdia", b"minf", b"stbl"})
# JPEG 2000 files use ftyp too, but always after their own signature box: an ftyp of theirs is no start.
_NOT_A_START = frozenset({b"jp2 ", b"jpx ", b"jpm ", b"mjp2", b"mj2s"})
_BRAND_KINDS = {b"M4A ": "m4a", b"M4B ": "m4a", b"M4P ": "m4a", b"qt  ": "mov", b"heic": "heic", b"heix": "heic",
                b"heim": "heic", b"heis": "heic", b"hevc": "heic", b"hevx": "heic", b"avif": "avif",
                b"avis": "avif", b"crx ": "cr3"}
_HEIF_BRANDS = frozenset({b"mif1", b"msf1", b"mif2"})


@dataclass(slots=True)
class _Index:
    """What the index boxes say the media data is: byte runs (file offset, length) that must lie inside the
    file, and HEVC items (offset, length) whose NAL unit chain must fill them."""

    runs: list[tuple[int, int]] = field(default_factory=list)
    hevc: list[tuple[int, int]] = field(default_factory=list)
    nal_length_size: int = 4
    sample_bytes: int = 0


def isobmff(view: View) -> Verdict | None:
    """ISO base media file: ftyp, then a chain of top-level boxes; moov or meta present; every chunk offset
    and item extent they hold inside the file. A partial verdict's ``good`` is the start of the box after
    which the chain lost track (gap carving looks for the split inside it)."""
    first = _ftyp_size(view)
    if first is None:
        return None
    last, pos, index, indexed = 0, first, _Index(), False
    for _ in range(MAX_BOXES):
        head = view.read(pos, 16)
        if len(head) < 8 or head[4:8] not in TOP_LEVEL:
            break  # the next file, or filler: this one ended after its last box
        size, header = _box_size(head)
        if size == 0:  # "to the end of the file": only the last box may say so, and the end is unknown here
            return Verdict(view.size, False, 0.3, pos)
        if size < header:
            return Verdict(pos, False, 0.3, last)
        if pos + size > view.size:
            return Verdict(view.size, False, 0.3, pos)  # cut short
        if head[4:8] in (b"moov", b"meta"):
            if not _read_index(view, pos + header, pos + size, head[4:8], index):
                return Verdict(pos, False, 0.3, pos)
            indexed = True
        last, pos = pos, pos + size
    else:
        return Verdict(pos, False, 0.2, last)
    return _judge(view, pos, last, index, indexed)


def gaps(validate: Validator, view: View, verdict: Verdict, sector: int) -> Verdict | None:
    """Bifragment gap carving: the split lies inside the box at ``verdict.good``, so the next top-level box
    header sits a whole number of sectors after that box's declared end; of the sector-aligned cuts inside
    the box (tried from its end back), exactly one must make the whole file validate. Media data carries
    no checksum, so a split inside it validates at many cuts: that is ambiguous and refused, never guessed."""
    head = view.read(verdict.good, 16)
    if len(head) < 8 or head[4:8] not in TOP_LEVEL:
        return None
    size, header = _box_size(head)
    end = verdict.good + size
    if size < header or end >= view.size:
        return None  # cut short, not split: nothing follows to resume at
    cuts = boundaries(view, verdict.good + header, end, sector)[::-1]
    region = view.reader.read(view.start + end, MAX_GAP + 8)
    tries = 0
    for m in _TOP_LEVEL_NAMES.finditer(region, 4):
        gap = m.start() - 4
        if gap <= 0 or gap % sector:
            continue
        found: Verdict | None = None
        for cut in cuts:
            tries += 1
            if tries > MAX_TRIES:
                return None
            resume = view.start + cut + gap
            whole = validate(View(Spliced(view, cut, resume, view.size), 0, view.size))
            if whole is not None and whole.full and whole.length > cut:
                if found is not None:
                    return None  # two cuts validate: the bytes cannot say which is the split
                found = Verdict(whole.length, True, whole.confidence * 0.9,
                                fragments=((view.start, cut), (resume, whole.length - cut)))
            elif found is not None:
                break
        if found is not None:
            return found
    return None


def isobmff_kind(view: View, length: int) -> str:
    """m4a, mp4, mov, heic, avif, 3gp, 3g2 or cr3 from the ftyp major brand, else the compatible brands."""
    size = _ftyp_size(view) or 16
    head = view.read(0, min(size, 256))
    major = head[8:12]
    brands = [major] + [head[i:i + 4] for i in range(16, len(head) - 3, 4)]
    for brand in brands:  # the major brand first: the most specific one that names the file wins
        kind = _brand_kind(brand)
        if kind is not None:
            return kind
    return "heic" if any(b in _HEIF_BRANDS for b in brands) else "mp4"


def _brand_kind(brand: bytes) -> str | None:
    if brand[:3] == b"3g2":
        return "3g2"
    if brand[:2] == b"3g" and brand[2:3].isalpha():  # 3gp4..3gp9, 3gg6, 3gr6, 3gs6, 3ge6...: 3GPP profiles
        return "3gp"
    return _BRAND_KINDS.get(brand)


def _ftyp_size(view: View) -> int | None:
    head = view.read(0, 16)
    if len(head) < 16 or head[4:8] != b"ftyp":
        return None
    size = int.from_bytes(head[:4], "big")
    major = head[8:12]
    # major brand, minor version, then four-character compatible brands
    if not 16 <= size <= 4096 or size % 4 or major in _NOT_A_START or not _printable(major):
        return None
    return size


def _printable(brand: bytes) -> bool:
    return all(32 <= c < 127 for c in brand)


def _box_size(head: bytes) -> tuple[int, int]:
    """(box size, header size); a 32-bit size of 1 means a 64-bit ``largesize`` follows the type."""
    size = struct.unpack(">I", head[:4])[0]
    if size == 1:
        if len(head) < 16:
            return 1, 16  # smaller than its header: refused by the caller
        return struct.unpack(">Q", head[8:16])[0], 16
    return size, 8


def _children(buf: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, body start, box end) of the boxes in ``buf[start:end]``; ValueError when one does not fit."""
    pos = start
    while pos + 8 <= end:
        size, header = _box_size(buf[pos:pos + 16])
        if size == 0:
            size = end - pos
        if size < header or pos + size > end:
            raise ValueError("box does not fit in its parent")
        yield buf[pos + 4:pos + 8], pos + header, pos + size
        pos += size


def _read_index(view: View, body: int, end: int, kind: bytes, index: _Index) -> bool:
    """Reads moov's chunk offsets or meta's item locations into ``index``; False when the box is malformed."""
    if end - body > MAX_INDEX:
        return True  # too large to check: the chain still counts
    buf = view.read(body, end - body)
    try:
        if kind == b"moov":
            _movie(buf, 0, len(buf), index)
        else:
            _heif(buf, index)
    except (ValueError, struct.error):
        return False
    return True


def _movie(buf: bytes, start: int, end: int, index: _Index) -> None:
    for typ, body, box_end in _children(buf, start, end):
        if typ == b"stbl":
            _sample_table(buf, body, box_end, index)
        elif typ in _MOVIE_PATH:
            _movie(buf, body, box_end, index)


def _sample_table(buf: bytes, start: int, end: int, index: _Index) -> None:
    """A track's chunk offsets (stco/co64) and sample sizes (stsz); the sample count of stsz must match
    the durations table's (stts): both describe every sample of the track."""
    sizes = timed = None
    for typ, body, box_end in _children(buf, start, end):
        if typ in (b"stco", b"co64"):
            offsets = _table(buf, body + 4, box_end, "I" if typ == b"stco" else "Q")
            if offsets:
                index.runs += [(min(offsets), 1), (max(offsets), 1)]
        elif typ == b"stsz":
            size, count = struct.unpack_from(">II", buf, body + 4)
            sizes = count
            index.sample_bytes += size * count if size else sum(_table(buf, body + 8, box_end, "I"))
        elif typ == b"stts":
            timed = sum(_table(buf, body + 4, box_end, "I", 2)[::2])
    if sizes is not None and timed is not None and sizes != timed:
        raise ValueError("stsz and stts count different samples")


def _table(buf: bytes, at: int, end: int, code: str, fields: int = 1) -> tuple[int, ...]:
    """The integers of a table that starts with its 32-bit entry count at ``at`` (``fields`` a row)."""
    count = struct.unpack_from(">I", buf, at)[0] * fields
    if at + 4 + count * struct.calcsize(code) > end:
        raise ValueError("table longer than its box")
    return struct.unpack_from(f">{count}{code}", buf, at + 4)


def _heif(buf: bytes, index: _Index) -> None:
    start = 4 if buf[:4] == b"\0\0\0\0" else 0  # meta is a FullBox in HEIF (QuickTime's is not)
    types: dict[int, bytes] = {}
    extents: list[tuple[int, int, int]] = []
    for typ, body, end in _children(buf, start, len(buf)):
        if typ == b"iinf":
            types = _item_types(buf, body, end)
        elif typ == b"iloc":
            extents = _item_extents(buf, body, end)
        elif typ == b"iprp":
            index.nal_length_size = _nal_length_size(buf, body, end)
    items: dict[int, int] = {}
    for item, _, _ in extents:
        items[item] = items.get(item, 0) + 1
    for item, offset, length in extents:
        index.runs.append((offset, max(length, 1)))
        if types.get(item) in (b"hvc1", b"hev1") and items[item] == 1 and length and len(index.hevc) < MAX_ITEMS:
            index.hevc.append((offset, length))


def _item_types(buf: bytes, body: int, end: int) -> dict[int, bytes]:
    """item_ID -> item_type of the ItemInfoEntry boxes (version 2 and 3; older ones have no type)."""
    version = buf[body]
    entries = body + (6 if version == 0 else 8)
    types: dict[int, bytes] = {}
    for typ, at, _ in _children(buf, entries, end):
        if typ != b"infe" or buf[at] < 2:
            continue
        if buf[at] == 2:
            item, kind = struct.unpack_from(">H2x4s", buf, at + 4)
        else:
            item, kind = struct.unpack_from(">I2x4s", buf, at + 4)
        types[item] = kind
    return types


def _item_extents(buf: bytes, body: int, end: int) -> list[tuple[int, int, int]]:
    """(item_ID, file offset, length) of every iloc extent stored in this file (construction method 0)."""
    version = buf[body]
    offset_size, length_size = buf[body + 4] >> 4, buf[body + 4] & 15
    base_size, index_size = buf[body + 5] >> 4, (buf[body + 5] & 15 if version else 0)
    pos = body + 6
    count, pos = _uint(buf, pos, 2 if version < 2 else 4, end)
    out: list[tuple[int, int, int]] = []
    for _ in range(count):
        item, pos = _uint(buf, pos, 2 if version < 2 else 4, end)
        method = 0
        if version:
            method, pos = _uint(buf, pos, 2, end)
            method &= 15
        reference, pos = _uint(buf, pos, 2, end)
        base, pos = _uint(buf, pos, base_size, end)
        extents, pos = _uint(buf, pos, 2, end)
        for _ in range(extents):
            pos = _uint(buf, pos, index_size, end)[1]
            offset, pos = _uint(buf, pos, offset_size, end)
            length, pos = _uint(buf, pos, length_size, end)
            if method == 0 and reference == 0:  # in this file (1: in idat, 2: in another item)
                out.append((item, base + offset, length))
    return out


def _uint(buf: bytes, pos: int, size: int, end: int) -> tuple[int, int]:
    """A big-endian unsigned integer of ``size`` bytes (0, 2, 4 or 8) at ``pos``, and the position after it."""
    if size not in (0, 2, 4, 8) or pos + size > end:
        raise ValueError("iloc field size or position out of range")
    return int.from_bytes(buf[pos:pos + size], "big"), pos + size


def _nal_length_size(buf: bytes, body: int, end: int) -> int:
    """lengthSizeMinusOne + 1 of the first hvcC configuration (4 unless it says otherwise)."""
    for typ, at, box_end in _children(buf, body, end):
        if typ == b"ipco":
            for prop, data, prop_end in _children(buf, at, box_end):
                if prop == b"hvcC" and prop_end - data > 21:
                    return (buf[data + 21] & 3) + 1
    return 4


def _judge(view: View, end: int, last: int, index: _Index, indexed: bool) -> Verdict:
    """The chain ended at ``end`` after the box at ``last``: full when an index is there and all it points
    at lies inside."""
    if not indexed:
        return Verdict(end, False, 0.3, last)  # no moov/meta: the file goes on past what was found
    if index.sample_bytes > end or any(offset < 8 or offset + length > end for offset, length in index.runs):
        return Verdict(end, False, 0.4, last)
    if not all(_nal_chain(view, offset, length, index.nal_length_size) for offset, length in index.hevc):
        return Verdict(end, False, 0.4, last)
    if index.hevc:
        return Verdict(end, True, 0.9)
    return Verdict(end, True, 0.8 if index.runs else 0.6)


def _nal_chain(view: View, offset: int, length: int, size: int) -> bool:
    """Whether ``[offset, offset + length)`` is a chain of NAL units, each prefixed by its ``size``-byte
    length, with a valid HEVC NAL header (forbidden bit 0, temporal id not 0), ending exactly at the end."""
    pos, end = offset, offset + length
    for _ in range(64):
        head = view.read(pos, size + 2)
        if len(head) < size + 2:
            return False
        n = int.from_bytes(head[:size], "big")
        if n < 2 or head[size] & 0x80 or not head[size + 1] & 7:
            return False
        pos += size + n
        if pos >= end:
            return pos == end
    return True  # a long chain so far sound: the rest is not walked
