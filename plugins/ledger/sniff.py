"""What a file may hold, decided from its first (and, for ZIP, last) bytes and its extension alone.

Most files of real evidence are not spreadsheets: this is all the ledger plugin spends on them. A ZIP is a
workbook only when its directory names ``xl/workbook.xml`` (or ``.bin``) or its first entry declares an
OpenDocument spreadsheet; an OLE2 compound file only when it holds a ``Workbook`` or ``Book`` stream (an
``EncryptedPackage`` stream is an encrypted OOXML workbook); a text file only with a text extension and first
lines that read as a transaction table (a header naming a date and an amount, or such columns by content).
"""

from __future__ import annotations

import csv
from pathlib import PurePosixPath

from dftk.api import Buffer
from dftk_plugins.ledger.recognise import layout
from dftk_plugins.ledger.tables import Table
from dftk_plugins.ledger.text import EXTENSIONS, delimiter, head_text

SQLITE = b"SQLite format 3\x00"
ZIP = b"PK\x03\x04"
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ODS = b"mimetypeapplication/vnd.oasis.opendocument.spreadsheet"
_ZIP_TAIL = 1 << 20  # the central directory of any workbook we read ends within this much of the end
_TEXT_HEAD = 1 << 16
_HEAD_LINES = 60


def sniff(path: str, data: Buffer) -> str | None:
    """``sqlite``, ``xlsx``, ``xlsb``, ``ods``, ``xls``, ``encrypted``, ``text``, or None (not a ledger)."""
    head = bytes(data[:16])
    if head.startswith(SQLITE):
        return "sqlite"
    if head.startswith(ZIP):
        return _zip_kind(data)
    if head.startswith(OLE2):
        return _ole_kind(data)
    if PurePosixPath(path).suffix.lower().lstrip(".") in EXTENSIONS:
        return "text" if text_header(bytes(data[:_TEXT_HEAD])) else None
    return None


def _zip_kind(data: Buffer) -> str | None:
    if bytes(data[30:30 + len(_ODS)]) == _ODS:
        return "ods"
    tail = bytes(data[max(0, len(data) - _ZIP_TAIL):])
    if b"xl/workbook.xml" in tail:
        return "xlsx"
    return "xlsb" if b"xl/workbook.bin" in tail else None


def _ole_kind(data: Buffer) -> str | None:
    # the directory's stream names, searched in place (bytes and mmap both find without a copy)
    if data.find("EncryptedPackage".encode("utf-16-le")) >= 0:
        return "encrypted"
    if data.find("Workbook".encode("utf-16-le")) >= 0 or data.find("Book\0".encode("utf-16-le")) >= 0:
        return "xls"
    return None


def text_header(head: bytes) -> bool:
    """Whether the first lines of a text read as a transaction table (by a header line, or by content)."""
    sample = head_text(head)
    if sample is None:
        return False
    sep = delimiter(sample)
    lines = sample.splitlines()[:_HEAD_LINES]
    if len(lines) > 1 and len(head) == _TEXT_HEAD:
        lines = lines[:-1]  # the last line may be cut short
    if not any(sep in line for line in lines):
        return False
    try:
        rows = [(n, list(cells)) for n, cells in enumerate(csv.reader(lines, delimiter=sep), start=1) if cells]
    except csv.Error:
        return False
    return layout(Table("", "csv", rows, "line")) is not None
