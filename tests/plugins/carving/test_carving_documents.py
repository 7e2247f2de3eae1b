"""Carving of ZIP (and the OOXML/ODF built on it) and PDF: spliced files recovered byte-exact, truncated ones
partial (one output, not one per inner entry), two-fragment files reassembled byte-exact whatever fills the
gap, random data yields nothing."""

from __future__ import annotations

import hashlib
import io
import random
import zipfile

import pytest
from carving_kit import FILLERS, SECTOR, filler, splice, text
from carving_kit import carved as carved_types

from helpers import shared_data

# ordinary words, and ones the ZIP and PDF checks look for
WORDS = (b"lorem", b"ipsum", b"dolor", b"sit", b"amet", b"PK", b"obj")


def gap_filler(kind: str, n: int) -> bytes:
    """What lies between two fragments: random bytes, zeros or text."""
    return text(n, n, WORDS) if kind == "text" else FILLERS[kind](n, n)


def carved(media: bytes, types: str = "zip,pdf") -> list[dict[str, object]]:
    return carved_types(media, types)


def zipped(entries: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED, streamed: bool = False) -> bytes:
    out = io.BytesIO()
    target = _Unseekable(out) if streamed else out
    with zipfile.ZipFile(target, "w", method) as z:  # type: ignore[arg-type]
        for name, data in entries.items():
            with z.open(name, "w") as f:
                f.write(data)
    return out.getvalue()


class _Unseekable:
    """A stream zipfile cannot seek back in: it then writes sizes in data descriptors (as LibreOffice does)."""

    def __init__(self, out: io.BytesIO) -> None:
        self.out = out

    def write(self, data: bytes) -> int:
        return self.out.write(data)

    def flush(self) -> None:
        pass

    def tell(self) -> int:
        raise OSError("unseekable")


def archive(method: int = zipfile.ZIP_DEFLATED) -> bytes:
    rng = random.Random(7)
    text = b" ".join(rng.choice([b"alpha", b"beta", b"gamma", b"delta", b"\n"]) for _ in range(30000))
    return zipped({"notes.txt": text, "photo.bin": filler(40000, 2), "log.txt": text[::-1],
                   "more.bin": filler(25000, 3), "last.txt": text[:9000]}, method)


def only_row(rows: list[dict[str, object]], offset: int) -> dict[str, object]:
    [row] = [r for r in rows if r["offset"] == offset and r["embedded_in"] is None]
    return row


@pytest.mark.parametrize("method", [zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED])
def test_spliced_zip_is_recovered_byte_exact(method: int) -> None:
    data = archive(method)
    media, [offset] = splice([data])
    rows = carved(media)
    row = only_row(rows, offset)
    assert row["sha256"] == hashlib.sha256(data).hexdigest() and row["validation"] == "full"
    assert [r for r in rows if r["embedded_in"] is None] == [row]  # inner entries are not archives


def test_streamed_zip_with_data_descriptors_is_recovered() -> None:
    data = zipped({"mimetype": b"application/zip", "content.xml": b"<doc>" + b"text " * 4000 + b"</doc>"},
                  streamed=True)
    assert data[6] & 8  # sizes after the data
    media, [offset] = splice([data])
    row = only_row(carved(media), offset)
    assert row["sha256"] == hashlib.sha256(data).hexdigest() and row["validation"] == "full"


def test_docx_keeps_its_kind() -> None:
    data = shared_data("plaso/Document.docx").read_bytes()
    media, [offset] = splice([data])
    row = only_row(carved(media), offset)
    assert row["type"] == "docx" and row["sha256"] == hashlib.sha256(data).hexdigest()


def test_truncated_zip_is_one_partial_output() -> None:
    data = archive()
    media, [offset] = splice([data[:len(data) * 3 // 4]])
    rows = [r for r in carved(media) if r["embedded_in"] is None]
    assert len(rows) == 1 and rows[0]["offset"] == offset and rows[0]["validation"] == "partial"


@pytest.mark.parametrize("kind", ["random", "zeros", "text"])
@pytest.mark.parametrize("where", [0.3, 0.55, 0.995])  # inside a deflated, a stored entry; in the directory
def test_two_fragment_zip_is_reassembled(kind: str, where: float) -> None:
    data = archive()
    cut = int(len(data) * where) // SECTOR * SECTOR
    gap = gap_filler(kind, SECTOR * (32 + int(where * 400)))
    media, [offset] = splice([data[:cut] + gap + data[cut:]])
    rows = carved(media)
    row = only_row(rows, offset)
    assert row["sha256"] == hashlib.sha256(data).hexdigest() and row["validation"] == "full"
    assert row["fragments"] == [[offset, cut], [offset + cut + len(gap), len(data) - cut]]
    assert [r for r in rows if r["embedded_in"] is None] == [row]


def test_random_data_yields_nothing() -> None:
    assert carved(filler(8 << 20, 12)) == []


PDF = "py-pdf-sample-files/001-trivial/minimal-document.pdf"


def test_spliced_pdf_is_recovered_byte_exact() -> None:
    data = shared_data(PDF).read_bytes()
    media, [offset] = splice([data])
    row = only_row(carved(media), offset)
    assert row["sha256"] == hashlib.sha256(data).hexdigest() and row["validation"] == "full"


def test_truncated_pdf_is_partial() -> None:
    data = shared_data(PDF).read_bytes()
    media, [offset] = splice([data[:len(data) * 2 // 3]])
    assert only_row(carved(media), offset)["validation"] == "partial"


@pytest.mark.parametrize("kind", ["random", "zeros", "text"])
@pytest.mark.parametrize("name", ["012-libreoffice-form/libreoffice-form.pdf",
                                  "002-trivial-libre-office-writer/002-trivial-libre-office-writer.pdf"])
def test_two_fragment_pdf_is_reassembled(kind: str, name: str) -> None:
    data = shared_data(f"py-pdf-sample-files/{name}").read_bytes()
    cut = len(data) // 2 // SECTOR * SECTOR
    gap = gap_filler(kind, SECTOR * 40)
    media, [offset] = splice([data[:cut] + gap + data[cut:]])
    row = only_row(carved(media), offset)
    assert row["sha256"] == hashlib.sha256(data).hexdigest() and row["validation"] == "full"
    assert row["fragments"] == [[offset, cut], [offset + cut + len(gap), len(data) - cut]]
