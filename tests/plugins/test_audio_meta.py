"""The audio metadata plugin: mutagen-written tags read back, RIFF INFO/bext, broken files (exiftool: elsewhere)."""

from __future__ import annotations

import struct
from pathlib import Path

from mutagen.id3 import ID3, TALB, TIT2, TPE1, TRCK

from dftk.files import EvidenceFile
from dftk.plugin import Finding, Problem, check_json
from dftk_plugins.audio_meta import AudioMetaPlugin
from helpers import shared_data


def analyze(path: Path | str, data: bytes) -> list[Finding | Problem]:
    return list(AudioMetaPlugin().analyze(EvidenceFile(str(path), len(data)), data))


def media(records: list[Finding | Problem]) -> dict[str, object]:
    return next((dict(r.data) for r in records if isinstance(r, Finding)), {})


def _wav(extra: bytes = b"", seconds: int = 1, rate: int = 8000) -> bytes:
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + extra
    pcm = b"\x00\x00" * rate * seconds
    body += b"data" + struct.pack("<I", len(pcm)) + pcm
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _chunk(name: bytes, data: bytes) -> bytes:
    return name + struct.pack("<I", len(data)) + data + (b"\x00" if len(data) % 2 else b"")


def test_wav_info_and_bext_read_back() -> None:
    info = b"INFO" + _chunk(b"INAM", b"Interview\x00") + _chunk(b"IART", b"Officer K\x00")
    bext = (b"Room 4".ljust(256, b"\x00") + b"RecorderX".ljust(32, b"\x00") + b"REF-1".ljust(32, b"\x00")
            + b"2023-04-05" + b"06:07:08" + struct.pack("<QH", 1234, 1) + b"\x00" * 254)
    data = media(analyze("/r.wav", _wav(_chunk(b"bext", bext) + _chunk(b"LIST", info), seconds=2)))
    assert data["title"] == "Interview" and data["artist"] == "Officer K"
    assert data["duration_seconds"] == 2.0 and data["sample_rate"] == 8000 and data["channels"] == 1
    assert data["bext_originator"] == "RecorderX" and data["bext_origination"] == "2023-04-05T06:07:08"
    assert data["bext_time_reference"] == 1234 and data["tags"]["BWF:Description"] == "Room 4"  # type: ignore[index]
    check_json(data, "audio")


def test_id3_written_by_mutagen_reads_back(tmp_path: Path) -> None:
    source = shared_data("tinytag/silence-44khz-56k-mono-1s.mp3")
    target = tmp_path / "t.mp3"
    target.write_bytes(source.read_bytes())
    tags = ID3()
    tags.add(TIT2(encoding=3, text="Título"))
    tags.add(TPE1(encoding=3, text="Artist"))
    tags.add(TALB(encoding=3, text="Album"))
    tags.add(TRCK(encoding=3, text="3/9"))
    tags.save(str(target))
    data = media(analyze(target, target.read_bytes()))
    assert (data["title"], data["artist"], data["album"], data["track"]) == ("Título", "Artist", "Album", "3/9")
    assert data["tags"]["ID3:TIT2"] == "Título" and data["codec"] == "MPEG-1 layer 3"  # type: ignore[index]
    assert abs(float(data["duration_seconds"]) - 1.04) < 0.05  # type: ignore[arg-type]


def test_every_tinytag_file_gives_fields_or_problems_never_a_crash() -> None:
    for path in sorted(p for p in shared_data("tinytag").iterdir() if p.is_file()):
        for record in analyze(path, path.read_bytes()):
            if isinstance(record, Finding):
                check_json(record.data, "audio")
    assert analyze("/x.txt", b"plain text") == []
    assert all(isinstance(r, Problem) for r in analyze("/x.flac", b"fLaC" + b"\x00" * 3))
