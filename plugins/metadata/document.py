"""Document metadata (discipline: document): PDF (Info and XMP, per incremental revision), OOXML, OLE2, ODF.

Who wrote a document, with what, when, and how often it was saved. Encrypted documents are reported with
``encrypted: true`` and whatever their unencrypted parts tell. See docs/metadata.md for the fields.
"""

from __future__ import annotations

import io
import struct
import xml.etree.ElementTree as ET
import zipfile
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, ClassVar

import olefile

from dftk.api import Buffer, EvidenceFile, Finding, Plugin, Problem, Record, mime_of
from dftk_plugins.metadata.common import iso_time, marks, text, tidy

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
MAX_XML = 8 << 20  # a docProps or meta.xml part larger than this is not read (zip bombs)
OLE_ERRORS = (OSError, ValueError, struct.error, IndexError, KeyError, TypeError, EOFError, ZeroDivisionError,
              OverflowError, UnicodeDecodeError, AttributeError)
ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, ET.ParseError, OSError, EOFError, NotImplementedError, ValueError,
              KeyError, UnicodeDecodeError)
_NS = {"cp": "http://schemas.openxmlformats.org/package/2006/metadata/core-properties",
       "dc": "http://purl.org/dc/elements/1.1/", "dcterms": "http://purl.org/dc/terms/",
       "ep": "http://schemas.openxmlformats.org/officeDocument/2006/extended-properties",
       "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
       "meta": "urn:oasis:names:tc:opendocument:xmlns:meta:1.0"}


class DocumentMetaPlugin(Plugin):
    """Document metadata: PDF Info/XMP per revision, OOXML and ODF properties, OLE2 summary, encryption."""

    name: ClassVar[str] = "document"
    discipline: ClassVar[str] = "document"
    version: ClassVar[str] = "1.1.0"

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
        # pypdf takes a quarter of a second to import: loaded when the first PDF is met, not at start-up
        from dftk_plugins.metadata.document_pdf import read_pdf

        return read_pdf
    if head.startswith(OLE_MAGIC):
        return read_ole
    if head.startswith(b"PK\x03\x04"):
        return read_zip
    return None


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
