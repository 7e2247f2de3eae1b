"""Carving audio (MP3, Ogg, FLAC): each file spliced into random filler is recovered byte-exact, a truncated
one is partial, random data yields nothing, and no tinytag sample crashes a run."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from carving_kit import SECTOR, filler, splice
from carving_kit import carved as carved_types

from dftk_plugins.carving import mp3, ogg
from helpers import shared_data


def top_level_at(data: bytes, offset: int) -> list[dict[str, object]]:
    return [r for r in carved(data) if r["embedded_in"] is None and r["offset"] == offset]


# Whole files of each shape the validators handle: ID3v2 + frames, bare frame sync (CBR, VBR with a Xing
# header, MPEG-2.5, an ID3v1 trailer), a five-frame file, Ogg Vorbis, FLAC, FLAC behind a padded ID3v2 tag,
# FLAC with a PICTURE block whose declared length is too short, and an Ogg whose first page's CRC is stale.
WHOLE = {
    "mp3": ["cbr.mp3", "vbr44.mp3", "vbr8stereo.mp3", "mpeg1_id3v1.mp3", "mpeg1_32khz_vbr.mp3",
            "silence-22khz-mono-1s.mp3", "non_ascii_filename_äää.mp3"],
    "ogg": ["multipage-setup.ogg", "zero_value_properties.ogg"],
    "flac": ["flac1sMono.flac", "with_padded_id3_header.flac", "106-short-picture-block-size.flac"],
}
CASES = [(kind, name) for kind, names in WHOLE.items() for name in names]


def carved(media: bytes, types: str = "mp3,ogg,flac") -> list[dict[str, object]]:
    return carved_types(media, types)


@pytest.mark.parametrize(("kind", "name"), CASES)
def test_spliced_audio_is_recovered_byte_exact(kind: str, name: str) -> None:
    data = shared_data(f"tinytag/{name}").read_bytes()
    spliced, [offset] = splice([data])
    [row] = top_level_at(spliced, offset)
    assert row["type"] == kind and row["validation"] == "full"
    assert row["sha256"] == hashlib.sha256(data).hexdigest() and row["fragments"] == [[offset, len(data)]]


def test_several_mp3_in_a_row_are_separate_files() -> None:
    names = ["vbr16.mp3", "mpeg1_44_1khz_cbr.mp3", "id3_frames.mp3", "mpeg2_id3v2.mp3"]
    files = [shared_data(f"tinytag/{n}").read_bytes() for n in names]
    spliced, offsets = splice(files, seed=4)
    rows = {r["offset"]: r for r in carved(spliced) if r["embedded_in"] is None}
    assert sorted(rows) == offsets
    assert [rows[o]["sha256"] for o in offsets] == [hashlib.sha256(f).hexdigest() for f in files]


# MP3 frames carry no checksum over the audio: an MP3 cut after a whole frame looks whole (its frame chain
# simply ends), so only Ogg and FLAC, whose pages and frames are checked to a declared end, are tested cut.
@pytest.mark.parametrize("name", ["multipage-setup.ogg", "flac1sMono.flac", "with_padded_id3_header2.flac"])
def test_truncated_audio_is_partial(name: str) -> None:
    data = shared_data(f"tinytag/{name}").read_bytes()
    spliced, [offset] = splice([data[:len(data) * 2 // 3]])
    rows = top_level_at(spliced, offset)
    assert rows and all(r["validation"] == "partial" for r in rows)


def test_mp3_tag_running_past_the_media_is_partial() -> None:
    data = shared_data("tinytag/cbr.mp3").read_bytes()
    spliced = filler(SECTOR * 4, 2) + data[:200]
    [row] = top_level_at(spliced, SECTOR * 4)
    assert row["validation"] == "partial"


def test_random_data_yields_no_audio() -> None:
    assert carved(filler(16 << 20, 21)) == []


def test_lone_frame_headers_are_not_mp3() -> None:
    """Two chained Layer III frames without a tag or a Xing header are too little evidence of a file."""
    header = bytes([0xFF, 0xFB, 0x90, 0x64])
    length = mp3.mpeg_frame_length(header)
    assert length == 417
    frame = header + filler(length - 4, 3)
    assert carved(filler(SECTOR * 4, 5) + frame * 2 + filler(SECTOR * 4, 6)) == []
    [row] = carved(filler(SECTOR * 4, 5) + frame * 3 + filler(SECTOR * 4, 6))
    assert row["offset"] == SECTOR * 4 and row["size"] == 3 * length


def test_id3_tagged_flac_is_flac_from_the_tag() -> None:
    data = shared_data("tinytag/with_padded_id3_header2.flac").read_bytes()
    spliced, [offset] = splice([data])
    rows = [r for r in carved(spliced) if r["embedded_in"] is None]
    assert [(r["type"], r["offset"], r["size"]) for r in rows] == [("flac", offset, len(data))]


def test_ogg_crc_matches_the_specification() -> None:
    """RFC 3533's CRC: polynomial 0x04C11DB7, not reflected, initial 0, no final xor; bit by bit here."""
    def reference(data: bytes) -> int:
        crc = 0
        for byte in data:
            crc ^= byte << 24
            for _ in range(8):
                crc = ((crc << 1) ^ 0x04C11DB7) & 0xFFFFFFFF if crc & 0x80000000 else (crc << 1) & 0xFFFFFFFF
        return crc
    for n in (0, 1, 27, 300):
        data = filler(n, n)
        assert ogg.ogg_crc(data) == reference(data)


def test_tinytag_samples_do_not_crash_a_run() -> None:
    folder = shared_data("tinytag/cbr.mp3").parent
    samples = sorted(p for p in folder.iterdir() if p.is_file() and p.stat().st_size < (1 << 20))
    spliced, offsets = splice([p.read_bytes() for p in samples], seed=7, gap=2)
    rows = carved(spliced, "mp3,ogg,flac")
    assert rows and all(0 < int(str(r["size"])) for r in rows)
    assert len(offsets) == len(samples)


def test_truncated_files_in_place_do_not_crash(tmp_path: Path) -> None:
    data = shared_data("tinytag/vbr_xing_header.mp3").read_bytes()
    for cut in (3, 10, 41, 400, 5000):
        assert all(r["validation"] in ("full", "partial") for r in carved(data[:cut]))
