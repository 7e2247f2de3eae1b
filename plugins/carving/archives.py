"""ZIP and the formats built on it (OOXML, ODF, JAR): the validator walks the local entries and checks every
CRC-32 and the central directory; ``zip_kind`` tells which of those formats a ZIP is. Gap carving of ZIP is in
archive_gaps.py."""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from dftk_plugins.carving.inflate import inflate_bounded
from dftk_plugins.carving.model import Verdict, View

ENTRY_CHECK_LIMIT = 64 << 20  # entries declaring more than this are not inflated (no decompression bombs)
_LOCAL = b"PK\x03\x04"
_CENTRAL = b"PK\x01\x02"
_ZIP_END = b"PK\x05\x06"
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
