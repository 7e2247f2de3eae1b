"""Validators of document and container formats: PDF, ZIP (and OOXML/ODF/JAR built on it), OLE2, SQLite."""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from dftk_plugins.carving.fragments import MAX_TRIES, boundaries
from dftk_plugins.carving.model import Spliced, Validator, Verdict, View

STEP = 1 << 20
ENTRY_CHECK_LIMIT = 64 << 20  # entries declaring more than this are not inflated (no decompression bombs)
_EOF = re.compile(rb"%%EOF")
_STARTXREF = re.compile(rb"startxref\s+(\d+)\s*$")
_UPDATE = re.compile(rb"\s*(?:\d+\s+\d+\s+obj|xref|%[^%P])")


def pdf(view: View) -> Verdict | None:
    """PDF: through the last ``%%EOF`` of its incremental updates, the final ``startxref`` checked."""
    if not re.match(rb"%PDF-\d\.\d", view.read(0, 8)):
        return None
    pos, end = 0, 0
    while pos < view.size:
        data = view.read(pos, STEP + 5)
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


_LOCAL = b"PK\x03\x04"
_CENTRAL = b"PK\x01\x02"
_ZIP_END = b"PK\x05\x06"
_DESCRIPTOR = b"PK\x07\x08"
WINDOW = 1 << 20
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
    """Reads of a view served from one large buffer: a ZIP's records are met in order."""

    def __init__(self, view: View) -> None:
        self.view: View = view
        self.at = 0
        self.buf = b""

    def get(self, pos: int, n: int) -> bytes:
        if n > WINDOW:
            data: bytes = self.view.read(pos, n)
            return data
        if pos < self.at or pos + n > self.at + len(self.buf):
            self.at, self.buf = pos, self.view.read(pos, WINDOW)
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


def inflate_bounded(inflater: Any, piece: bytes, room: int) -> bytes | None:
    """What a piece of a raw deflate stream inflates to, produced in bounded steps (a small piece may
    inflate a thousandfold); None once that passes ``room`` bytes."""
    outs = []
    while True:
        step = min(room + 1, 4 * WINDOW)
        out = inflater.decompress(piece, step)
        outs.append(out)
        room -= len(out)
        if room < 0:
            return None
        piece = inflater.unconsumed_tail
        if inflater.eof or (not piece and len(out) < step):
            return b"".join(outs)


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


_FREE, _END, _FATSECT, _DIFSECT = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFC
_SPECIAL = 0xFFFFFFFA
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_MINI_CUTOFF, _MINI_SECTOR = 4096, 64
_ROOT = "Root Entry".encode("utf-16-le")
_PPT_DOCUMENT = "PowerPoint Document".encode("utf-16-le")
RECORDS_LIMIT = 16 << 20  # PowerPoint Document streams larger than this are not walked (memory)
MAX_RECORDS = 1 << 16
_ENCRYPTED_TOKEN = b"\xdf\xc4\xd1\xf3"  # CurrentUserAtom.headerToken of an encrypted presentation
_COMPRESSED_STORAGE = 0x1011  # RT_ExternalOleObjectStg: an embedded object's or the VBA project's storage
_STREAM_STARTS = {  # how streams of known names begin: [MS-OLEPS], [MS-DOC] FIB, [MS-XLS] BOF, [MS-PPT]
    "\x05": (b"\xfe\xff\x00\x00", b"\xfe\xff\x01\x00"),  # property sets: byte-order mark, version 0/1
    "WordDocument": (b"\xec\xa5",),
    "Workbook": (b"\x09\x08",),
    "Current User": (b"\x00\x00\xf6\x0f",),
}


def ole2(view: View) -> Verdict | None:
    """OLE2 compound file ([MS-CFB]): the header; the FAT sectors through the DIFAT, each marked as one in
    the FAT; every FAT entry a sector number or a marker; the directory, mini FAT and stream chains of the
    right lengths, sharing no sector; directory entries well formed; property-set streams starting with
    their byte-order mark. The file ends with the FAT's highest used sector."""
    head = view.read(0, 512)
    if len(head) < 512 or not head.startswith(_OLE2_MAGIC) or head[28:30] != b"\xfe\xff":
        return None
    major, _, shift, mini_shift = struct.unpack("<HHHH", head[26:34])
    if (major, shift) not in ((3, 9), (4, 12)) or mini_shift != 6:
        return None
    compound = _Compound(view, head, 1 << shift)
    if compound.fat is None:
        return Verdict(view.size, False, 0.3, 0) if compound.bad is None else _ole2_broken(compound.bad)
    end = compound.end
    if end > view.size:
        return Verdict(view.size, False, 0.4, 0)
    bad = compound.check()
    if bad is not None:
        return _ole2_broken(bad)
    return Verdict(end, True, 0.95)


