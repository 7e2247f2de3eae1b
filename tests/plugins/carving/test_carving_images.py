"""Carving GIF, BMP and TIFF: spliced files byte-exact, truncated ones partial, a BMP or uncompressed TIFF
split in two fragments reassembled whatever the filler between, a GIF with foreign bytes in its image data
not taken as whole, noise pictures never a confident full when filler may hide in them."""

from __future__ import annotations

import hashlib
import io
import random

import pytest
from carving_kit import FILLERS, SECTOR, carved, filler, splice
from PIL import Image


def picture(size: tuple[int, int] = (320, 240), seed: int = 3) -> Image.Image:
    """A smooth picture with a little grain, as a photo is: gradients in each channel plus mild noise."""
    rng = random.Random(seed)
    w, h = size
    red = Image.linear_gradient("L").resize(size)
    green = Image.radial_gradient("L").resize(size)
    grain = Image.frombytes("L", size, bytes(rng.randrange(96, 160) for _ in range(w * h)))
    blue = Image.blend(red.transpose(Image.Transpose.ROTATE_90).resize(size), grain, 0.15)
    return Image.merge("RGB", (red, green, blue))


def noise(size: tuple[int, int] = (320, 240), seed: int = 5) -> Image.Image:
    return Image.frombytes("RGB", size, filler(size[0] * size[1] * 3, seed))


def encoded(img: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    (img.convert("P") if fmt == "GIF" else img).save(out, fmt)
    return out.getvalue()


KINDS = {"gif": "GIF", "bmp": "BMP", "tiff": "TIFF"}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_spliced_file_is_recovered_byte_exact(kind: str) -> None:
    data = encoded(picture(), KINDS[kind])
    media, [offset] = splice([data])
    [row] = [r for r in carved(media, kind) if r["offset"] == offset]
    assert row["sha256"] == hashlib.sha256(data).hexdigest() and row["validation"] == "full"
    assert row["fragments"] == [[offset, len(data)]] and float(row["confidence"]) >= 0.9  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_truncated_file_is_partial(kind: str) -> None:
    data = encoded(picture(), KINDS[kind])
    media, [offset] = splice([data[:len(data) * 2 // 3 // SECTOR * SECTOR]])
    rows = [r for r in carved(media, kind) if r["offset"] == offset]
    assert rows and all(r["validation"] == "partial" for r in rows)


@pytest.mark.parametrize("filler", sorted(FILLERS))
@pytest.mark.parametrize("kind", ["bmp", "tiff"])
def test_two_fragment_raster_is_reassembled(kind: str, filler: str) -> None:
    data = encoded(picture(), KINDS[kind])
    cut = (len(data) * 2 // 5) // SECTOR * SECTOR
    gap = FILLERS[filler](SECTOR * 40, 9)
    media, [offset] = splice([data[:cut] + gap + data[cut:]])
    [row] = [r for r in carved(media, kind) if r["offset"] == offset]
    assert row["sha256"] == hashlib.sha256(data).hexdigest() and row["validation"] == "full"
    assert row["fragments"] == [[offset, cut], [offset + cut + len(gap), len(data) - cut]]


@pytest.mark.parametrize("kind", ["bmp", "tiff"])
def test_noise_picture_with_random_gap_is_no_confident_full(kind: str) -> None:
    """Random filler inside noise pixels is invisible: the verdict must not claim more than it checked."""
    data = encoded(noise(), KINDS[kind])
    cut = (len(data) // 2) // SECTOR * SECTOR
    media, [offset] = splice([data[:cut] + filler(SECTOR * 40, 4) + data[cut:]])
    [row] = [r for r in carved(media, kind) if r["offset"] == offset]
    assert row["validation"] == "partial" or float(row["confidence"]) <= 0.5  # type: ignore[arg-type]


@pytest.mark.parametrize("filler", ["random", "zeros", "text"])
def test_gif_with_foreign_bytes_in_its_image_data_is_partial(filler: str) -> None:
    """The sub-blocks may still chain to a trailer through the foreign bytes: the LZW decode must refuse it.
    The bytes sit off a sector boundary, so no two-fragment reassembly can explain them either."""
    data = encoded(picture(), "GIF")
    cut = (len(data) // 2) // SECTOR * SECTOR + 100
    media, [offset] = splice([data[:cut] + FILLERS[filler](SECTOR * 40, 2) + data[cut:]])
    rows = [r for r in carved(media, "gif") if r["offset"] == offset]
    assert rows and all(r["validation"] == "partial" for r in rows)


def test_random_data_yields_nothing() -> None:
    assert carved(filler(16 << 20, 12), "gif,bmp,tiff") == []
