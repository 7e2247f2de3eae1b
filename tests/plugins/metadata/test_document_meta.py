"""The document metadata plugin: PDF Info/XMP/revisions against files.json, OOXML, OLE2, ODF, encryption."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from pypdf import PdfWriter

from dftk.evidence.files import EvidenceFile
from dftk.records import Finding, Problem, check_json
from dftk_plugins.metadata.document import DocumentMetaPlugin
from dftk_plugins.metadata.document_pdf import pdf_date
from helpers import shared_data

# files.json values we do not reproduce, with the reason.
ALLOWED = {
    ("005-libreoffice-writer-password/libreoffice-writer-password.pdf", "producer"):
        "Info strings are encrypted with a user password; files.json was made with the password",
    ("005-libreoffice-writer-password/libreoffice-writer-password.pdf", "creation_date"):
        "Info strings are encrypted with a user password; files.json was made with the password",
    ("017-unreadable-meta-data/unreadablemetadata.pdf", "producer"): "broken xref: exiftool reads nothing either",
    ("017-unreadable-meta-data/unreadablemetadata.pdf", "pages"): "broken xref: exiftool reads nothing either",
    ("017-unreadable-meta-data/unreadablemetadata.pdf", "creation_date"): "broken xref: exiftool reads nothing either",
}


def analyze(path: Path | str, data: bytes) -> list[Finding | Problem]:
    return list(DocumentMetaPlugin().analyze(EvidenceFile(str(path), len(data)), data))


def media(records: list[Finding | Problem]) -> dict[str, object]:
    return next((dict(r.data) for r in records if isinstance(r, Finding)), {})


def test_pdf_with_incremental_update_counts_revisions_and_keeps_each_ones_metadata() -> None:
    writer = PdfWriter()
    writer.add_blank_page(100, 100)
    writer.add_metadata({"/Author": "Alice", "/Producer": "first", "/CreationDate": "D:20200102030405+01'00'"})
    first = io.BytesIO()
    writer.write(first)
    updated = PdfWriter(io.BytesIO(first.getvalue()), incremental=True)
    updated.add_metadata({"/Author": "Mallory", "/Producer": "second"})
    out = io.BytesIO()
    updated.write(out)
    data = media(analyze("/a.pdf", out.getvalue()))
    assert data["author"] == "Mallory" and data["producer"] == "second" and data["pages"] == 1
    assert data["created"] == "2020-01-02T03:04:05+01:00" and data["encrypted"] is False
    revisions = data["revisions"]
    assert isinstance(revisions, dict) and revisions["count"] == 2
    assert revisions["updates"][0]["author"] == "Alice" and revisions["updates"][0]["producer"] == "first"
    check_json(data, "document")


def test_pdf_dates() -> None:
    assert pdf_date("D:20220403180542+02'00'") == "2022-04-03T18:05:42+02:00"
    assert pdf_date("D:2022") == "2022-01-01T00:00:00" and pdf_date("garbage") is None


def test_parity_with_files_json() -> None:
    root = shared_data("py-pdf-sample-files")
    compared, disagreements = 0, []
    for entry in json.loads((root / "files.json").read_text())["data"]:
        path = root / entry["path"]
        if not path.exists():
            continue
        data = media(analyze(path, path.read_bytes()))
        ours = {"producer": data.get("producer"), "pages": data.get("pages"), "encrypted": data.get("encrypted"),
                "creation_date": str(data.get("created") or "")[:19] or None}
        for field, value in ours.items():
            expected = entry.get(field)
            expected = expected[:19] if field == "creation_date" and expected else expected
            compared += 1
            if expected != value and (entry["path"], field) not in ALLOWED:
                disagreements.append((entry["path"], field, expected, value))
    assert compared >= 120 and not disagreements


def test_office_files_encryption_and_properties() -> None:
    root = shared_data("oletools")
    for path in sorted((root / "encrypted").iterdir()):
        assert media(analyze(path, path.read_bytes()))["encrypted"] is True, path
    doc = media(analyze("/d.doc", (root / "msodde" / "harmless-clean.doc").read_bytes()))
    assert doc["author"] == "user" and doc["encrypted"] is False and doc["created"] == "2017-10-26T09:09:00+00:00"
    docx = media(analyze("/d.docx", (root / "msodde" / "dde-test.docx").read_bytes()))
    assert docx["title"] == "This is a dde test file" and str(docx["creator_tool"]).startswith("Microsoft")


def test_every_sample_gives_fields_or_problems_never_a_crash() -> None:
    for name in ("py-pdf-sample-files", "oletools"):
        for path in sorted(p for p in shared_data(name).rglob("*") if p.is_file()):
            for record in analyze(path, path.read_bytes()):
                if isinstance(record, Finding):
                    check_json(record.data, "document")


def test_generated_odf_and_ooxml() -> None:
    odf = io.BytesIO()
    with zipfile.ZipFile(odf, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        z.writestr("meta.xml", '<office:document-meta xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"'
                   ' xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0" xmlns:dc="http://purl.org/dc/'
                   'elements/1.1/"><office:meta><dc:title>T</dc:title><meta:initial-creator>Ann</meta:initial-'
                   'creator><dc:creator>Bob</dc:creator><meta:editing-cycles>7</meta:editing-cycles>'
                   '<meta:document-statistic meta:page-count="3"/></office:meta></office:document-meta>')
    data = media(analyze("/x.odt", odf.getvalue()))
    assert (data["title"], data["author"], data["last_modified_by"], data["revision"], data["pages"]) == (
        "T", "Ann", "Bob", "7", 3)
    assert analyze("/plain.zip", _zip({"a.txt": "x"})) == []
    broken = analyze("/broken.docx", b"PK\x03\x04" + b"\x00" * 40)
    assert broken and all(isinstance(r, Problem) for r in broken)


def _zip(files: dict[str, str]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, content in files.items():
            z.writestr(name, content)
    return out.getvalue()
