"""PDF metadata for the document plugin: Info and XMP of the newest revision, and the metadata of each
earlier incremental revision (pypdf)."""

from __future__ import annotations

import io
import re
import struct
import zlib
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from pypdf import PdfReader
from pypdf.errors import PyPdfError

from dftk_plugins.metadata.common import find_xmp, first, iso_time, parse_xmp, text

MAX_REVISIONS = 20  # earlier revisions parsed for their metadata; the count itself is always complete
PDF_ERRORS = (PyPdfError, ValueError, KeyError, TypeError, IndexError, AttributeError, struct.error, zlib.error,
              RecursionError, OverflowError, UnicodeDecodeError, AssertionError)
_PDF_DATE = re.compile(r"D?:?(\d{4})(\d\d)?(\d\d)?(\d\d)?(\d\d)?(\d\d)?\s*(Z|[+\-]\d\d'?\d\d'?|[+\-]\d\d)?")
_EOF = re.compile(rb"%%EOF[ \t]*(?:\r\n|\r|\n|$)")

Result = tuple[dict[str, Any], dict[str, Any], list[str]]


def pdf_date(value: object) -> str | None:
    """A PDF date (``D:20220403180542+02'00'``) as ISO 8601, with its offset when it has one."""
    m = _PDF_DATE.match(text(value) or "")
    if not m:
        return None
    year, month, day, hour, minute, second = (int(g) if g else d for g, d in zip(m.groups()[:6],
                                                                                (0, 1, 1, 0, 0, 0), strict=True))
    zone = m.group(7)
    try:
        tz = None if not zone else UTC if zone == "Z" else timezone(
            (1 if zone[0] == "+" else -1) * timedelta(hours=int(zone[1:3]), minutes=int(zone[3:].strip("'") or 0)))
        return datetime(year, month, day, hour, minute, second, tzinfo=tz).isoformat()
    except ValueError:
        return None


def read_pdf(raw: bytes) -> Result:
    """Info and XMP of the newest revision, and the metadata of each earlier incremental revision."""
    problems: list[str] = []
    ends = [m.end() for m in _EOF.finditer(raw)]
    linearized = b"/Linearized" in raw[:2048]
    fields, tags = _pdf_revision(raw, problems, newest=True)
    if not fields and not tags:
        return {}, {}, problems
    count = max(len(ends) - (1 if linearized and len(ends) > 1 else 0), 1)
    fields["revisions"] = {"count": count, "linearized": linearized,
                           "updates": _earlier_revisions(raw, ends, linearized, problems) if count > 1 else []}
    return fields, tags, problems


def _earlier_revisions(raw: bytes, ends: list[int], linearized: bool, problems: list[str]) -> list[dict[str, Any]]:
    earlier = ends[1:-1] if linearized else ends[:-1]
    revisions = []
    for number, end in enumerate(earlier[:MAX_REVISIONS], start=1):
        fields, _ = _pdf_revision(raw[:end], [], newest=False)
        revisions.append({"revision": number, "end_offset": end,
                          **{k: v for k, v in fields.items() if k in ("producer", "creator_tool", "author",
                                                                         "title", "created", "modified")}})
    if len(earlier) > MAX_REVISIONS:
        problems.append(f"{len(earlier)} earlier revisions; metadata read for the first {MAX_REVISIONS}")
    return revisions


def _pdf_revision(raw: bytes, problems: list[str], newest: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    try:
        reader = PdfReader(io.BytesIO(raw), strict=False)
        encrypted = bool(reader.is_encrypted)
        if encrypted:
            _try_empty_password(reader)
        info = _pdf_info(reader, [] if encrypted else problems)  # encrypted: the flag says why
        xmp = _pdf_xmp(reader, raw, problems) if newest else {}
        pages = _pdf_pages(reader, raw)
    except PDF_ERRORS as e:
        problems.append(f"PDF could not be read: {type(e).__name__}: {e}")
        return {}, {}
    tags = {f"PDF:{k.lstrip('/')}": text(v) for k, v in info.items() if text(v)} | xmp
    fields = {"title": first(text(info.get("/Title")), xmp.get("XMP:Title")),
              "author": first(text(info.get("/Author")), xmp.get("XMP:Creator")),
              "creator_tool": first(text(info.get("/Creator")), xmp.get("XMP:CreatorTool")),
              "producer": first(text(info.get("/Producer")), xmp.get("XMP:Producer")),
              "created": first(pdf_date(info.get("/CreationDate")), iso_time(xmp.get("XMP:CreateDate"))),
              "modified": first(pdf_date(info.get("/ModDate")), iso_time(xmp.get("XMP:ModifyDate"))),
              "pages": pages, "encrypted": encrypted}
    return fields, tags


def _try_empty_password(reader: PdfReader) -> None:
    try:
        reader.decrypt("")
    except PDF_ERRORS:
        pass  # the metadata stays unreadable; `encrypted` says why


def _pdf_info(reader: PdfReader, problems: list[str]) -> dict[str, Any]:
    try:
        info = reader.metadata
    except PDF_ERRORS as e:
        problems.append(f"PDF Info dictionary could not be read: {type(e).__name__}: {e}")
        return {}
    return {str(k): v for k, v in (info or {}).items()}


def _pdf_xmp(reader: PdfReader, raw: bytes, problems: list[str]) -> dict[str, Any]:
    try:
        root: Any = reader.trailer["/Root"].get_object()
        meta = root.get("/Metadata")
        packet = meta.get_object().get_data() if meta is not None else None
    except PDF_ERRORS:
        packet = find_xmp(raw)
    tags: dict[str, Any]
    tags, problem = parse_xmp(packet)
    if problem:
        problems.append(problem)
    return tags


def _pdf_pages(reader: PdfReader, raw: bytes) -> int | None:
    try:
        return len(reader.pages)
    except PDF_ERRORS:
        counts = [int(c) for c in re.findall(rb"/Type\s*/Pages\b[^>]*?/Count\s+(\d+)", raw[: 64 << 20])]
        return max(counts) if counts else None


# --- OLE2 (Word, Excel, PowerPoint 97-2003; encrypted OOXML) -------------------------------------------------
