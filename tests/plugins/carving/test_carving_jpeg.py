"""JPEG carving: a spliced JPEG is recovered byte-exact, a truncated one is partial, foreign data inside the
entropy-coded data (which Pillow decodes through) is never reported full, a file split in two with random,
zero or text filler between is reassembled from its two fragments, random data yields nothing, and the
hostile files of exif-py do not crash the carver."""

from __future__ import annotations

import hashlib
import io
import struct
from functools import cache

import numpy as np
import pytest
from carving_kit import SECTOR, filler, splice
from carving_kit import carved as carved_types
from PIL import Image

from helpers import shared_data

TEXT = b"Minutes of the meeting held on Tuesday; all members were present and the budget was approved.\n"


def carved(media: bytes, types: str = "jpeg") -> list[dict[str, object]]:
    return carved_types(media, types)


def photo(size: tuple[int, int] = (320, 240), **kw: object) -> bytes:
    """A JPEG of noise over a gradient: entropy-coded data of a few tens of KiB, like a small photograph."""
    gradient = Image.linear_gradient("L").resize(size)
    # seeded Gaussian noise (Pillow's effect_noise cannot be seeded: every run would test another picture)
    rng = np.random.default_rng(5)
    noise = [Image.fromarray(rng.normal(128, sigma, size[::-1]).clip(0, 255).astype(np.uint8), "L")
             for sigma in (30, 60)]
    out = io.BytesIO()
    Image.merge("RGB", (noise[0], gradient, noise[1])).save(out, "JPEG", quality=90, **kw)
    return out.getvalue()


def scan_start(data: bytes) -> int:
    """Where the first scan's entropy-coded data starts."""
    pos = 2
    while data[pos + 1] != 0xDA:
        pos += 2 + struct.unpack(">H", data[pos + 2:pos + 4])[0]
    return pos + 2 + struct.unpack(">H", data[pos + 2:pos + 4])[0]


def markerless(n: int, seed: int) -> bytes:
    """Random bytes with no FF, so no marker: foreign data the marker chain cannot see."""
    return filler(n, seed).replace(b"\xff", b"\xfe")


