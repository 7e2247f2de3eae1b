"""Carving ISO base media files (MP4, M4A, MOV, HEIC/HEIF, AVIF, 3GP): real files spliced into random filler
are recovered byte-exact with the kind their brands name; cut, inconsistent or hostile ones are not full."""

from __future__ import annotations

import hashlib
import random
import struct

import pytest
from carving_kit import SECTOR, filler, splice
from carving_kit import carved as carved_types

from helpers import shared_data


def at(media: bytes, offset: int) -> dict[str, object]:
    [row] = [r for r in carved(media) if r["offset"] == offset]
    return row


def carved(media: bytes, types: str = "isobmff") -> list[dict[str, object]]:
    return carved_types(media, types)


def rebranded(name: str, brand: bytes) -> bytes:
    """A real M4A whose ftyp names another brand (the same length, so every offset still holds)."""
    data = bytearray(shared_data(name).read_bytes())
    size = struct.unpack(">I", data[:4])[0]
    data[8:12] = brand
    data[16:size] = brand * ((size - 16) // 4)
    return bytes(data)


FILES = {
    "tinytag/test2.m4a": "m4a",  # mdat, then moov
    "tinytag/mp4_extended_size.m4a": "m4a",  # mdat with a 64-bit largesize
    "tinytag/xmp_data.m4a": "m4a",  # moov, uuid (XMP), then mdat
    "tinytag/24bit_pcm_extended_to_als.mp4": "mp4",
    "exif-py/heic/spring_1440x960.heic": "heic",  # major brand mif1, heic compatible
    "exif-py/heic/samplefilehub.heif": "heic",
    "exif-py/heic/heic_hdlr_box.jpg": "heic",  # mdat before meta
    "exif-py/avif/mountains.avif": "avif",
}


@pytest.mark.parametrize("name", sorted(FILES))
def test_real_file_is_recovered_byte_exact_with_its_kind(name: str) -> None:
    data = shared_data(name).read_bytes()
    media, [offset] = splice([data])
    row = at(media, offset)
    assert row["sha256"] == hashlib.sha256(data).hexdigest() and row["validation"] == "full"
    assert row["type"] == FILES[name] and str(row["path"]).startswith(f"{FILES[name]}/")
    assert row["fragments"] == [[offset, len(data)]]


@pytest.mark.parametrize(("brand", "kind", "ext"), [(b"qt  ", "mov", "mov"), (b"3gp4", "3gp", "3gp"),
                                                    (b"isom", "mp4", "mp4")])
def test_kind_follows_the_major_brand(brand: bytes, kind: str, ext: str) -> None:
    data = rebranded("tinytag/test2.m4a", brand)
    media, [offset] = splice([data])
    row = at(media, offset)
    assert row["type"] == kind and str(row["path"]).endswith(f".{ext}") and row["validation"] == "full"


def test_files_back_to_back_end_at_the_next_ftyp() -> None:
    first = shared_data("tinytag/test2.m4a").read_bytes()
    second = shared_data("exif-py/heic/samplefilehub.heif").read_bytes()
    media, [offset] = splice([first + second])
    rows = {r["offset"]: r for r in carved(media)}
    assert rows[offset]["size"] == len(first) and rows[offset]["validation"] == "full"
    assert rows[offset + len(first)]["sha256"] == hashlib.sha256(second).hexdigest()


@pytest.mark.parametrize("name", ["tinytag/mp4_extended_size.m4a", "exif-py/heic/spring_1440x960.heic",
                                  "exif-py/heic/mobile/HMD_Nokia_8.3_5G_hdr.heif"])
def test_truncated_file_is_partial(name: str) -> None:
    data = shared_data(name).read_bytes()
    media, [offset] = splice([data[:len(data) * 2 // 3]])
    assert at(media, offset)["validation"] == "partial"


def test_chunk_offsets_outside_the_file_are_partial() -> None:
    data = shared_data("tinytag/test.m4a").read_bytes()  # its audio was stripped: stco points past the end
    media, [offset] = splice([data])
    assert at(media, offset)["validation"] == "partial"


def test_heif_item_that_is_no_nal_unit_chain_is_partial() -> None:
    data = bytearray(shared_data("exif-py/heic/spring_1440x960.heic").read_bytes())
    mdat = data.index(b"mdat") + 4
    data[mdat:mdat + 4] = b"\xff\xff\xff\xff"  # the first item's first NAL unit length
    media, [offset] = splice([bytes(data)])
    assert at(media, offset)["validation"] == "partial"


def test_size_zero_box_is_partial() -> None:
    data = bytearray(shared_data("tinytag/test2.m4a").read_bytes())
    moov = data.index(b"moov") - 4
    data[moov:moov + 4] = bytes(4)  # moov "to the end of the file": where that is, the chain cannot tell
    media, [offset] = splice([bytes(data)])
    assert at(media, offset)["validation"] == "partial"


def test_jpeg2000_ftyp_is_no_start() -> None:
    jp2 = b"\0\0\0\x0cjP  \r\n\x87\n" + b"\0\0\0\x14ftypjp2 \0\0\0\0jp2 " + b"\0\0\0\x08jp2c"
    media, _ = splice([jp2])
    assert carved(media) == []


def test_random_data_yields_nothing() -> None:
    assert carved(filler(8 << 20, 11)) == []


def test_hostile_headers_do_not_crash() -> None:
    data = shared_data("exif-py/heic/spring_1440x960.heic").read_bytes()
    movie = shared_data("tinytag/test2.m4a").read_bytes()
    rng = random.Random(3)
    for source in (data, movie):
        for n in (8, 16, 40, 100, 600, 2000):
            carved(source[:n] + bytes(64))
            carved(source[:n] + struct.pack(">I", 0xFFFFFFFF) * 200)
        for _ in range(30):  # flipped bytes inside the boxes the validator parses
            broken = bytearray(source[:5000])
            for _ in range(8):
                broken[rng.randrange(16, len(broken))] = rng.randrange(256)
            carved(bytes(broken) + source[5000:])


def split(data: bytes, cut: int, gap_sectors: int) -> tuple[bytes, int, int]:
    """The file in two fragments with random filler between; returns the media, its offset, the gap."""
    gap = filler(SECTOR * gap_sectors, 9)
    media, [offset] = splice([data[:cut] + gap + data[cut:]])
    return media, offset, len(gap)


def test_two_fragments_split_inside_the_index_are_reassembled() -> None:
    data = shared_data("exif-py/heic/mobile/HMD_Nokia_8.3_5G_hdr.heif").read_bytes()
    cut = 3 * SECTOR  # inside meta: its item boxes pin the split down to one sector
    media, offset, gap = split(data, cut, 37)
    row = at(media, offset)
    assert row["sha256"] == hashlib.sha256(data).hexdigest() and row["validation"] == "full"
    assert row["fragments"] == [[offset, cut], [offset + cut + gap, len(data) - cut]]


@pytest.mark.parametrize(("name", "cut"), [("exif-py/heic/heic_hdlr_box.jpg", 139 * SECTOR),  # in mdat
                                           ("tinytag/xmp_data.m4a", 2 * SECTOR)])  # in a metadata text
def test_split_where_many_cuts_validate_is_left_partial(name: str, cut: int) -> None:
    data = shared_data(name).read_bytes()
    media, offset, _ = split(data, cut, 21)
    row = at(media, offset)
    assert row["validation"] == "partial" and len(row["fragments"]) == 1  # type: ignore[arg-type]
