"""Carving GIF, BMP and TIFF: spliced files byte-exact, truncated ones partial, a BMP or uncompressed TIFF
split in two fragments reassembled whatever the filler between, a GIF with foreign bytes in its image data
not taken as whole, noise pictures never a confident full when filler may hide in them."""

from __future__ import annotations

import hashlib
import io
import random

import pytest
from PIL import Image

from dftk.evidence import Evidence
from dftk_plugins.carving.recovery import Carved, carve, parse_types

SECTOR = 512
WORDS = b"custody evidence sector volume journal invoice analyst archive timeline registry".split()


def random_bytes(n: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(n)


def text(n: int, seed: int) -> bytes:
    rng = random.Random(seed)
    out = bytearray()
    while len(out) < n:
        out += b" ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 12))) + b".\n"
    return bytes(out[:n])


FILLERS = {"random": random_bytes, "zeros": lambda n, _: bytes(n), "text": text}


def splice(files: list[bytes], seed: int = 1) -> tuple[bytes, list[int]]:
    """Files at sector offsets between random filler; returns the media and each file's offset."""
    rng = random.Random(seed)
    media, offsets = bytearray(rng.randbytes(SECTOR * 4)), []
    for data in files:
        offsets.append(len(media))
        media += data + rng.randbytes(-len(data) % SECTOR) + rng.randbytes(SECTOR * rng.randint(1, 8))
    return bytes(media), offsets


def carved(media: bytes, types: str) -> list[dict[str, object]]:
    return [c.row for c in carve(Evidence.from_bytes(media), parse_types(types)) if isinstance(c, Carved)]


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
    return Image.frombytes("RGB", size, random_bytes(size[0] * size[1] * 3, seed))


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
    media, [offset] = splice([data[:cut] + random_bytes(SECTOR * 40, 4) + data[cut:]])
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
    assert carved(random_bytes(16 << 20, 12), "gif,bmp,tiff") == []
