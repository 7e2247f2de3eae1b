"""Audio metadata (discipline: audio): tags and stream properties through mutagen, RIFF INFO and bext directly.

MP3 (ID3v1, ID3v2.2-2.4), FLAC, OGG Vorbis/Opus, M4A/MP4, WAV (ID3, LIST/INFO, broadcast-wave bext), AIFF,
WMA/ASF. See docs/metadata.md for the fields.

Where mutagen refuses a damaged file as a whole, what can still be read is read by a fallback and a Problem
says what was wrong: a truncated ID3v2 tag, FLAC metadata blocks mutagen rejects, a truncated ASF header. ID3
text with bytes invalid in its declared encoding is decoded with U+FFFD instead of the frame being dropped.

The readers are beside this plugin, by container: ``audio_tags.py`` (mutagen's tags and stream properties,
normalized), ``audio_id3.py`` (ID3, and MP3 that mutagen refuses), ``audio_blocks.py`` (FLAC and ASF headers
walked by hand) and ``audio_riff.py`` (WAV chunks: LIST/INFO, bext).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any, ClassVar

import mutagen
from mutagen.aiff import AIFF
from mutagen.asf import ASF
from mutagen.flac import FLAC
from mutagen.mp3 import MP3
from mutagen.mp4 import MP4
from mutagen.oggflac import OggFLAC
from mutagen.oggopus import OggOpus
from mutagen.oggspeex import OggSpeex
from mutagen.oggvorbis import OggVorbis
from mutagen.wave import WAVE

from dftk.api import Buffer, EvidenceFile, Finding, Plugin, Problem, Record, mime_of
from dftk_plugins.metadata.audio_blocks import asf_content_description, flac_fallback
from dftk_plugins.metadata.audio_id3 import _LENIENT_ID3, _id3_size, _replaced_text, mp3_fallback
from dftk_plugins.metadata.audio_riff import _bext_fields, riff_chunks, wav_duration
from dftk_plugins.metadata.audio_tags import AUDIO_ERRORS, _error, _normalize, _stream, _tags
from dftk_plugins.metadata.common import marks, tidy

_ASF = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")
_VIDEO_BRANDS = (b"heic", b"heix", b"mif1", b"msf1", b"avif", b"crx ", b"qt  ")


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
    version: ClassVar[str] = "1.2.0"

    def analyze(self, file: EvidenceFile, data: Buffer, **opts: Any) -> Iterator[Record]:
        head = bytes(data[:64])
        kind = audio_kind(head)
        id3v1 = len(data) >= 128 and bytes(data[-128:-125]) == b"TAG"
        if kind is None and not id3v1:
            return
        raw = bytes(data)
        fields, tags, problems = read_audio(raw, kind or MP3)  # an ID3v1 tag at the end marks an MP3
        if problems and not (fields or tags) and not head.startswith((b"ID3", b"fLaC", _ASF)):
            return  # a frame-sync, "TAG" or "ftyp" match on something that is not audio: not ours
        for message in problems:
            yield Problem(file.path, message)
        if fields or tags:
            yield Finding("media/audio", file.path, {"mime": mime_of(raw[:8192]), **fields, "tags": tags,
                                                     **marks(fields, {"date": "date in the tags"})})


def read_audio(raw: bytes, kind: type[mutagen.FileType]) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """Normalized fields, grouped tags and problems for one audio file."""
    problems: list[str] = []
    if kind is MP3 and raw.startswith(b"ID3") and raw[_id3_size(raw) : _id3_size(raw) + 4] == b"fLaC":
        kind = FLAC  # an ID3 tag in front of a FLAC stream (non-standard, but written by some taggers)
    options = {"known_frames": _LENIENT_ID3} if kind in (MP3, WAVE, AIFF) else {}
    try:
        audio: Any = kind(io.BytesIO(raw), **options)
    except AUDIO_ERRORS as e:
        problems.append(f"{kind.__name__} could not be read: {_error(e)}")
        fields, tags, more = _fallback(raw, kind)
        problems += more
    else:
        family, tags = _tags(audio)
        fields = {**_stream(audio.info, type(audio).__name__), **_normalize(family, tags)}
        problems += _replaced_text(audio.tags)
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


def _fallback(raw: bytes, kind: type[mutagen.FileType]) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """What can still be read of a file mutagen refuses: fields, tags and the problems found on the way."""
    if kind is MP3:
        return mp3_fallback(raw)
    if kind is FLAC:
        return flac_fallback(raw)
    if kind is ASF:
        tags, problems = asf_content_description(raw)
        return _normalize("ASF", tags), tags, problems
    return {}, {}, []
