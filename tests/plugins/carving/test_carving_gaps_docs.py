"""Gap carving of PDF (cross-reference streams; a cut inside a Flate image stream) and OLE2 (the gap found
from the FAT sectors' shifted copies, the cut from the PowerPoint records): two-fragment files are
reassembled byte-exact whatever fills the gap; random data yields nothing."""

from __future__ import annotations

import hashlib

import pytest
from carving_kit import FILLERS, SECTOR, carved, filler, text

from dftk_plugins.carving.compound import _records_break
from dftk_plugins.carving.pdf import _xref_stream_entries
from helpers import shared_data

# ordinary words, and ones the ZIP and PDF checks look for
WORDS = (b"Report", b"archive", b"sector", b"email", b"obj", b"stream", b"partition")


def gap_filler(kind: str, n: int) -> bytes:
    """What lies between two fragments: random bytes, zeros or text."""
    return text(n, n, WORDS) if kind == "text" else FILLERS[kind](n, n)


def two_fragments(data: bytes, cut: int, gap: bytes, types: str) -> tuple[dict[str, object], int]:
    """The one top-level output at a file planted in two fragments between random filler."""
    pad = filler(SECTOR * 8, 3)
    media = pad + data[:cut] + gap + data[cut:] + filler(-len(data) % SECTOR + SECTOR * 4, 4)
    [row] = [r for r in carved(media, types) if r["offset"] == len(pad) and r["embedded_in"] is None]
    return row, len(pad)


def assert_reassembled(row: dict[str, object], data: bytes, offset: int, cut: int, gap: int) -> None:
    assert row["validation"] == "full" and row["sha256"] == hashlib.sha256(data).hexdigest()
    assert row["fragments"] == [[offset, cut], [offset + cut + gap, len(data) - cut]]


KINDS = ["random", "zeros", "text"]


@pytest.mark.parametrize("kind", KINDS)
def test_pdf_with_a_cross_reference_stream_is_reassembled(kind: str) -> None:
    data = shared_data("py-pdf-sample-files/026-latex-multicolumn/multicolumn.pdf").read_bytes()
    cut, gap = 107 * SECTOR, gap_filler(kind, SECTOR * 200)  # inside a font's Flate stream
    row, offset = two_fragments(data, cut, gap, "pdf")
    assert_reassembled(row, data, offset, cut, len(gap))


@pytest.mark.parametrize("kind", KINDS)
def test_pdf_cut_inside_an_image_stream_is_reassembled(kind: str) -> None:
    data = shared_data("py-pdf-sample-files/023-cmyk-image/cmyk-image.pdf").read_bytes()
    cut, gap = 583 * SECTOR, gap_filler(kind, SECTOR * 392)
    row, offset = two_fragments(data, cut, gap, "pdf")
    assert_reassembled(row, data, offset, cut, len(gap))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("cut_sector", [16, 84])  # inside the PowerPoint Document stream
def test_two_fragment_ppt_is_reassembled(kind: str, cut_sector: int) -> None:
    data = shared_data("oletools/olevba/sample_with_vba.ppt").read_bytes()
    cut, gap = cut_sector * SECTOR, gap_filler(kind, SECTOR * 481)
    row, offset = two_fragments(data, cut, gap, "ole2")
    assert_reassembled(row, data, offset, cut, len(gap))


def test_cross_reference_stream_entries_are_decoded() -> None:
    rows = bytes([1, 0, 15, 0, 0, 2, 0, 3, 0, 1, 1, 1, 0, 0, 0])  # /W [1 2 2]: in use, compressed, in use
    obj = (b"9 0 obj\n<< /Type /XRef /Size 12 /Index [7 3] /W [1 2 2] /Length %d >>\nstream\n" % len(rows)
           + rows + b"\nendstream\nendobj\n")
    assert _xref_stream_entries(obj) == [(15, 7, 0), (256, 9, 0)]


def test_powerpoint_records_break_where_gap_bytes_sit() -> None:
    atom = b"\x00\x00\xf5\x0f\x04\x00\x00\x00abcd"
    container = b"\x0f\x00\xe8\x03" + len(atom * 2).to_bytes(4, "little") + atom * 2
    assert _records_break(container + atom) is None
    assert _records_break(container + b"lorem ipsum dolor") == len(container)
    assert _records_break(container[:20] + bytes(20)) == 20


def test_random_data_yields_nothing() -> None:
    assert carved(filler(4 << 20, 21), "ole2,pdf") == []
