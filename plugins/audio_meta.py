"""Audio metadata (discipline: audio): tags and stream properties through mutagen, RIFF INFO and bext directly.

MP3 (ID3v1, ID3v2.2-2.4), FLAC, OGG Vorbis/Opus, M4A/MP4, WAV (ID3, LIST/INFO, broadcast-wave bext), AIFF,
WMA/ASF. See docs/metadata.md for the fields.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator
from typing import Any, ClassVar

import mutagen
from mutagen.aiff import AIFF
from mutagen.asf import ASF
from mutagen.flac import FLAC
from mutagen.id3 import ID3
from mutagen.mp3 import MP3
from mutagen.mp4 import MP4
from mutagen.oggflac import OggFLAC
from mutagen.oggopus import OggOpus
from mutagen.oggspeex import OggSpeex
from mutagen.oggvorbis import OggVorbis
from mutagen.wave import WAVE

from dftk.files import Buffer, EvidenceFile
from dftk.filetype import mime_of
from dftk.plugin import Finding, Plugin, Problem, Record
from dftk_plugins.metadata_common import exif_time, first, json_value, text, tidy

AUDIO_ERRORS = (mutagen.MutagenError, struct.error, ValueError, IndexError, EOFError, KeyError, TypeError,
                OverflowError, UnicodeDecodeError, ZeroDivisionError, AssertionError)
_ASF = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")
_VIDEO_BRANDS = (b"heic", b"heix", b"mif1", b"msf1", b"avif", b"crx ", b"qt  ")
# Normalized field <- tag name, per tag family (first one present wins).
_MAP: dict[str, dict[str, tuple[str, ...]]] = {
    "ID3": {"title": ("TIT2",), "artist": ("TPE1",), "album": ("TALB",), "album_artist": ("TPE2",),
            "track": ("TRCK",), "date": ("TDRC", "TYER", "TDAT"), "genre": ("TCON",), "comment": ("COMM",),
            "encoder": ("TSSE", "TENC")},
    "Vorbis": {"title": ("TITLE",), "artist": ("ARTIST",), "album": ("ALBUM",), "album_artist": ("ALBUMARTIST",),
               "track": ("TRACKNUMBER",), "date": ("DATE", "YEAR"), "genre": ("GENRE",),
               "comment": ("COMMENT", "DESCRIPTION"), "encoder": ("ENCODER",)},
    "MP4": {"title": ("©nam",), "artist": ("©ART",), "album": ("©alb",), "album_artist": ("aART",),
            "track": ("trkn",), "date": ("©day",), "genre": ("©gen", "gnre"), "comment": ("©cmt",),
            "encoder": ("©too",)},
    "ASF": {"title": ("Title",), "artist": ("Author",), "album": ("WM/AlbumTitle",),
            "album_artist": ("WM/AlbumArtist",), "track": ("WM/TrackNumber",), "date": ("WM/Year",),
            "genre": ("WM/Genre",), "comment": ("Description",), "encoder": ("WM/EncodingSettings",)},
    "RIFF": {"title": ("INAM",), "artist": ("IART",), "album": ("IPRD",), "track": ("ITRK", "IPRT"),
             "date": ("ICRD",), "genre": ("IGNR",), "comment": ("ICMT",), "encoder": ("ISFT",)},
}


def audio_kind(head: bytes) -> type[mutagen.FileType] | None:
    """The mutagen class for the first bytes of a file, or None when it is not audio this plugin reads."""
    if head.startswith(b"ID3"):
        return AIFF if head[10:14] == b"FORM" else MP3  # ID3 before fLaC: see read_audio
    if head.startswith(b"fLaC"):
        return FLAC
    if head.startswith(b"OggS"):
        for marker, cls in ((b"OpusHead", OggOpus), (b"\x01vorbis", OggVorbis), (b"Speex   ", OggSpeex),
                            (b"\x7fFLAC", OggFLAC)):
            if marker in head:
                return cls
        return None
    if head[4:8] == b"ftyp" and head[8:12] not in _VIDEO_BRANDS:
        return MP4
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return WAVE
    if head.startswith(b"FORM") and head[8:12] in (b"AIFF", b"AIFC"):
        return AIFF
    if head.startswith(_ASF):
        return ASF
    if len(head) > 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[1] & 0x06:
        return MP3
    return None


class AudioMetaPlugin(Plugin):
    """Audio metadata: ID3, Vorbis comments, MP4, ASF, RIFF INFO/bext tags; duration, bitrate, channels."""

    name: ClassVar[str] = "audio"
    discipline: ClassVar[str] = "audio"
    version: ClassVar[str] = "1.0.0"

    def analyze(self, file: EvidenceFile, data: Buffer, **opts: Any) -> Iterator[Record]:
        head = bytes(data[:64])
        kind = audio_kind(head)
        id3v1 = len(data) >= 128 and bytes(data[-128:-125]) == b"TAG"
        if kind is None and not id3v1:
            return
        raw = bytes(data)
        fields, tags, problems = read_audio(raw, kind or MP3)  # an ID3v1 tag at the end marks an MP3
        if problems and not head.startswith(b"ID3") and not (fields or tags):
            return  # a frame-sync or "TAG" match on something that is not MPEG audio: not ours
        for message in problems:
            yield Problem(file.path, message)
        if fields or tags:
            yield Finding("media/audio", file.path, {"mime": mime_of(raw[:8192]), **fields, "tags": tags})


def read_audio(raw: bytes, kind: type[mutagen.FileType]) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """Normalized fields, grouped tags and problems for one audio file."""
    problems: list[str] = []
    tags: dict[str, Any] = {}
    fields: dict[str, Any] = {}
    if kind is MP3 and raw.startswith(b"ID3") and raw[_id3_size(raw) : _id3_size(raw) + 4] == b"fLaC":
        kind = FLAC  # an ID3 tag in front of a FLAC stream (non-standard, but written by some taggers)
    try:
        audio: Any = kind(io.BytesIO(raw))
    except AUDIO_ERRORS as e:
        problems.append(f"{kind.__name__} could not be read: {type(e).__name__}: {e}")
        audio = _id3_only(raw) if kind is MP3 else None
    if audio is not None:
        family, tags = _tags(audio)
        fields = {**(_stream(audio) if not isinstance(audio, ID3) else {}), **_normalize(family, tags)}
    if kind is WAVE:
        riff, bext, riff_problems = riff_chunks(raw)
        problems += riff_problems
        tags |= riff
        tags |= {f"BWF:{k}": v for k, v in bext.items()}
        fields = {**_normalize("RIFF", riff), **tidy(fields), **_bext_fields(bext)}
        compressed = wav_duration(raw)
        if compressed is not None:
            fields["duration_seconds"] = compressed
    return tidy(fields), tags, problems


def _id3_size(raw: bytes) -> int:
    if len(raw) < 10:
        return 0
    b = raw[6:10]
    return 10 + ((b[0] & 0x7F) << 21 | (b[1] & 0x7F) << 14 | (b[2] & 0x7F) << 7 | (b[3] & 0x7F))


def _id3_only(raw: bytes) -> ID3 | None:
    """The ID3 tag of an MP3 whose audio frames cannot be found (tags only, no stream properties)."""
    try:
        return ID3(io.BytesIO(raw))  # type: ignore[no-untyped-call]
    except AUDIO_ERRORS:
        return None


def _stream(audio: mutagen.FileType) -> dict[str, Any]:
    info = audio.info
    length = getattr(info, "length", None)
    codec = getattr(info, "codec", None) or getattr(info, "codec_name", None)
    if isinstance(audio, MP3):
        codec = f"MPEG-{getattr(info, 'version', 0):g} layer {getattr(info, 'layer', 0)}"
    seconds = round(length, 3) if isinstance(length, (int, float)) else 0
    return {"duration_seconds": seconds if seconds > 0 else None,  # a length that rounds to nothing is unknown
            "bitrate": getattr(info, "bitrate", None) or None,
            "sample_rate": getattr(info, "sample_rate", None) or None,
            "channels": getattr(info, "channels", None) or None,
            "codec": text(codec) or type(audio).__name__,
            "encoder": text(getattr(info, "encoder_info", None)) or None}


def _tags(audio: mutagen.FileType) -> tuple[str, dict[str, Any]]:
    found = audio if isinstance(audio, ID3) else audio.tags
    if found is None:
        return "ID3", {}
    if isinstance(audio, MP4):
        family = "MP4"
    elif isinstance(audio, ASF):
        family = "ASF"
    elif isinstance(audio, (FLAC, OggVorbis, OggOpus, OggSpeex, OggFLAC)):
        family = "Vorbis"
    else:
        family = "ID3"
    tags: dict[str, Any] = {}
    for key, value in sorted(_items(found), key=lambda kv: kv[0]):
        name = key.split(":", 1)[0] if family == "ID3" else key.upper() if family == "Vorbis" else key
        converted = _value(value)
        if converted is not None and f"{family}:{name}" not in tags:
            tags[f"{family}:{name}"] = converted
    return family, tags


def _items(found: Any) -> list[tuple[str, Any]]:
    if hasattr(found, "items"):
        return [(str(k), v) for k, v in found.items()]
    return [(str(k), v) for k, v in found]  # Vorbis comments: a list of (key, value) pairs


def _value(value: Any) -> Any:
    if hasattr(value, "mime") and hasattr(value, "data"):  # embedded picture: its kind and size, not the bytes
        return {"mime": text(value.mime), "size": len(value.data)}
    if hasattr(value, "text"):
        value = value.text
    if isinstance(value, list):
        items = [_value(v) for v in value]
        items = [i for i in items if i is not None]
        if not items:
            return None
        return items[0] if len(items) == 1 else items
    if isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return f"{value[0]}/{value[1]}" if value[1] else str(value[0])  # MP4 track (n, total)
    if hasattr(value, "value") and not isinstance(value, (str, bytes)):
        value = value.value
    return json_value(value) if isinstance(value, (bytes, bool, int, float)) else text(value)


def _normalize(family: str, tags: dict[str, Any]) -> dict[str, Any]:
    fields = {}
    for field, names in _MAP[family].items():
        value = first(*(tags.get(f"{family}:{n}") for n in names))
        if isinstance(value, list):
            value = "; ".join(str(v) for v in value)
        fields[field] = text(value) if value is not None else None
    return fields


def _chunks(raw: bytes) -> Iterator[tuple[bytes, int, bytes]]:
    """(id, declared size, body) of each RIFF chunk; the body is cut short where the file is."""
    offset, end = 12, len(raw)  # tags are often appended after the size the RIFF header declares
    for _ in range(10_000):  # bounded: a chunk size of 0 repeated cannot loop forever
        if offset + 8 > end:
            return
        chunk, size = struct.unpack_from("<4sI", raw, offset)
        yield chunk, size, raw[offset + 8 : offset + 8 + size]
        offset += 8 + size + (size & 1)


def riff_chunks(raw: bytes) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """LIST/INFO tags (``RIFF:INAM``...) and the broadcast-wave ``bext`` chunk of a WAV file."""
    info: dict[str, Any] = {}
    bext: dict[str, Any] = {}
    truncated = False
    for chunk, size, body in _chunks(raw):
        truncated = truncated or len(body) < size
        if chunk == b"LIST" and body[:4] == b"INFO":
            info |= _info_list(body[4:])
        elif chunk == b"bext":
            bext = _bext(body)
    problems = ["WAV chunk runs past the end of the file (truncated)"] if truncated else []
    return info, bext, problems


def wav_duration(raw: bytes) -> float | None:
    """Seconds of a compressed (non-PCM) WAV: the data chunk's size over the byte rate its fmt chunk
    declares (mutagen counts samples as if PCM, which is wrong for ADPCM, GSM and the like)."""
    fmt = data_size = None
    for chunk, size, body in _chunks(raw):
        if chunk == b"fmt " and len(body) >= 16:
            fmt = struct.unpack_from("<HHII", body)
        elif chunk == b"data":
            data_size = min(size, len(body))
    if fmt is None or data_size is None or fmt[0] in (1, 3, 0xFFFE) or not fmt[3]:
        return None  # PCM, float and extensible: mutagen is right
    seconds = round(data_size / fmt[3], 3)
    return seconds or None


def _info_list(body: bytes) -> dict[str, Any]:
    tags = {}
    offset = 0
    while offset + 8 <= len(body):
        key, size = struct.unpack_from("<4sI", body, offset)
        value = text(body[offset + 8 : offset + 8 + size].split(b"\x00")[0].decode("latin-1"))
        if value and key.isalnum():
            tags[f"RIFF:{key.decode('ascii')}"] = value
        offset += 8 + size + (size & 1)
    return tags


def _bext(body: bytes) -> dict[str, Any]:
    if len(body) < 348:
        return {}

    def ascii_field(start: int, length: int) -> str | None:
        value: str | None = text(body[start : start + length].split(b"\x00")[0].decode("latin-1"))
        return value

    return {k: v for k, v in {
        "Description": ascii_field(0, 256), "Originator": ascii_field(256, 32),
        "OriginatorReference": ascii_field(288, 32), "OriginationDate": ascii_field(320, 10),
        "OriginationTime": ascii_field(330, 8), "TimeReference": struct.unpack_from("<Q", body, 338)[0],
        "Version": struct.unpack_from("<H", body, 346)[0]}.items() if v is not None}


def _bext_fields(bext: dict[str, Any]) -> dict[str, Any]:
    date, clock = bext.get("OriginationDate"), bext.get("OriginationTime")
    when = exif_time(f"{date} {clock}".replace("-", ":", 2)) if date and clock else None
    return {"bext_description": bext.get("Description"), "bext_originator": bext.get("Originator"),
            "bext_originator_reference": bext.get("OriginatorReference"), "bext_origination": when,
            "bext_time_reference": bext.get("TimeReference")}
