"""Ledgers in text files: CSV and TSV in UTF-8 (with or without a BOM), UTF-16 with a BOM, GBK or GB18030.

The encoding is detected and recorded: a BOM decides; otherwise strict UTF-8, then GBK, then GB18030 (GBK's
superset: a file that needs it holds characters GBK lacks). Plain ASCII is reported as ``utf-8``. The
delimiter is the one of ``,`` tab ``;`` ``|`` that splits the first lines most consistently.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator

from dftk_plugins.ledger.tables import MAX_ROWS, Table

EXTENSIONS = frozenset({"csv", "tsv", "txt", "tab", "dat", "prn"})
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_DELIMITERS = (",", "\t", ";", "|")


def encoding_of(head: bytes) -> str | None:
    """The encoding the bytes decode in (a prefix may end inside a character: that is allowed)."""
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name
    for name in ("utf-8", "gbk", "gb18030"):
        try:
            codecs.getincrementaldecoder(name)().decode(head, final=False)
        except UnicodeDecodeError:
            continue
        return name
    return None


def head_text(head: bytes) -> str | None:
    """The first bytes of a text file as text (None when they are not text in a known encoding)."""
    encoding = encoding_of(head)
    if encoding is None or (b"\0" in head and encoding != "utf-16"):
        return None
    return codecs.getincrementaldecoder(encoding)(errors="replace").decode(head, final=False)


def delimiter(sample: str) -> str:
    """The delimiter that splits the sample's first lines into the same number (> 1) of fields most often."""
    lines = [line for line in sample.splitlines()[:30] if line.strip()]
    best, score = ",", 0
    for candidate in _DELIMITERS:
        counts = [line.count(candidate) for line in lines]
        usual = max(set(counts), key=lambda c: (counts.count(c), c)) if counts else 0
        found = counts.count(usual) if usual > 0 else 0
        if found > score:
            best, score = candidate, found
    return best


def read_text(data: bytes) -> Iterator[Table | str]:
    """The file as one table, or a problem's message."""
    encoding = encoding_of(data)
    if encoding is None:
        yield "text: neither UTF-8, GBK nor GB18030 (undecodable bytes)"
        return
    try:
        content = data.decode(encoding)
    except UnicodeDecodeError as e:
        yield f"text: {encoding} up to byte {e.start}, then undecodable bytes"
        return
    sep = delimiter(content[:65536])
    reader = csv.reader(io.StringIO(content, newline=""), delimiter=sep)
    rows: list[tuple[int, list[object]]] = []
    start = 1
    try:
        for cells in reader:
            if len(rows) >= MAX_ROWS:
                yield Table("", "tsv" if sep == "\t" else "csv", rows, "line", encoding, truncated=True)
                return
            if any(c.strip() for c in cells):
                rows.append((start, list(cells)))
            start = reader.line_num + 1
    except csv.Error as e:
        yield f"text: line {reader.line_num}: {e}"
        return
    yield Table("", "tsv" if sep == "\t" else "csv", rows, "line", encoding)
