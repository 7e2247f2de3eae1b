"""The audio metadata plugin: mutagen-written tags read back, RIFF INFO/bext, broken files (exiftool: elsewhere)."""

from __future__ import annotations

import struct
from pathlib import Path

from mutagen.id3 import ID3, TALB, TIT2, TPE1, TRCK
from mutagen.mp3 import MP3

from dftk.evidence.files import EvidenceFile
from dftk.records import Finding, Problem, check_json
from dftk_plugins.metadata.audio import AudioMetaPlugin, read_audio
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


def problems(records: list[Finding | Problem]) -> list[str]:
    return [r.message for r in records if isinstance(r, Problem)]


def read_shared(relative: str) -> list[Finding | Problem]:
    path = shared_data(relative)
    return analyze(path, path.read_bytes())


def test_truncated_id3v2_tag_frames_are_read_with_a_problem() -> None:
    records = read_shared("tinytag/id3v1_does_not_overwrite_id3v2.mp3")  # the tag declares 31992 bytes of 1130
    data = media(records)
    assert (data["title"], data["artist"], data["album"]) == ("Time What Is Time", "Blind Guardian",
                                                               "Somewhere Far Beyond")
    assert data["tags"]["ID3:TPE2"] == "Blind Guardian"  # type: ignore[index]  # a v2-only frame: not ID3v1
    assert any("declares 31992 bytes but the file ends after 1130 bytes" in m for m in problems(records))
    check_json(data, "audio")
    data = media(read_shared("tinytag/UTF16.mp3"))  # the file ends inside the tag: tags, but no audio
    assert (data["title"], data["artist"]) == ("Lemonworld", "The National") and "duration_seconds" not in data



def test_mpeg_frames_after_a_tag_mutagen_refuses_still_give_the_stream() -> None:
    audio = shared_data("tinytag/silence-44khz-56k-mono-1s.mp3").read_bytes()  # bare MPEG frames, no tag
    tag = b"ID3\x05\x00\x00" + bytes((0, 0, 0, 10)) + b"\x00" * 10  # ID3v2.5: mutagen refuses the file
    fields, tags, found = read_audio(tag + audio, MP3)
    assert found and "ID3v2.5 not supported" in found[0] and tags == {}
    assert fields["codec"] == "MPEG-1 layer 3" and abs(float(fields["duration_seconds"]) - 1.04) < 0.05


def test_flac_mutagen_rejects_is_read_from_its_metadata_blocks() -> None:
    records = read_shared("tinytag/invalid_second_streaminfo.flac")  # a second, all-zero STREAMINFO
    data = media(records)
    assert data["title"] == "title" and data["duration_seconds"] == 0.1 and data["sample_rate"] == 44100
    assert any("second FLAC STREAMINFO" in m for m in problems(records))
    check_json(data, "audio")
    records = read_shared("tinytag/106-invalid-streaminfo.flac")  # STREAMINFO of 18 bytes, not 34
    assert media(records)["duration_seconds"] == 3.685
    assert any("STREAMINFO is 18 bytes, not 34" in m for m in problems(records))
    records = read_shared("tinytag/detect_flac.x")  # cut off inside the PADDING block after STREAMINFO
    assert media(records)["duration_seconds"] == 3.685 and media(records)["channels"] == 2
    assert any("declares 4140 bytes, the file ends after 74 bytes (truncated)" in m for m in problems(records))
    bare = analyze("/x.flac", b"fLaC" + b"\x00" * 3)  # nothing readable: a Problem, not silence
    assert bare and all(isinstance(r, Problem) for r in bare)


def test_truncated_asf_header_keeps_the_content_description() -> None:
    records = read_shared("tinytag/detect_asf.x")  # the header declares 5743 bytes, the file has 120
    data = media(records)
    assert (data["title"], data["artist"]) == ("Doll", "Foo Fighters")
    assert data["tags"] == {"ASF:Title": "Doll", "ASF:Author": "Foo Fighters"}
    assert any("ASF header declares 5743 bytes, the file ends after 120 bytes" in m for m in problems(records))
    check_json(data, "audio")


def test_id3_text_with_invalid_utf8_is_decoded_with_replacement(tmp_path: Path) -> None:
    records = read_shared("tinytag/utf-8-id3v2-invalid-string.mp3")  # TIT2 = b"\xffran d\xc3\xada" (UTF-8)
    assert media(records)["title"] == "\ufffdran día"
    assert any("ID3 frame TIT2: text not valid" in m for m in problems(records))
    target = tmp_path / "t.mp3"  # the same in a file mutagen otherwise reads in full, audio and all
    target.write_bytes(shared_data("tinytag/silence-44khz-56k-mono-1s.mp3").read_bytes())
    tags = ID3()
    tags.add(TIT2(encoding=3, text="Xran día"))
    tags.add(TPE1(encoding=3, text="Artist"))
    tags.save(str(target))
    records = analyze(target, target.read_bytes().replace(b"Xran", b"\xffran", 1))
    data = media(records)
    assert (data["title"], data["artist"]) == ("\ufffdran día", "Artist") and data["duration_seconds"]
    assert problems(records) == ["ID3 frame TIT2: text not valid in its declared encoding, invalid bytes shown as "
                                 "U+FFFD"]
