"""Tags and stream properties as mutagen reads them, made uniform: each tag family's tags grouped under its
name (``ID3:TIT2``, ``Vorbis:TITLE``...), the normalized fields (title, artist...) picked from them, and the
stream's duration, bitrate, sample rate, channels and codec."""

from __future__ import annotations

import struct
from typing import Any

import mutagen
from mutagen.asf import ASF
from mutagen.flac import FLAC
from mutagen.id3 import ID3
from mutagen.mp3 import MPEGInfo
from mutagen.mp4 import MP4
from mutagen.oggflac import OggFLAC
from mutagen.oggopus import OggOpus
from mutagen.oggspeex import OggSpeex
from mutagen.oggvorbis import OggVorbis

from dftk_plugins.metadata.common import first, json_value, text

AUDIO_ERRORS = (mutagen.MutagenError, struct.error, ValueError, IndexError, EOFError, KeyError, TypeError,
                OverflowError, UnicodeDecodeError, ZeroDivisionError, AssertionError)
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


def _error(e: BaseException) -> str:
    """An exception as "Name: message" ("Name" alone: mutagen raises some with no message)."""
    return f"{type(e).__name__}: {e}" if str(e) else type(e).__name__


def _stream(info: Any, name: str) -> dict[str, Any]:
    length = getattr(info, "length", None)
    codec = getattr(info, "codec", None) or getattr(info, "codec_name", None)
    if isinstance(info, MPEGInfo):
        codec = f"MPEG-{getattr(info, 'version', 0):g} layer {getattr(info, 'layer', 0)}"
    seconds = round(length, 3) if isinstance(length, (int, float)) else 0
    return {"duration_seconds": seconds if seconds > 0 else None,  # a length that rounds to nothing is unknown
            "bitrate": getattr(info, "bitrate", None) or None,
            "sample_rate": getattr(info, "sample_rate", None) or None,
            "channels": getattr(info, "channels", None) or None,
            "codec": text(codec) or name,
            "encoder": text(getattr(info, "encoder_info", None)) or None}


def _tags(audio: mutagen.FileType | ID3) -> tuple[str, dict[str, Any]]:
    found = audio if isinstance(audio, ID3) else audio.tags
    if isinstance(audio, MP4):
        family = "MP4"
    elif isinstance(audio, ASF):
        family = "ASF"
    elif isinstance(audio, (FLAC, OggVorbis, OggOpus, OggSpeex, OggFLAC)):
        family = "Vorbis"
    else:
        family = "ID3"
    return family, ({} if found is None else _tag_dict(family, found))


def _tag_dict(family: str, found: Any) -> dict[str, Any]:
    tags: dict[str, Any] = {}
    for key, value in sorted(_items(found), key=lambda kv: kv[0]):
        name = key.split(":", 1)[0] if family == "ID3" else key.upper() if family == "Vorbis" else key
        converted = _value(value)
        if converted is not None and f"{family}:{name}" not in tags:
            tags[f"{family}:{name}"] = converted
    return tags


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
