"""Document metadata (discipline: document): PDF (Info and XMP, per incremental revision), OOXML, OLE2, ODF.

Who wrote a document, with what, when, and how often it was saved. Encrypted documents are reported with
``encrypted: true`` and whatever their unencrypted parts tell. See docs/metadata.md for the fields.
"""

from __future__ import annotations

import io
import re
import struct
import xml.etree.ElementTree as ET
import zipfile
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, ClassVar

import olefile
from pypdf import PdfReader
from pypdf.errors import PyPdfError

from dftk.api import Buffer, EvidenceFile, Finding, Plugin, Problem, Record, mime_of
from dftk_plugins.metadata.common import find_xmp, first, iso_time, marks, parse_xmp, text, tidy

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
MAX_REVISIONS = 20  # earlier revisions parsed for their metadata; the count itself is always complete
MAX_XML = 8 << 20  # a docProps or meta.xml part larger than this is not read (zip bombs)
PDF_ERRORS = (PyPdfError, ValueError, KeyError, TypeError, IndexError, AttributeError, struct.error, zlib.error,
              RecursionError, OverflowError, UnicodeDecodeError, AssertionError)
OLE_ERRORS = (OSError, ValueError, struct.error, IndexError, KeyError, TypeError, EOFError, ZeroDivisionError,
              OverflowError, UnicodeDecodeError, AttributeError)
ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, ET.ParseError, OSError, EOFError, NotImplementedError, ValueError,
              KeyError, UnicodeDecodeError)
_PDF_DATE = re.compile(r"D?:?(\d{4})(\d\d)?(\d\d)?(\d\d)?(\d\d)?(\d\d)?\s*(Z|[+\-]\d\d'?\d\d'?|[+\-]\d\d)?")
_EOF = re.compile(rb"%%EOF[ \t]*(?:\r\n|\r|\n|$)")
_NS = {"cp": "http://schemas.openxmlformats.org/package/2006/metadata/core-properties",
       "dc": "http://purl.org/dc/elements/1.1/", "dcterms": "http://purl.org/dc/terms/",
       "ep": "http://schemas.openxmlformats.org/officeDocument/2006/extended-properties",
       "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
       "meta": "urn:oasis:names:tc:opendocument:xmlns:meta:1.0"}


class DocumentMetaPlugin(Plugin):
    """Document metadata: PDF Info/XMP per revision, OOXML and ODF properties, OLE2 summary, encryption."""

    name: ClassVar[str] = "document"
    discipline: ClassVar[str] = "document"
    version: ClassVar[str] = "1.0.0"

    def analyze(self, file: EvidenceFile, data: Buffer, **opts: Any) -> Iterator[Record]:
        head = bytes(data[:1024])
        reader = _reader_for(head)
        if reader is None:
            return
        raw = bytes(data)
        fields, tags, problems = reader(raw)
        for message in problems:
            yield Problem(file.path, message)
        if fields or tags:
            kept = tidy(fields)
            yield Finding("media/document", file.path, {"mime": mime_of(raw[:8192]), **kept, "tags": tags,
                                                        **marks(kept, {"created": "document created",
                                                                       "modified": "document modified"})})


Result = tuple[dict[str, Any], dict[str, Any], list[str]]


def _reader_for(head: bytes) -> Any:
    if b"%PDF-" in head:
        return read_pdf
    if head.startswith(OLE_MAGIC):
        return read_ole
    if head.startswith(b"PK\x03\x04"):
        return read_zip
    return None


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


# --- PDF ---------------------------------------------------------------------------------------------------

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

def read_ole(raw: bytes) -> Result:
    """SummaryInformation of an OLE2 file, and whether it is encrypted."""
    try:
        ole = olefile.OleFileIO(raw)
    except OLE_ERRORS as e:
        return {}, {}, [f"OLE2 file could not be read: {type(e).__name__}: {e}"]
    try:
        return _ole_fields(ole)
    except OLE_ERRORS as e:
        return {"encrypted": _ole_encrypted(ole, 0)}, {}, [f"OLE2 properties unreadable: {type(e).__name__}: {e}"]
    finally:
        ole.close()


def _ole_fields(ole: olefile.OleFileIO) -> Result:
    meta = ole.get_metadata()
    codepage = f"cp{meta.codepage}" if isinstance(meta.codepage, int) and meta.codepage not in (1200, 65001) \
        else "utf-8"
    for attr in (*meta.SUMMARY_ATTRIBS, *meta.DOCSUM_ATTRIBS):
        value = getattr(meta, attr, None)
        if isinstance(value, bytes):
            setattr(meta, attr, _decode(value, codepage))
    tags = {}
    for attr in (*meta.SUMMARY_ATTRIBS, *meta.DOCSUM_ATTRIBS):
        value = getattr(meta, attr, None)
        value = iso_time(_utc(value)) if isinstance(value, datetime) else text(value) if isinstance(
            value, str) else value if isinstance(value, int) else None
        if value is not None:
            tags[f"OLE:{attr}"] = value
    fields = {"title": text(meta.title), "author": text(meta.author), "last_modified_by": text(meta.last_saved_by),
              "creator_tool": text(meta.creating_application), "created": iso_time(_utc(meta.create_time)),
              "modified": iso_time(_utc(meta.last_saved_time)), "revision": text(meta.revno if hasattr(
                  meta, "revno") else meta.revision_number),
              "pages": meta.num_pages if isinstance(meta.num_pages, int) and meta.num_pages > 0 else None,
              "encrypted": _ole_encrypted(ole, meta.security if isinstance(meta.security, int) else 0)}
    return fields, tags, []


