"""E01 section encoding: the format's constants, the case fields, and the bytes of each section this writer
puts in a segment (descriptor, header2, header, volume/data, table/table2, error2, digest, hash), with the
Adler-32 checksums that guard them. Pure functions: no file I/O here (see :mod:`dftk.ewf.segments`).
"""

from __future__ import annotations

import platform
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from dftk import __version__

SIGNATURE = b"EVF\x09\x0d\x0a\xff\x00"
SECTORS_PER_CHUNK = 64
MAX_TABLE_ENTRIES = 16375
LEVELS = {"none": 0, "fast": 1, "best": 9}
_VOLUME_LEVEL = {"none": 0, "fast": 1, "best": 2}
HEAD = 13  # the file header before the first section


@dataclass(frozen=True, slots=True)
class CaseFields:
    """The acquisition metadata stored in the header sections (what ``ewfinfo`` shows)."""

    case_number: str = ""
    evidence_number: str = ""
    examiner: str = ""
    description: str = ""
    notes: str = ""
    model: str = ""
    serial: str = ""
    acquired: datetime = field(default_factory=lambda: datetime.now(UTC))


def adler(data: bytes | bytearray | memoryview) -> bytes:
    """The Adler-32 of ``data`` as stored after a section body or a raw chunk (little-endian).

    Args:
        data: the bytes to check.

    Returns:
        The 4-byte checksum.
    """
    return struct.pack("<I", zlib.adler32(data))


def descriptor(kind: str, offset: int, size: int, next_offset: int | None = None) -> bytes:
    """The 76-byte section descriptor: type, next section offset, section size, padding, Adler-32.

    Args:
        kind: the section type (``volume``, ``table``...).
        offset: where the section starts in its segment file.
        size: the section's size, descriptor included.
        next_offset: where the next section starts; None: right after this one.

    Returns:
        The descriptor's bytes.
    """
    head = kind.encode().ljust(16, b"\0") + struct.pack("<QQ", offset + size if next_offset is None
                                                         else next_offset, size) + bytes(40)
    return head + adler(head)


def file_header(number: int) -> bytes:
    """The 13-byte file header that starts segment ``number`` (from 1)."""
    return SIGNATURE + b"\x01" + struct.pack("<H", number) + b"\0\0"


def _clean(value: str) -> str:
    return " ".join(value.split())


def header2_text(fields: CaseFields) -> str:
    """The header2 text (EnCase 5-7 layout): main, srce and sub categories, tab separated."""
    f = fields
    stamp = str(int(f.acquired.timestamp()))
    main = [f.description, f.case_number, f.evidence_number, f.examiner, f.notes, f.model, f.serial,
            f"dftk {__version__}"[:11], platform.system()[:23], stamp, stamp, "0", ""]
    return ("3\nmain\na\tc\tn\te\tt\tmd\tsn\tav\tov\tm\tu\tp\tdc\n" + "\t".join(map(_clean, main)) + "\n\n"
            "srce\n0\t1\np\tn\tid\tev\ttb\tlo\tpo\tah\tgu\taq\n0\t0\n\t\t\t\t\t-1\t-1\t\t\t\n\n"
            "sub\n0\t1\np\tn\tid\tnu\tco\tgu\n0\t0\n\t\t\t\t1\t\n\n")


def header_text(fields: CaseFields) -> str:
    """The older ASCII header section (EnCase 4 layout), which some tools still read."""
    f = fields
    t = f.acquired
    stamp = f"{t.year} {t.month} {t.day} {t.hour} {t.minute} {t.second}"
    main = [f.case_number, f.evidence_number, f.description, f.examiner, f.notes, f"dftk {__version__}"[:11],
            platform.system()[:23], stamp, stamp, "0"]
    return "1\r\nmain\r\nc\tn\ta\te\tt\tav\tov\tm\tu\tp\r\n" + "\t".join(map(_clean, main)) + "\r\n\r\n"


def header2_body(fields: CaseFields) -> bytes:
    """The header2 section body: its text in UTF-16 (with a byte order mark), zlib-compressed."""
    return zlib.compress(b"\xff\xfe" + header2_text(fields).encode("utf-16-le"), 9)


def header_body(fields: CaseFields) -> bytes:
    """The header section body: its ASCII text, zlib-compressed."""
    return zlib.compress(header_text(fields).encode("ascii", "replace"), 9)


def volume_data(chunks: int, sector_size: int, sectors: int, compression: str, physical: bool,
                guid: bytes) -> bytes:
    """The 1052-byte volume (and data) section body."""
    body = bytearray(1048)
    struct.pack_into("<B3xIIIQ", body, 0, 1, chunks, SECTORS_PER_CHUNK, sector_size, sectors)
    struct.pack_into("<I", body, 36, 3 if physical else 1)
    struct.pack_into("<B", body, 52, _VOLUME_LEVEL[compression])
    struct.pack_into("<I", body, 56, SECTORS_PER_CHUNK)
    body[64:80] = guid
    return bytes(body) + adler(body)


def table_body(sectors_at: int, entries: Sequence[int]) -> bytes:
    """The table (and table2) section body: a checked head naming the sectors section, then the chunk
    offsets relative to it (most significant bit = compressed) and their Adler-32."""
    head = struct.pack("<IIQI", len(entries), 0, sectors_at, 0)
    packed = struct.pack(f"<{len(entries)}I", *entries)
    return head + adler(head) + packed + adler(packed)


def error2_body(ranges: Sequence[tuple[int, int]]) -> bytes:
    """The error2 section body: the unreadable sector ranges as (first sector, count)."""
    head = struct.pack("<I", len(ranges)) + bytes(512)
    entries = b"".join(struct.pack("<II", start, count) for start, count in ranges)
    return head + adler(head) + entries + adler(entries)


def digest_body(md5: str, sha1: str) -> bytes:
    """The digest section body before its checksum: the MD5 and SHA1 of the media, then padding."""
    return bytes.fromhex(md5) + bytes.fromhex(sha1) + bytes(40)


def hash_body(md5: str) -> bytes:
    """The hash section body before its checksum: the MD5 of the media, then padding."""
    return bytes.fromhex(md5) + bytes(16)
