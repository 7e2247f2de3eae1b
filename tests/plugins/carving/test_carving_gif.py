"""GIF: the strict LZW check of image data (code widths, codes within the table, exactly width * height
pixels at the end code) and bifragment gap carving of a GIF split at sector boundaries by filler."""

from __future__ import annotations

import hashlib
import io

import pytest
from carving_kit import FILLERS, SECTOR, carved, filler, splice, text
from PIL import Image

from dftk_plugins.carving import gif_lzw, images
from dftk_plugins.carving.model import View


class Memory:
    """A reader over bytes in memory."""

    def __init__(self, data: bytes) -> None:
        self.data, self.size = data, len(data)

    def read(self, offset: int, length: int) -> bytes:
        return self.data[offset:offset + length]

    buffer = read


def photo(size: tuple[int, int] = (400, 300)) -> Image.Image:
    red = Image.linear_gradient("L").resize(size)
    green = Image.radial_gradient("L").resize(size)
    grain = Image.frombytes("L", size, filler(size[0] * size[1], 7))
    return Image.merge("RGB", (red, green, Image.blend(red, grain, 0.2)))


def noise(size: tuple[int, int] = (400, 300)) -> Image.Image:
    return Image.frombytes("RGB", size, filler(size[0] * size[1] * 3, 5))


PICTURES = {"photo": photo, "noise": noise}


def gif_bytes(img: Image.Image) -> bytes:
    out = io.BytesIO()
    img.convert("P").save(out, "GIF")
    return out.getvalue()


def image_data(data: bytes) -> tuple[bytes, int, int]:
    """The first image's LZW data (sub-blocks joined), its minimum code size and its pixel count."""
    view = View(Memory(data), 0, len(data))
    pos = 13 + (3 << ((data[10] & 7) + 1) if data[10] & 0x80 else 0)
    while data[pos] == 0x21:
        pos = gif_lzw.sub_blocks(view, pos + 2) or 0
    width, height = int.from_bytes(data[pos + 5:pos + 7], "little"), int.from_bytes(data[pos + 7:pos + 9], "little")
    pos += 10 + (3 << ((data[pos + 9] & 7) + 1) if data[pos + 9] & 0x80 else 0)
    payload = bytearray()
    gif_lzw.sub_blocks(view, pos + 1, payload, len(data))
    return bytes(payload), data[pos], width * height


@pytest.mark.parametrize("kind", sorted(PICTURES))
def test_lzw_check_takes_exactly_the_encoded_picture(kind: str) -> None:
    payload, mcs, pixels = image_data(gif_bytes(PICTURES[kind]()))
    assert gif_lzw.lzw_ok(payload, mcs, pixels)
    assert not gif_lzw.lzw_ok(payload, mcs, pixels + 1) and not gif_lzw.lzw_ok(payload, mcs, pixels - 1)
    assert not gif_lzw.lzw_ok(payload[:len(payload) * 2 // 3], mcs, pixels)


def test_lzw_check_refuses_text_in_the_data() -> None:
    payload, mcs, pixels = image_data(gif_bytes(photo()))
    half = len(payload) // 2
    assert not gif_lzw.lzw_ok(payload[:half] + text(4096, 3) + payload[half:], mcs, pixels)


@pytest.mark.parametrize("filler", sorted(FILLERS))
def test_validator_refuses_foreign_bytes_at_a_sector_boundary(filler: str) -> None:
    """The validator alone (no gap carving): filler inside the image data never makes a whole GIF."""
    data = gif_bytes(photo())
    cut = len(data) // 2 // SECTOR * SECTOR
    spliced = data[:cut] + FILLERS[filler](SECTOR * 40, 2) + data[cut:]
    verdict = images.gif(View(Memory(spliced), 0, len(spliced)))
    assert verdict is not None and not verdict.full


@pytest.mark.parametrize("gap", [40, 300])
@pytest.mark.parametrize("filler", sorted(FILLERS))
@pytest.mark.parametrize("kind", sorted(PICTURES))
def test_two_fragment_gif_is_reassembled(kind: str, filler: str, gap: int) -> None:
    data = gif_bytes(PICTURES[kind]())
    cut = (len(data) * 2 // 5) // SECTOR * SECTOR
    filling = FILLERS[filler](SECTOR * gap, 9)
    media, [offset] = splice([data[:cut] + filling + data[cut:]])
    [row] = [r for r in carved(media, "gif") if r["offset"] == offset]
    assert row["sha256"] == hashlib.sha256(data).hexdigest() and row["validation"] == "full"
    assert row["fragments"] == [[offset, cut], [offset + cut + len(filling), len(data) - cut]]


def test_animated_gif_is_whole() -> None:
    frames = [photo((120, 90)), noise((120, 90)), photo((120, 90)).rotate(90)]
    out = io.BytesIO()
    frames[0].convert("P").save(out, "GIF", save_all=True, append_images=[f.convert("P") for f in frames[1:]])
    data = out.getvalue()
    media, [offset] = splice([data])
    [row] = [r for r in carved(media, "gif") if r["offset"] == offset]
    assert row["sha256"] == hashlib.sha256(data).hexdigest() and row["validation"] == "full"


def test_random_data_yields_nothing() -> None:
    assert carved(filler(16 << 20, 21), "gif") == []


def _reblocked(data: bytes, size: int) -> bytes:
    """The GIF with its (single) image's data cut into ``size``-byte sub-blocks, as some encoders write it."""
    start = data.index(b"\x2c", 13)  # the image descriptor (no extension before it in Pillow's output)
    flags = data[start + 9]
    first = start + 10 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0) + 1
    payload, pos = bytearray(), first
    while data[pos]:
        payload += data[pos + 1:pos + 1 + data[pos]]
        pos += 1 + data[pos]
    blocks = b"".join(bytes([len(c)]) + c for c in (payload[i:i + size] for i in range(0, len(payload), size)))
    return data[:first] + blocks + b"\0" + data[pos + 1:]


@pytest.mark.parametrize("filler", sorted(FILLERS))
def test_small_sub_blocks_are_decoded_to_tell_foreign_bytes(filler: str) -> None:
    """Data in short sub-blocks skips the cheap regular-chain rule: the LZW pixel count decides."""
    data = _reblocked(gif_bytes(photo()), 100)
    media, [offset] = splice([data])
    [row] = [r for r in carved(media, "gif") if r["offset"] == offset]
    assert row["sha256"] == hashlib.sha256(data).hexdigest() and row["validation"] == "full"
    cut = len(data) // 2 + 37
    media, [offset] = splice([data[:cut] + FILLERS[filler](SECTOR * 8, 4) + data[cut:]])
    rows = [r for r in carved(media, "gif") if r["offset"] == offset]
    assert rows and all(r["validation"] == "partial" for r in rows)