def _decode(value: bytes, codepage: str) -> str:
    try:
        return value.decode(codepage, "replace")
    except LookupError:
        return value.decode("latin-1")


def _utc(value: object) -> datetime | None:
    # OLE FILETIMEs are UTC; olefile returns them naive. Times before 1980 are durations or blanks.
    if isinstance(value, datetime) and value.year >= 1980:
        return value.replace(tzinfo=UTC)
    return None


def _ole_encrypted(ole: olefile.OleFileIO, security: int) -> bool:
    if security & 1 or ole.exists("EncryptionInfo") or ole.exists("EncryptedPackage"):
        return True
    if ole.exists("WordDocument"):
        fib = ole.openstream("WordDocument").read(12)
        return len(fib) >= 12 and bool(struct.unpack_from("<H", fib, 10)[0] & 0x0100)
    for name in ("Workbook", "Book"):
        if ole.exists(name):
            return _xls_filepass(ole.openstream(name).read(4096))
    return bool(ole.exists("EncryptedSummary"))


def _xls_filepass(stream: bytes) -> bool:
    offset = 0
    for _ in range(64):  # FILEPASS follows BOF within the first records of the workbook globals
        if offset + 4 > len(stream):
            return False
        kind, size = struct.unpack_from("<HH", stream, offset)
        if kind == 0x002F:
            return True
        if kind == 0x000A:  # EOF of the globals
            return False
        offset += 4 + size
    return False


# --- ZIP-based: OOXML and ODF --------------------------------------------------------------------------------

def read_zip(raw: bytes) -> Result:
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            names = set(archive.namelist())
            if "docProps/core.xml" in names or "[Content_Types].xml" in names:
                return _ooxml(archive, names)
            if "meta.xml" in names or "mimetype" in names:
                return _odf(archive, names)
    except ZIP_ERRORS as e:
        return {}, {}, [f"ZIP container could not be read: {type(e).__name__}: {e}"]
    return {}, {}, []


def _xml(archive: zipfile.ZipFile, name: str) -> ET.Element | None:
    info = archive.getinfo(name)
    if info.file_size > MAX_XML:
        raise ValueError(f"{name} claims {info.file_size} bytes")
    data = archive.read(name)
    if b"<!ENTITY" in data:
        raise ValueError(f"{name} declares XML entities")
    return ET.fromstring(data)


def _find(root: ET.Element | None, path: str) -> str | None:
    if root is None:
        return None
    element = root.find(path, _NS)
    return text(element.text) if element is not None else None


def _ooxml(archive: zipfile.ZipFile, names: set[str]) -> Result:
    core = _xml(archive, "docProps/core.xml") if "docProps/core.xml" in names else None
    app = _xml(archive, "docProps/app.xml") if "docProps/app.xml" in names else None
    tags = {f"OOXML:{_local(e.tag)}": text(e.text) for root in (core, app) if root is not None
            for e in root if text(e.text)}
    application = _find(app, "ep:Application")
    version = _find(app, "ep:AppVersion")
    pages = _find(app, "ep:Pages") or _find(app, "ep:Slides")
    fields = {"title": _find(core, "dc:title"), "author": _find(core, "dc:creator"),
              "last_modified_by": _find(core, "cp:lastModifiedBy"),
              "creator_tool": f"{application} {version}" if application and version else application,
              "created": iso_time(_find(core, "dcterms:created")),
              "modified": iso_time(_find(core, "dcterms:modified")),
              "revision": _find(core, "cp:revision"),
              "pages": int(pages) if pages and pages.isdigit() else None, "encrypted": False}
    return fields, tags, []


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _odf(archive: zipfile.ZipFile, names: set[str]) -> Result:
    root = _xml(archive, "meta.xml") if "meta.xml" in names else None
    manifest = archive.read("META-INF/manifest.xml") if "META-INF/manifest.xml" in names else b""
    meta = root.find("office:meta", _NS) if root is not None else None
    tags = {f"ODF:{_local(e.tag)}": text(e.text) for e in (meta if meta is not None else []) if text(e.text)}
    stats = meta.find("meta:document-statistic", _NS) if meta is not None else None
    pages = stats.get(f"{{{_NS['meta']}}}page-count") if stats is not None else None
    fields = {"title": _find(meta, "dc:title"), "author": _find(meta, "meta:initial-creator"),
              "last_modified_by": _find(meta, "dc:creator"), "creator_tool": _find(meta, "meta:generator"),
              "created": iso_time(_find(meta, "meta:creation-date")), "modified": iso_time(_find(meta, "dc:date")),
              "revision": _find(meta, "meta:editing-cycles"),
              "pages": int(pages) if pages and pages.isdigit() else None,
              "encrypted": b"encryption-data" in manifest}
    if root is None and not fields["encrypted"]:
        return {}, {}, []
    return fields, tags, []
