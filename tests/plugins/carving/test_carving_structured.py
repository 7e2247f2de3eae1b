"""Carving of structured formats: PE executables (where the headers prove the file ends), OLE2 compound
files and SQLite databases (every sector or page checked; a broken one is partial; SQLite split in two
fragments is reassembled)."""

from __future__ import annotations

import hashlib
import os
import random
import sqlite3
from pathlib import Path

import pytest
from carving_kit import SECTOR, carved, filler, splice

from helpers import shared_data


def database(tmp: Path, rows: int = 400, page: int = 4096) -> bytes:
    path = tmp / "t.db"
    with sqlite3.connect(path) as db:
        db.execute(f"pragma page_size={page}")
        db.execute("create table t(a integer primary key, b text, c blob)")
        db.execute("create index ib on t(b)")
        rng = random.Random(rows)
        db.executemany("insert into t(b, c) values (?, ?)",
                       [(rng.randbytes(30).hex(), rng.randbytes(rng.choice((10, 300, 6000)))) for _ in range(rows)])
        db.execute("delete from t where a % 5 = 0")  # a freelist
    return path.read_bytes()


def row_at(media: bytes, offset: int, types: str) -> dict[str, object]:
    [row] = [r for r in carved(media, types) if r["offset"] == offset and r["embedded_in"] is None]
    return row


def exact(row: dict[str, object], data: bytes) -> bool:
    return row["sha256"] == hashlib.sha256(data).hexdigest() and row["validation"] == "full"


# pe_mingw ends with its COFF symbol and string tables, ChipTune.efi with an empty string table,
# authenticode_short_digest with its certificate table, undersized_rich with its NT headers.
@pytest.mark.parametrize("name", ["yara/data/pe_mingw", "yara/data/ChipTune.efi", "yara/data/authenticode_short_digest",
                                  "yara/data/undersized_rich", "yara/data/mtxex.dll", "plaso/test_pe.exe",
                                  "plaso/test_driver.sys"])
def test_pe_ends_where_its_headers_prove(name: str) -> None:
    data = shared_data(name).read_bytes()
    media, [offset] = splice([data])
    assert exact(row_at(media, offset, "pe"), data)


def test_pe_whose_section_table_is_cut_is_partial_at_the_table() -> None:
    data = shared_data("yara/data/weird_rich").read_bytes()  # 840 bytes: its section table is missing
    media, [offset] = splice([data])
    row = row_at(media, offset, "pe")
    assert row["validation"] == "partial" and row["sha256"] == hashlib.sha256(data).hexdigest()


def test_truncated_pe_is_partial() -> None:
    data = shared_data("yara/data/pe_imports").read_bytes()
    media, [offset] = splice([data[:len(data) // 2]], gap=1)
    media = media[:offset + len(data) // 2]
    assert row_at(media, offset, "pe")["validation"] == "partial"


@pytest.mark.parametrize("name", ["plaso/Document.doc", "oletools/olevba/sample_with_vba.ppt",
                                  "oletools/excel4-macros/excel4_sample_macro.xls"])
def test_ole2_spliced_is_recovered_byte_exact(name: str) -> None:
    data = shared_data(name).read_bytes()
    media, [offset] = splice([data])
    assert exact(row_at(media, offset, "ole2"), data)


def test_ole2_truncated_or_with_filler_inside_is_partial() -> None:
    data = shared_data("oletools/olevba/sample_with_vba.ppt").read_bytes()
    cut = len(data) * 2 // 3 // SECTOR * SECTOR
    for broken in (data[:cut], data[:cut] + filler(64 << 10, 5) + data[cut:]):
        media, [offset] = splice([broken])
        assert row_at(media, offset, "ole2")["validation"] == "partial"


def test_sqlite_spliced_is_recovered_byte_exact(tmp_path: Path) -> None:
    data = database(tmp_path)
    media, [offset] = splice([data])
    assert exact(row_at(media, offset, "sqlite"), data)


def test_sqlite_truncated_is_partial(tmp_path: Path) -> None:
    data = database(tmp_path)
    media, [offset] = splice([data[:len(data) // 2]])
    assert row_at(media, offset, "sqlite")["validation"] == "partial"


@pytest.mark.parametrize("fill", ["random", "zero", "text"])
def test_two_fragment_sqlite_is_reassembled(fill: str, tmp_path: Path) -> None:
    data = database(tmp_path, rows=600, page=4096)
    cut = len(data) * 3 // 7 // SECTOR * SECTOR + 3 * SECTOR  # inside a page
    size = 40 << 10
    gap = {"random": filler(size, 9), "zero": bytes(size), "text": (b"lorem ipsum dolor sit amet " * 2000)[:size]}[fill]
    media, [offset] = splice([data[:cut] + gap + data[cut:]])
    row = row_at(media, offset, "sqlite")
    assert exact(row, data)
    assert row["fragments"] == [[offset, cut], [offset + cut + size, len(data) - cut]]


def test_random_data_yields_no_structured_file() -> None:
    media = filler(8 << 20, 12)
    for at in range(0, len(media) - 4096, 1 << 20):  # headers with random bodies
        media = media[:at] + b"MZ" + media[at + 2:]
    assert carved(media, "pe,ole2,sqlite") == []


def test_hostile_headers_do_not_crash() -> None:
    rng = random.Random(4)
    for magic in (b"SQLite format 3\x00", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"MZ"):
        for _ in range(20):
            body = bytearray(rng.randbytes(8192))
            body[:len(magic)] = magic
            if magic == b"MZ":
                body[60:64] = (128).to_bytes(4, "little")
                body[128:132] = b"PE\0\0"
                body[152:154] = (0x10B).to_bytes(2, "little")
            carved(bytes(body) + os.urandom(1024), "pe,ole2,sqlite")