def text(n: int) -> bytes:
    return (TEXT * (n // len(TEXT) + 1))[:n]


@cache
def sources() -> list[bytes]:
    return [photo(), photo(progressive=True), photo(optimize=True, restart_marker_blocks=4),
            shared_data("exif-py/jpg/Canon_40D.jpg").read_bytes()]


def top(rows: list[dict[str, object]], offset: int) -> dict[str, object]:
    [row] = [r for r in rows if r["offset"] == offset and r["embedded_in"] is None]
    return row


@pytest.mark.parametrize("index", range(4))
def test_spliced_jpeg_is_recovered_byte_exact(index: int) -> None:
    data = sources()[index]
    media, [offset] = splice([data])
    row = top(carved(media), offset)
    assert row["sha256"] == hashlib.sha256(data).hexdigest() and row["validation"] == "full"
    assert row["fragments"] == [[offset, len(data)]]


def test_thumbnail_stays_embedded() -> None:
    data = shared_data("exif-py/jpg/Canon_40D.jpg").read_bytes()
    media, [offset] = splice([data])
    rows = carved(media)
    [inner] = [r for r in rows if r["embedded_in"] is not None]
    assert inner["embedded_in"] == top(rows, offset)["path"] and inner["validation"] == "full"


def test_flat_picture_whose_entropy_data_is_zeros_is_full() -> None:
    out = io.BytesIO()
    Image.new("RGB", (1024, 1024)).save(out, "JPEG", optimize=True)
    data = out.getvalue()
    assert bytes(SECTOR) in data  # the case a filler-looking-sector rule alone would get wrong
    media, [offset] = splice([data])
    assert top(carved(media), offset)["validation"] == "full"


def test_multi_picture_file_ends_after_its_last_picture() -> None:
    first, second = photo(), photo((160, 120))
    mpf = b"MPF\x00II*\x00\x08\x00\x00\x00"  # APP2 MPF: the pictures that follow the first EOI
    data = first[:2] + b"\xff\xe2" + struct.pack(">H", len(mpf) + 2) + mpf + first[2:] + second
    media, [offset] = splice([data])
    row = top(carved(media), offset)
    assert row["size"] == len(data) and row["validation"] == "full"


@pytest.mark.parametrize("index", range(3))
def test_truncated_jpeg_is_partial(index: int) -> None:
    data = sources()[index]
    media, [offset] = splice([data[:len(data) * 2 // 3]])
    rows = [r for r in carved(media) if r["offset"] == offset]
    assert rows and all(r["validation"] == "partial" for r in rows)


@pytest.mark.parametrize("kind", ["markerless random", "zeros", "text"])
@pytest.mark.parametrize("how", ["overwritten", "inserted"])
def test_foreign_sector_inside_is_not_full(kind: str, how: str) -> None:
    data = photo()
    at = (scan_start(data) + len(data)) // 2 // SECTOR * SECTOR
    sector = {"markerless random": markerless(SECTOR, 3), "zeros": bytes(SECTOR), "text": text(SECTOR)}[kind]
    spoiled = data[:at] + sector + data[at + SECTOR * (how == "overwritten"):]
    media, [offset] = splice([spoiled])
    for row in (r for r in carved(media) if r["offset"] == offset):
        # reassembled without the inserted sector, or partial; never one full piece with the sector inside
        assert row["validation"] == "partial" or (row["sha256"] == hashlib.sha256(data).hexdigest()
                                                  and len(row["fragments"]) == 2)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["random", "zeros", "text"])
@pytest.mark.parametrize("index", range(4))
def test_two_fragment_jpeg_is_reassembled(kind: str, index: int) -> None:
    data = sources()[index]
    start = scan_start(data)
    cut = (start + (len(data) - start) * 2 // 5) // SECTOR * SECTOR
    size = SECTOR * (32 + 16 * index)
    gap = {"random": filler(size, 9), "zeros": bytes(size), "text": text(size)}[kind]
    media, [offset] = splice([data[:cut] + gap + data[cut:]])
    row = top(carved(media), offset)
    assert row["sha256"] == hashlib.sha256(data).hexdigest() and row["validation"] == "full"
    assert row["fragments"] == [[offset, cut], [offset + cut + len(gap), len(data) - cut]]


def test_fragment_break_with_false_end_of_image_in_filler() -> None:
    """Random filler holding FF D9 soon after the cut: the first fragment seems to end there."""
    data = photo()
    cut = (scan_start(data) + len(data)) // 2 // SECTOR * SECTOR
    gap = bytes(100) + b"\xff\xd9" + filler(SECTOR * 40 - 102, 4)
    media, [offset] = splice([data[:cut] + gap + data[cut:]])
    row = top(carved(media), offset)
    assert row["sha256"] == hashlib.sha256(data).hexdigest() and len(row["fragments"]) == 2  # type: ignore[arg-type]


def test_random_data_yields_nothing() -> None:
    media = bytearray(filler(16 << 20, 11))
    for i in range(0, len(media), 1 << 20):  # random start-of-image signatures are rare: plant more
        media[i:i + 4] = b"\xff\xd8\xff\xe0"
    assert carved(bytes(media)) == []


def test_hostile_files_do_not_crash() -> None:
    folder = shared_data("exif-py/jpg/tests")
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    media, _ = splice([p.read_bytes() for p in files], seed=5)
    carved(media)
    for p in files:  # and each one cut short, and split in two around random filler
        data = p.read_bytes()
        third = len(data) // 3 // SECTOR * SECTOR
        media, _ = splice([data[:len(data) // 2], data[:third] + filler(SECTOR * 9, 2) + data[third:]])
        carved(media)
