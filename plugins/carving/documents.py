"""Validators of document and container formats: PDF, ZIP (and OOXML/ODF/JAR built on it), OLE2, SQLite."""

from __future__ import annotations

import re
import struct
import zlib

from dftk_plugins.carving.model import Verdict, View

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
_EOCD = re.compile(rb"PK\x05\x06")


def zip_archive(view: View) -> Verdict | None:
    """ZIP: the end-of-central-directory record that points back to this start, every central entry's local
    header, and the CRC of every entry that can be inflated within the size limit."""
    head = view.read(0, 30)
    if len(head) < 30 or not head.startswith(_LOCAL) or struct.unpack("<H", head[8:10])[0] not in (0, 8, 9, 12, 14):
        return None
    pos = 0
    while pos < view.size:
        data = view.read(pos, STEP + 22)
        for m in _EOCD.finditer(data):
            at = pos + m.start()
            record = view.read(at, 22)
            if len(record) < 22:
                continue
            entries, cd_size, cd_offset, comment = struct.unpack("<HIIH", record[10:22])
            if cd_offset + cd_size == at and entries:
                return _zip_checked(view, cd_offset, entries, at + 22 + comment)
        if len(data) <= 22:
            break
        pos += len(data) - 22
    good = _local_chain_end(view)
    return Verdict(good, False, 0.3, good) if good > 30 else None


def _zip_checked(view: View, cd_offset: int, entries: int, end: int) -> Verdict:
    central = view.read(cd_offset, end - cd_offset)
    pos, ok = 0, True
    for _ in range(entries):
        if central[pos:pos + 4] != _CENTRAL or len(central) < pos + 46:
            return Verdict(end, False, 0.4, 0)
        method, _, _, crc, csize, usize, nlen, xlen, clen = struct.unpack("<HHHIIIHHH", central[pos + 10:pos + 34])
        local = struct.unpack("<I", central[pos + 42:pos + 46])[0]
        ok = ok and _entry_ok(view, local, method, crc, csize, usize)
        pos += 46 + nlen + xlen + clen
    return Verdict(end, True, 0.99) if ok else Verdict(end, False, 0.5, 0)


def _entry_ok(view: View, local: int, method: int, crc: int, csize: int, usize: int) -> bool:
    head = view.read(local, 30)
    if len(head) < 30 or not head.startswith(_LOCAL):
        return False
    if usize > ENTRY_CHECK_LIMIT or csize > ENTRY_CHECK_LIMIT or method not in (0, 8):
        return True  # present, not inflated here
    nlen, xlen = struct.unpack("<HH", head[26:30])
    body = view.read(local + 30 + nlen + xlen, csize)
    if len(body) < csize:
        return False
    try:
        data = body if method == 0 else zlib.decompressobj(-15).decompress(body, usize + 1)
    except zlib.error:
        return False
    return len(data) == usize and zlib.crc32(data) == crc


def _local_chain_end(view: View) -> int:
    """How far the local headers chain (entries with sizes in the header) before the central directory."""
    pos = 0
    while True:
        head = view.read(pos, 30)
        if len(head) < 30 or not head.startswith(_LOCAL):
            return pos
        flags, _, _, _, _, csize, _, nlen, xlen = struct.unpack("<HHHHIIIHH", head[6:30])
        if flags & 8:
            return pos
        nxt = pos + 30 + nlen + xlen + csize
        if nxt > view.size:
            return pos
        pos = nxt


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


_FREE = 0xFFFFFFFF
_SPECIAL = 0xFFFFFFFA


def ole2(view: View) -> Verdict | None:
    """OLE2 compound file: header, the FAT sectors through the DIFAT, the end of the last used sector."""
    head = view.read(0, 512)
    if len(head) < 512 or head[28:30] != b"\xfe\xff" or struct.unpack("<H", head[30:32])[0] not in (9, 12):
        return None
    shift = struct.unpack("<H", head[30:32])[0]
    sector = 1 << shift
    fat_count, first_dir = struct.unpack("<II", head[44:52])
    difat_first, difat_count = struct.unpack("<II", head[68:76])
    if not 0 < fat_count < (1 << 20) or difat_count > (1 << 16):
        return None
    difat = [s for s in struct.unpack("<109I", head[76:512]) if s < _SPECIAL]
    nxt = difat_first
    for _ in range(difat_count):
        if nxt >= _SPECIAL:
            break
        block = view.read(sector + nxt * sector, sector)
        words = struct.unpack(f"<{sector // 4}I", block) if len(block) == sector else ()
        difat += [s for s in words[:-1] if s < _SPECIAL]
        nxt = words[-1] if words else _FREE
    last = first_dir
    for k, index in enumerate(difat[:fat_count]):
        block = view.read(sector + index * sector, sector)
        if len(block) < sector:
            return Verdict(view.size, False, 0.3, 0)
        last = max(last, index)
        words = struct.unpack(f"<{sector // 4}I", block)
        used = [i for i, w in enumerate(words) if w != _FREE]
        if used:
            last = max(last, k * (sector // 4) + used[-1])
    end = sector + (last + 1) * sector
    root = view.read(sector + first_dir * sector, 64)
    if root[:20] != "Root Entry".encode("utf-16-le"):
        return Verdict(min(end, view.size), False, 0.3, 0)
    if end > view.size:
        return Verdict(view.size, False, 0.4, 0)
    return Verdict(end, True, 0.9)


def sqlite(view: View) -> Verdict | None:
    """SQLite: page size and (valid) page count of the header; the first page's b-tree type."""
    head = view.read(0, 108)
    if len(head) < 108 or not head.startswith(b"SQLite format 3\x00"):
        return None
    page = struct.unpack(">H", head[16:18])[0]
    page = 65536 if page == 1 else page
    if page < 512 or page & (page - 1) or head[21:24] != b"\x40\x20\x20" or head[100] not in (0x05, 0x0D):
        return None
    change, count = struct.unpack(">II", head[24:32])
    if count == 0 or struct.unpack(">I", head[92:96])[0] != change:
        return Verdict(page, False, 0.3, page)
    end = page * count
    return Verdict(end, True, 0.9) if end <= view.size else Verdict(view.size, False, 0.4, 0)
