"""Bifragment gap carving of Ogg and FLAC: a file split at a sector boundary with filler (random, zeros or
text) between its two fragments is reassembled byte-exact; random data yields nothing."""

from __future__ import annotations

import hashlib
import random

import pytest
from carving_kit import FILLERS, SECTOR, carved

from helpers import shared_data


def two_fragments(data: bytes, cut: int, gap: bytes, seed: int = 3) -> tuple[bytes, int, int]:
    """The file in random filler, split at ``cut`` with ``gap`` (whole sectors) between its fragments; the
    file is placed so that the cut falls on a sector boundary. Returns the media, the file's offset and the
    resume."""
    rng = random.Random(seed)
    head = rng.randbytes(SECTOR * 8 - cut % SECTOR)
    offset = len(head)
    resume = offset + cut + len(gap)
    tail = data[cut:] + rng.randbytes(-len(data[cut:]) % SECTOR + SECTOR * 8)
    return head + data[:cut] + gap + tail, offset, resume


# (file, cuts as fractions of the file): cuts inside a page or frame, and for the small-frame FLAC one that
# falls inside a frame header (its header CRC-8 fails as well).
CASES = [
    ("ogg", "multipagecomment.ogg", (0.35, 0.56, 0.8)),
    ("ogg", "multipage-setup.ogg", (0.5,)),
    ("flac", "flac453sStereo.flac", (0.3, 0.5834, 0.9)),
    ("flac", "flac1sMono.flac", (0.5,)),
]


@pytest.mark.parametrize("filler", ["random", "zeros", "text"])
@pytest.mark.parametrize(("kind", "name", "fractions"), CASES)
def test_two_fragment_audio_is_reassembled(kind: str, name: str, fractions: tuple[float, ...],
                                           filler: str) -> None:
    data = shared_data(f"tinytag/{name}").read_bytes()
    for i, fraction in enumerate(fractions):
        cut = int(len(data) * fraction) // SECTOR * SECTOR
        gap = FILLERS[filler](SECTOR * (32 + 200 * i), seed=i)  # 16 KiB and more
        media, offset, resume = two_fragments(data, cut, gap)
        [row] = [r for r in carved(media, kind) if r["offset"] == offset]
        assert row["validation"] == "full", (name, cut)
        assert row["fragments"] == [[offset, cut], [resume, len(data) - cut]]
        assert row["sha256"] == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(("kind", "name", "start"), [("ogg", "multipagecomment.ogg", b"OggS"),
                                                  ("flac", "flac453sStereo.flac", b"\xff\xf8")])
def test_break_between_pages_or_frames_is_reassembled(kind: str, name: str, start: bytes) -> None:
    """A cut exactly where a page or frame ends: what follows the gap must continue the stream."""
    data = shared_data(f"tinytag/{name}").read_bytes()
    cut = data.index(start, len(data) // 2)
    media, offset, resume = two_fragments(data, cut, FILLERS["random"](SECTOR * 64, 5))
    [row] = [r for r in carved(media, kind) if r["offset"] == offset]
    assert row["validation"] == "full" and row["fragments"] == [[offset, cut], [resume, len(data) - cut]]
    assert row["sha256"] == hashlib.sha256(data).hexdigest()


def test_flac_reassembled_across_a_256_kib_gap() -> None:
    """The largest gap the benchmark plants (tests do not time it: bench/carve.sh does)."""
    data = shared_data("tinytag/flac453sStereo.flac").read_bytes()
    media, offset, _ = two_fragments(data, 49152, FILLERS["random"](256 << 10, 7))
    [row] = [r for r in carved(media, "flac") if r["offset"] == offset]
    assert row["validation"] == "full" and row["sha256"] == hashlib.sha256(data).hexdigest()


def test_random_data_yields_nothing() -> None:
    assert carved(random.Random(11).randbytes(4 << 20), "ogg,flac") == []


# WAV: integer PCM whose samples are smooth sound; a tagged one (chunks after the samples) included.
PCM_FILES = ["test3sMono.wav", "test.wav", "test-tagged.wav"]


@pytest.mark.parametrize("filler", ["random", "zeros", "text"])
@pytest.mark.parametrize("name", PCM_FILES)
def test_two_fragment_pcm_wav_is_reassembled(name: str, filler: str) -> None:
    data = shared_data(f"tinytag/{name}").read_bytes()
    for i, fraction in enumerate((0.3, 0.62)):
        cut = int(len(data) * fraction) // SECTOR * SECTOR
        media, offset, resume = two_fragments(data, cut, FILLERS[filler](SECTOR * (32 + 200 * i), seed=i))
        [row] = [r for r in carved(media, "riff") if r["offset"] == offset]
        assert row["validation"] == "full" and row["fragments"] == [[offset, cut], [resume, len(data) - cut]]
        assert row["sha256"] == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("filler", ["random", "zeros", "text"])
def test_whole_wav_files_keep_their_verdict(filler: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The PCM check never turns a sound file partial: every tinytag WAV spliced whole into filler is carved
    as it is without the check (full and byte-exact where it was)."""
    folder = shared_data("tinytag")
    files = [p.read_bytes() for p in sorted(folder.glob("*.wav"))]
    rng = random.Random(9)
    media = bytearray()
    for data in files:
        media += FILLERS[filler](SECTOR * 16, rng.randrange(1 << 30)) + data + bytes(-len(data) % SECTOR)
    rows = carved(bytes(media), "riff")
    monkeypatch.setattr("dftk_plugins.carving.riff.wav_break", lambda view: None)
    assert rows == carved(bytes(media), "riff")
    assert sum(r["validation"] == "full" for r in rows) >= len(files) - 4  # empty, not RIFF, or sized wrong


def test_noise_like_wav_says_nothing_new() -> None:
    """Samples that are random bytes cannot be told from random filler: a WAV of them stays whole."""
    body = random.Random(4).randbytes(64 * SECTOR)
    header = b"RIFF" + (36 + len(body)).to_bytes(4, "little") + b"WAVEfmt " + (16).to_bytes(4, "little") + \
        bytes.fromhex("01000100441f0000883e00000200 1000".replace(" ", "")) + b"data" + len(body).to_bytes(4, "little")
    media, offset, _ = two_fragments(header + body, 16 * SECTOR, FILLERS["random"](64 * SECTOR, 1))
    [row] = [r for r in carved(media, "riff") if r["offset"] == offset]
    assert row["validation"] == "full" and row["fragments"] == [[offset, len(header + body)]]