def _ole2_broken(bad: int) -> Verdict:
    return Verdict(bad, False, 0.5, bad)


class _Compound:
    """The sector allocation of a compound file; ``bad`` is the file position of the first sector found not
    to hold what the structure says it holds."""

    def __init__(self, view: View, head: bytes, sector: int) -> None:
        self.view, self.head, self.sector = view, head, sector
        self.bad: int | None = None
        self.fat: list[int] | None = None
        self.end = 0
        fat_count, self.first_dir = struct.unpack("<II", head[44:52])
        self.minifat_first, self.minifat_count, difat_first, difat_count = struct.unpack("<IIII", head[60:76])
        if not 0 < fat_count <= view.size // sector or difat_count > fat_count:
            return
        self.fat_sectors: list[int] = []
        fat_sectors = self._difat(difat_first, difat_count, fat_count)
        if fat_sectors is not None:
            self.fat_sectors = fat_sectors
            self._read_fat()

    def at(self, index: int) -> int:
        return self.sector + index * self.sector

    def _flag(self, index: int) -> None:
        position = self.at(index)
        self.bad = position if self.bad is None else min(self.bad, position)

    def _difat(self, first: int, count: int, fat_count: int) -> list[int] | None:
        sectors = [s for s in struct.unpack("<109I", self.head[76:512]) if s < _SPECIAL]
        self.difat_sectors: list[int] = []
        nxt = first
        for _ in range(count):
            if nxt >= _SPECIAL:
                break
            block = self.view.read(self.at(nxt), self.sector)
            if len(block) < self.sector:
                return None
            words = struct.unpack(f"<{self.sector // 4}I", block)
            self.difat_sectors.append(nxt)
            sectors += [s for s in words[:-1] if s < _SPECIAL]
            nxt = words[-1]
        if len(sectors) < fat_count:
            self._flag(self.difat_sectors[-1] if self.difat_sectors else 0)
            return None
        return sectors[:fat_count]

    def _read_fat(self) -> None:
        per = self.sector // 4
        limit = len(self.fat_sectors) * per
        fat: list[int] = []
        for index in self.fat_sectors:
            block = self.view.read(self.at(index), self.sector)
            if len(block) < self.sector:
                return
            words = struct.unpack(f"<{per}I", block)
            if any(limit <= w < _DIFSECT for w in words):
                self._flag(index)  # not FAT entries: the sector is not what the DIFAT says it is
                return
            fat += words
        if any(fat[s] != _FATSECT for s in self.fat_sectors) or any(fat[s] != _DIFSECT
                                                                    for s in self.difat_sectors):
            self._flag(max(self.fat_sectors))
            return
        used = [i for i in range(len(fat) - 1, -1, -1) if fat[i] != _FREE][:1]
        self.fat = fat
        self.end = self.at(used[0] + 1) if used else self.at(0)

    def chain(self, first: int, claimed: bytearray) -> list[int] | None:
        """The sectors of the chain from ``first``; None when it loops, runs off the FAT, reaches a free
        sector or one another chain holds."""
        assert self.fat is not None
        out = []
        nxt = first
        while nxt != _END:
            if nxt >= len(self.fat) or claimed[nxt] or self.fat[nxt] == _FREE:
                return None
            claimed[nxt] = 1
            out.append(nxt)
            nxt = self.fat[nxt]
        return out

    def check(self) -> int | None:
        assert self.fat is not None
        claimed = bytearray(len(self.fat))
        for s in self.fat_sectors + self.difat_sectors:
            claimed[s] = 1
        directory = self.chain(self.first_dir, claimed)
        if not directory:
            return self.at(self.first_dir)
        entries = self._entries(directory)
        if entries is None:
            return self.bad
        minifat = self.chain(self.minifat_first, claimed) if self.minifat_first != _END else []
        if minifat is None or len(minifat) != self.minifat_count:
            return self.at(self.minifat_first)
        streams: dict[int, list[int]] = {}
        for number, (kind, start, size, _) in enumerate(entries):
            if kind == 5 or (kind == 2 and size >= _MINI_CUTOFF):
                sectors = self.chain(start, claimed) if size else []
                if sectors is None or len(sectors) != -(-size // self.sector):
                    return self.at(min(start, len(self.fat) - 1))
                streams[number] = sectors
        return self._contents(entries, streams)

    def _entries(self, directory: list[int]) -> list[tuple[int, int, int, bytes]] | None:
        """(type, start, size, name) of each directory entry; None (sector flagged) for a malformed one."""
        out = []
        for index in directory:
            block = self.view.read(self.at(index), self.sector)
            for pos in range(0, len(block), 128):
                entry = block[pos:pos + 128]
                name_length, kind, color = struct.unpack("<HBB", entry[64:68])
                start, size = struct.unpack("<II", entry[116:124])
                if kind == 0:
                    out.append((0, 0, 0, b""))
                    continue
                name = entry[:name_length]
                if (kind not in (1, 2, 5) or color > 1 or name_length > 64 or name_length % 2
                        or name[-2:] != b"\0\0" or (kind == 5) != (not out)):
                    self._flag(index)
                    return None
                out.append((kind, start, size, name[:-2]))
        if not out or out[0][3] != _ROOT:
            self._flag(directory[0])
            return None
        return out

    def _contents(self, entries: list[tuple[int, int, int, bytes]], streams: dict[int, list[int]]) -> int | None:
        """Streams of known names (property sets, Word's FIB, Excel's BOF, PowerPoint's current user) must
        start as their specifications say; a presentation's records must chain (``_records_break``)."""
        mini = streams.get(0, [])
        encrypted = False  # an encrypted presentation's records are not walked: their headers are ciphertext
        for number, (kind, start, size, raw_name) in enumerate(entries):
            name = raw_name.decode("utf-16-le", "replace")
            starts = _STREAM_STARTS.get(name[:1] if name.startswith("\x05") else name)
            if kind != 2 or starts is None or size < 4:
                continue
            if size >= _MINI_CUTOFF:
                position = self.at(streams[number][0])
            else:
                index = start * _MINI_SECTOR // self.sector
                if index >= len(mini):
                    return self.at(mini[-1]) if mini else self.at(0)
                position = self.at(mini[index]) + start * _MINI_SECTOR % self.sector
            head = self.view.read(position, 16)
            if not head.startswith(starts):
                return position - position % self.sector if position % self.sector else position
            encrypted = encrypted or (name == "Current User" and head[12:16] == _ENCRYPTED_TOKEN)
        for number, (kind, _, size, raw_name) in enumerate(entries):
            if (kind == 2 and raw_name == _PPT_DOCUMENT and number in streams and size <= RECORDS_LIMIT
                    and not encrypted):
                bad = self._records_break(streams[number], size)
                if bad is not None:
                    return bad
        return None

    def _records_break(self, sectors: list[int], size: int) -> int | None:
        """The file position of the sector where a PowerPoint Document stream's records stop chaining;
        its sectors are read in runs of consecutive ones (few reads)."""
        pieces, run = [], 0
        for i in range(1, len(sectors) + 1):
            if i == len(sectors) or sectors[i] != sectors[i - 1] + 1:
                pieces.append(self.view.read(self.at(sectors[run]), (i - run) * self.sector))
                run = i
        pos = _records_break(b"".join(pieces)[:size])
        return None if pos is None else self.at(sectors[pos // self.sector])


def _records_break(data: bytes) -> int | None:
    """Where the record headers of a PowerPoint Document stream ([MS-PPT] 2.3.1: recVer/recInstance,
    recType, recLen) stop chaining: each record ends where its recLen says, a container's (recVer 0xF)
    children chain to its end; a header of type 0 or overrunning its container is where gap bytes
    sit. None when all chain (or after MAX_RECORDS records: unchecked past there)."""
    ends, pos = [len(data)], 0
    for _ in range(MAX_RECORDS):
        while len(ends) > 1 and pos == ends[-1]:
            ends.pop()
        if pos == ends[-1] or (len(ends) == 1 and pos + 8 > ends[-1]):
            return None  # the stream's end (a few bytes after the last record, too few for one, tolerated)
        if pos + 8 > ends[-1]:
            return pos
        ver_instance, kind, length = struct.unpack_from("<HHI", data, pos)
        if kind == 0 or pos + 8 + length > ends[-1]:
            return pos
        if ver_instance & 0xF == 0xF:
            ends.append(pos + 8 + length)
            pos += 8
            continue
        if kind == _COMPRESSED_STORAGE and ver_instance >> 4 == 1:
            broken = _storage_break(data, pos + 8, length)
            if broken is not None:
                return broken
        pos += 8 + length
    return None


def _storage_break(data: bytes, at: int, length: int) -> int | None:
    """Where a compressed storage atom (ExOleObjStg or VbaProjectStg, recInstance 1: the decompressed
    size, then a zlib stream) stops inflating on to that size (the start of the piece, within one
    sector, where inflation broke); None when it reaches it."""
    if length < 6:
        return at
    expected: int = struct.unpack_from("<I", data, at)[0]
    inflater, size = zlib.decompressobj(), 0
    ends = [*range((at + 4) // 512 * 512 + 512, at + length, 512), at + length]  # pieces within one sector
    starts: list[int] = [at + 4, *ends[:-1]]
    for piece, end in zip(starts, ends, strict=True):
        try:
            out = inflate_bounded(inflater, data[piece:end], expected - size)
        except zlib.error:
            return piece
        if out is None:
            return piece
        size += len(out)
        if size == expected:
            return None  # whole (writers may leave the stream's end or checksum out)
        if inflater.eof:
            return piece
    return at + length - 1


_SQLITE_MAGIC = b"SQLite format 3\x00"
_TABLE_INTERIOR, _TABLE_LEAF, _INDEX_INTERIOR, _INDEX_LEAF = 5, 13, 2, 10
_BTREE = (_TABLE_INTERIOR, _TABLE_LEAF, _INDEX_INTERIOR, _INDEX_LEAF)
_ZERO, _OTHER, _FREELIST, _PTRMAP, _BAD = 0, 1, 3, 4, 255  # page kinds (b-tree pages keep their type byte)
SQLITE_READ = 1 << 20
MAX_STRUCTURED_GAP = 1 << 20  # bifragment gaps searched for SQLite and OLE2


def sqlite(view: View) -> Verdict | None:
    """SQLite: the header (page size, in-header database size valid for this change counter), then every
    page of that size: a b-tree page whose cells, freeblocks and fragments fill its content area exactly,
    a pointer-map page, a freelist page, or an overflow page some cell's chain reaches."""
    head = view.read(0, 100)
    if len(head) < 100 or not head.startswith(_SQLITE_MAGIC):
        return None
    page = struct.unpack(">H", head[16:18])[0]
    page = 65536 if page == 1 else page
    if page < 512 or page & (page - 1) or head[21:24] != b"\x40\x20\x20" or view.read(100, 1) not in (b"\x05",
                                                                                                      b"\x0d"):
        return None
    change, count = struct.unpack(">II", head[24:32])
    if count == 0 or struct.unpack(">I", head[92:96])[0] != change:
        return Verdict(page, False, 0.3, page)  # an old writer's header: the size is not known
    end = page * count
    if end > view.size:
        return Verdict(view.size, False, 0.4, 0)
    bad = _Pages(view, head, page, count).first_bad()
    if bad is not None:
        return Verdict(max(page, (bad - 1) * page), False, 0.5, (bad - 1) * page)
    return Verdict(end, True, 0.95)


class _Pages:
    """One pass over a database's pages, kept as one small kind code per page plus the references between
    them (b-tree children, overflow chains), to say which page first breaks the structure."""

    def __init__(self, view: View, head: bytes, page: int, count: int) -> None:
        self.view, self.page, self.count = view, page, count
        self.usable = page - head[20]
        self.kinds = bytearray(count + 1)
        self.children: list[tuple[int, int, int]] = []  # (parent, child, family: 1 table, 2 index)
        self.overflow: list[tuple[int, int]] = []  # (referencing page, first overflow page)
        self.next_page: dict[int, int] = {}
        self.freelist_head, self.freelist_size = struct.unpack(">II", head[32:40])
        self.ptrmap = set()
        if struct.unpack(">I", head[52:56])[0]:  # auto-vacuum: pointer-map pages at fixed places
            self.ptrmap = set(range(2, count + 1, self.usable // 5 + 1))

    def first_bad(self) -> int | None:
        bad = self._freelist()
        chunk = max(1, SQLITE_READ // self.page)
        for first in range(1, self.count + 1, chunk):
            data = self.view.read((first - 1) * self.page, chunk * self.page)
            for k in range(min(chunk, self.count - first + 1)):
                number = first + k
                if self.kinds[number] != _FREELIST:
                    self.kinds[number] = self._classify(number, data[k * self.page:(k + 1) * self.page])
        bad += [n for n in range(1, self.count + 1) if self.kinds[n] == _BAD]
        bad += self._broken_references()
        return min(bad) if bad else None

    def _freelist(self) -> list[int]:
        """Marks the freelist's trunk and leaf pages (their content is whatever was there before); returns
        the first trunk that is not one."""
        trunk, seen, marked = self.freelist_head, 0, 0
        while trunk and seen <= self.count:
            data = self.view.read((trunk - 1) * self.page, self.usable) if trunk <= self.count else b""
            if len(data) < 8:
                return [min(trunk, self.count)]
            nxt, leaves = struct.unpack(">II", data[:8])
            if nxt > self.count or leaves > self.usable // 4 - 2:
                return [trunk]
            numbers = struct.unpack(f">{leaves}I", data[8:8 + 4 * leaves])
            if any(not 0 < n <= self.count for n in numbers):
                return [trunk]
            self.kinds[trunk] = _FREELIST
            for n in numbers:
                self.kinds[n] = _FREELIST
            marked += 1 + leaves
            trunk, seen = nxt, seen + 1
        return [] if marked == self.freelist_size or not self.freelist_head else [self.freelist_head]

    def _classify(self, number: int, data: bytes) -> int:
        if len(data) < self.page:
            return _BAD
        if number in self.ptrmap:
            covered = min(self.usable // 5, self.count - number)  # entries past the last page may be stale
            return _PTRMAP if _ptrmap_ok(data[:5 * covered], self.count) else _BAD
        if not any(data):
            return _ZERO
        at = 100 if number == 1 else 0
        kind = data[at]
        if kind in _BTREE:  # an overflow page starts with a page number, whose first byte is 0 here
            return kind if self._btree_sound(number, data, at, kind) else _BAD
        nxt = struct.unpack(">I", data[:4])[0]
        if nxt > self.count:
            return _BAD
        self.next_page[number] = nxt
        return _OTHER

    def _btree_sound(self, number: int, data: bytes, at: int, kind: int) -> bool:
        try:
            return self._btree_ok(number, data, at, kind)
        except (struct.error, IndexError):
            return False  # a cell running off the page

    def _btree_ok(self, number: int, data: bytes, at: int, kind: int) -> bool:
        """The page header's fields in range, and cells + freeblocks + fragmented bytes filling the content
        area exactly (what SQLite's integrity check requires)."""
        interior = kind in (_TABLE_INTERIOR, _INDEX_INTERIOR)
        header = at + (12 if interior else 8)
        freeblock, cells, content, fragmented = struct.unpack(">HHHB", data[at + 1:at + 8])
        content = content or 65536
        usable = self.usable
        if header + 2 * cells > content or content > usable:
            return False
        family = 1 if kind in (_TABLE_INTERIOR, _TABLE_LEAF) else 2
        if interior:
            right = struct.unpack(">I", data[at + 8:at + 12])[0]
            if not 0 < right <= self.count:
                return False
            self.children.append((number, right, family))
        used = fragmented
        pointers = struct.unpack(f">{cells}H", data[header:header + 2 * cells])
        for pointer in pointers:
            if not content <= pointer < usable:
                return False
            size = self._cell(number, data, pointer, kind, family)
            if size is None or pointer + size > usable:
                return False
            used += size
        previous = 0
        while freeblock:
            if freeblock <= previous or freeblock < content or freeblock + 4 > usable:
                return False
            nxt, size = struct.unpack(">HH", data[freeblock:freeblock + 4])
            if size < 4 or freeblock + size > usable:
                return False
            used, previous, freeblock = used + size, freeblock, nxt
        return bool(used == usable - content)

    def _cell(self, number: int, data: bytes, pos: int, kind: int, family: int) -> int | None:
        """The cell's size on the page (its overflow chain's first page recorded)."""
        start = pos
        if kind in (_TABLE_INTERIOR, _INDEX_INTERIOR):
            child = struct.unpack(">I", data[pos:pos + 4])[0]
            if not 0 < child <= self.count:
                return None
            self.children.append((number, child, family))
            pos += 4
            if kind == _TABLE_INTERIOR:
                return 4 + _varint(data, pos)[1]
        payload, n = _varint(data, pos)
        pos += n
        if kind == _TABLE_LEAF:
            pos += _varint(data, pos)[1]
        usable = self.usable
        most = usable - 35 if kind == _TABLE_LEAF else (usable - 12) * 64 // 255 - 23
        least = (usable - 12) * 32 // 255 - 23
        if payload <= most:
            return max(4, pos - start + payload)
        local = least + (payload - least) % (usable - 4)
        local = local if local <= most else least
        first = struct.unpack(">I", data[pos + local:pos + local + 4])[0]
        if not 0 < first <= self.count:
            return None
        self.overflow.append((number, first))
        return pos - start + local + 4

    def _broken_references(self) -> list[int]:
        """Pages referenced as what they are not: a b-tree child of the wrong family or no b-tree page, an
        overflow page that is a b-tree page; and overflow-looking pages nothing reaches."""
        bad = []
        for _, child, family in self.children:
            kind = self.kinds[child]
            if kind not in _BTREE or (1 if kind in (_TABLE_INTERIOR, _TABLE_LEAF) else 2) != family:
                bad.append(child)  # the page not holding what its parent says it holds
        reached: set[int] = set()
        for _, first in self.overflow:
            n, steps = first, 0
            while n and n not in reached and steps <= self.count:
                if self.kinds[n] != _OTHER:
                    bad.append(n)
                    break
                reached.add(n)
                n, steps = self.next_page.get(n, 0), steps + 1
        bad += [n for n in self.next_page if n not in reached]
        bad += [n for n in range(2, self.count + 1) if self.kinds[n] == _ZERO]
        return bad


def _ptrmap_ok(data: bytes, count: int) -> bool:
    for pos in range(0, len(data), 5):
        kind = data[pos]
        parent = struct.unpack(">I", data[pos + 1:pos + 5])[0]
        if kind > 5 or parent > count or (kind == 0 and parent):
            return False
    return True


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    """SQLite's big-endian variable-length integer at ``pos``: (value, bytes used)."""
    value = 0
    for i in range(8):
        byte = data[pos + i]
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, i + 1
    return (value << 8) | data[pos + 8], 9


def sqlite_gaps(validate: Validator, view: View, verdict: Verdict, sector: int) -> Verdict | None:
    """SQLite bifragment gap carving: the database's size is known from its header, the break is in or
    just before the first page that failed; the page after it must be found whole after the gap."""
    head = view.read(0, 100)
    page = struct.unpack(">H", head[16:18])[0]
    page = 65536 if page == 1 else page
    count = struct.unpack(">I", head[28:32])[0]
    probe = _Pages(view, head, page, count)

    def sound(data: bytes) -> bool:
        if len(data) < page or not any(data):
            return False
        if data[0] in _BTREE:
            return probe._btree_sound(0, data, 0, data[0])
        return bool(struct.unpack(">I", data[:4])[0] <= count)

    return _two_fragments(validate, view, verdict.good, sector, page, page * count, sound)


def _two_fragments(validate: Validator, view: View, bad: int, sector: int, unit: int, total: int,
                   sound: Callable[[bytes], bool]) -> Verdict | None:
    """A reassembly of a file of known size ``total`` whose ``unit`` at ``bad`` failed while every unit
    before it held: the cut is a sector boundary inside that unit; the gap is a whole number of sectors
    after which the unit following ``bad`` is ``sound``. Gaps are tried smallest first (a larger one that
    also fits would skip the file's own later units), cuts earliest first; the first whole validation
    wins. Where a cut falls in bytes no check covers (a page's unallocated space) the earliest cut that
    validates is taken, so those bytes may come from the gap."""
    following = bad + unit
    if bad <= 0 or following >= total:
        return None
    region = view.reader.read(view.start + following + sector, MAX_STRUCTURED_GAP + unit)
    cuts = boundaries(view, bad - 1, following - 1, sector)
    tries = 0
    for gap in range(sector, MAX_STRUCTURED_GAP + 1, sector):
        if not sound(region[gap - sector:gap - sector + unit]):
            continue
        for cut in cuts:
            found = _reassembled(validate, view, cut, gap)
            if found is not None:
                return found
        tries += len(cuts)
        if tries > MAX_TRIES * 4:
            return None
    return None


def _reassembled(validate: Validator, view: View, cut: int, gap: int) -> Verdict | None:
    resume = view.start + cut + gap
    whole = validate(View(Spliced(view, cut, resume, view.size), 0, view.size))
    if whole is None or not whole.full or whole.length <= cut:
        return None
    return Verdict(whole.length, True, whole.confidence * 0.95,
                   fragments=((view.start, cut), (resume, whole.length - cut)))
