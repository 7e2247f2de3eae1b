"""Audio metadata (discipline: audio): tags and stream properties through mutagen, RIFF INFO and bext directly.

MP3 (ID3v1, ID3v2.2-2.4), FLAC, OGG Vorbis/Opus, M4A/MP4, WAV (ID3, LIST/INFO, broadcast-wave bext), AIFF,
WMA/ASF. See docs/metadata.md for the fields.

Where mutagen refuses a damaged file as a whole, what can still be read is read by a fallback and a Problem
says what was wrong: a truncated ID3v2 tag, FLAC metadata blocks mutagen rejects, a truncated ASF header. ID3
text with bytes invalid in its declared encoding is decoded with U+FFFD instead of the frame being dropped.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator
from typing import Any, ClassVar

import mutagen
from mutagen.aiff import AIFF
from mutagen.asf import ASF
from mutagen.flac import FLAC, StreamInfo, VCFLACDict
from mutagen.id3 import ID3, Encoding, Frame, Frames, Frames_2_2, TextFrame
from mutagen.id3._specs import EncodedTextSpec, EncodingSpec, MultiSpec, SpecError
from mutagen.mp3 import MP3, MPEGInfo
from mutagen.mp4 import MP4
from mutagen.oggflac import OggFLAC
from mutagen.oggopus import OggOpus
from mutagen.oggspeex import OggSpeex
from mutagen.oggvorbis import OggVorbis
from mutagen.wave import WAVE

from dftk.api import Buffer, EvidenceFile, Finding, Plugin, Problem, Record, mime_of
from dftk_plugins.metadata.common import exif_time, first, json_value, marks, text, tidy

AUDIO_ERRORS = (mutagen.MutagenError, struct.error, ValueError, IndexError, EOFError, KeyError, TypeError,
                OverflowError, UnicodeDecodeError, ZeroDivisionError, AssertionError)
_ASF = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")
_ASF_CONTENT_DESCRIPTION = bytes.fromhex("3326b2758e66cf11a6d900aa0062ce6c")
_ASF_DESCRIPTION_NAMES = ("Title", "Author", "Copyright", "Description", "Rating")
_FLAC_STREAMINFO, _FLAC_VORBIS_COMMENT, _FLAC_STREAMINFO_SIZE = 0, 4, 34
_MAX_BLOCKS = 10_000  # bounds the hand-walked FLAC/ASF block lists (a size of 0 repeated cannot loop forever)
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


class _ReplacedText(str):
    """ID3 text decoded with U+FFFD for bytes invalid in the frame's declared encoding (marks it for a Problem)."""


class _ReplacingTextSpec(EncodedTextSpec):
    """mutagen's ID3 text spec, except that invalid bytes become U+FFFD: mutagen drops the whole frame, which
    loses the readable rest of a title (exiftool keeps it too)."""

    def read(self, header: Any, frame: Any, data: bytes) -> tuple[str, bytes]:
        try:
            value, rest = super().read(header, frame, data)  # type: ignore[no-untyped-call]
            return value, rest
        except SpecError:
            encoding, terminator = self._encodings[frame.encoding]
            end = _terminator(data, terminator)
            return _ReplacedText(data[:end].decode(encoding, "replace")), data[end + len(terminator) :]


def _terminator(data: bytes, terminator: bytes) -> int:
    """Where the text ends: the first terminator (aligned for UTF-16), or the end of the data."""
    index = data.find(terminator)
    while index != -1 and index % len(terminator):
        index = data.find(terminator, index + 1)
    return len(data) if index == -1 else index


def _lenient_frames() -> dict[str, type[Frame]]:
    """mutagen's frame classes, the plain v2.3/2.4 text frames (TIT2, TPE1, ...) with _ReplacingTextSpec; passed
    as ``known_frames``, mutagen's hook for custom frame classes. v2.2 tags have no UTF-8 and keep mutagen's."""
    text_spec = _ReplacingTextSpec("text")  # type: ignore[no-untyped-call]
    spec = [EncodingSpec("encoding", default=Encoding.UTF16),  # type: ignore[no-untyped-call]
            MultiSpec("text", text_spec, sep="\u0000", default=[])]  # type: ignore[no-untyped-call]
    frames: dict[str, type[Frame]] = dict(Frames_2_2)
    for name, cls in Frames.items():
        # the subclass keeps the frame id (its class name); TXXX, TIPL, dates etc. have other specs and stay
        plain = cls._framespec is TextFrame._framespec
        frames[name] = type(name, (cls,), {"_framespec": spec}) if plain else cls
    return frames


_LENIENT_ID3 = _lenient_frames()


class AudioMetaPlugin(Plugin):
    """Audio metadata: ID3, Vorbis comments, MP4, ASF, RIFF INFO/bext tags; duration, bitrate, channels."""

    name: ClassVar[str] = "audio"
    discipline: ClassVar[str] = "audio"
    version: ClassVar[str] = "1.1.0"

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


def _error(e: BaseException) -> str:
    """An exception as "Name: message" ("Name" alone: mutagen raises some with no message)."""
    return f"{type(e).__name__}: {e}" if str(e) else type(e).__name__


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


def _id3_size(raw: bytes) -> int:
    if len(raw) < 10:
        return 0
    b = raw[6:10]
    return 10 + ((b[0] & 0x7F) << 21 | (b[1] & 0x7F) << 14 | (b[2] & 0x7F) << 7 | (b[3] & 0x7F))


def mp3_fallback(raw: bytes) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """The ID3 tag of an MP3 mutagen cannot open as a whole, and the MPEG stream properties of the frames after
    the tag when there are any (a truncated tag has none: the file ends inside it)."""
    tag, problems = id3_tag(raw)
    family, tags = _tags(tag) if tag is not None else ("ID3", {})
    fields = {**_mpeg_after_tag(raw), **_normalize(family, tags)}
    return fields, tags, problems + _replaced_text(tag)


def id3_tag(raw: bytes) -> tuple[ID3 | None, list[str]]:
    """The ID3 tag (v2, else v1) and problems; an ID3v2 tag that declares more bytes than the file holds is read
    from a copy whose header declares only the bytes present, since mutagen refuses a short tag outright."""
    try:
        return ID3(io.BytesIO(raw), known_frames=_LENIENT_ID3), []  # type: ignore[no-untyped-call]
    except AUDIO_ERRORS:
        pass
    declared = _id3_size(raw)
    if not raw.startswith(b"ID3") or declared <= len(raw):
        return None, []
    present = len(raw) - 10  # below 2**28 here: the declared size, synchsafe, is
    patched = raw[:6] + bytes(present >> shift & 0x7F for shift in (21, 14, 7, 0)) + raw[10:]
    problem = f"ID3v2 tag declares {declared} bytes but the file ends after {len(raw)} bytes (truncated)"
    try:
        tag = ID3(io.BytesIO(patched), known_frames=_LENIENT_ID3)  # type: ignore[no-untyped-call]
    except AUDIO_ERRORS as e:
        return None, [f"{problem}; no frame could be read: {_error(e)}"]
    return tag, [f"{problem}; frames read up to the end of the file"]


def _mpeg_after_tag(raw: bytes) -> dict[str, Any]:
    start = _id3_size(raw) if raw.startswith(b"ID3") else 0
    if start >= len(raw):
        return {}
    try:
        info = MPEGInfo(io.BytesIO(raw), start)
    except AUDIO_ERRORS:
        return {}
    return _stream(info, "MP3")


def _replaced_text(tags: Any) -> list[str]:
    """A Problem per ID3 frame whose text was decoded with U+FFFD (see _ReplacingTextSpec)."""
    if not isinstance(tags, ID3):
        return []
    frames = tags.values()  # type: ignore[no-untyped-call]
    names = sorted({f.FrameID for f in frames if any(isinstance(t, _ReplacedText) for t in getattr(f, "text", []))})
    return [f"ID3 frame {name}: text not valid in its declared encoding, invalid bytes shown as U+FFFD"
            for name in names]


def flac_fallback(raw: bytes) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """STREAMINFO and Vorbis comments of a FLAC stream mutagen refuses, its metadata blocks walked by hand (the
    blocks' contents are still decoded by mutagen's StreamInfo and VCFLACDict)."""
    blocks, problems = flac_blocks(raw)
    fields: dict[str, Any] = {}
    tags: dict[str, Any] = {}
    streaminfo = blocks.get(_FLAC_STREAMINFO)
    if streaminfo is not None:
        if len(streaminfo) != _FLAC_STREAMINFO_SIZE:
            problems.append(f"FLAC STREAMINFO is {len(streaminfo)} bytes, not {_FLAC_STREAMINFO_SIZE}")
        try:  # 18 bytes hold everything up to the sample count; only the MD5 signature is then missing
            block = streaminfo[:_FLAC_STREAMINFO_SIZE].ljust(_FLAC_STREAMINFO_SIZE, b"\x00")
            fields = _stream(StreamInfo(block), "FLAC")  # type: ignore[no-untyped-call]
        except AUDIO_ERRORS as e:
            problems.append(f"FLAC STREAMINFO is invalid: {_error(e)}")
    comments = blocks.get(_FLAC_VORBIS_COMMENT)
    if comments is not None:
        try:
            tags = _tag_dict("Vorbis", VCFLACDict(comments))  # type: ignore[no-untyped-call]
        except AUDIO_ERRORS as e:
            problems.append(f"FLAC Vorbis comment block is invalid: {_error(e)}")
    return {**fields, **_normalize("Vorbis", tags)}, tags, problems


def flac_blocks(raw: bytes) -> tuple[dict[int, bytes], list[str]]:
    """The first metadata block of each type (body, cut short where the file ends) and the problems found."""
    offset = _id3_size(raw) if raw.startswith(b"ID3") else 0
    if raw[offset : offset + 4] != b"fLaC":
        return {}, ["no FLAC stream marker"]
    offset += 4
    blocks: dict[int, bytes] = {}
    problems: list[str] = []
    for _ in range(_MAX_BLOCKS):
        if offset + 4 > len(raw):
            problems.append("FLAC metadata ends before its last block (truncated)")
            break
        header, size = raw[offset], int.from_bytes(raw[offset + 1 : offset + 4], "big")
        body = raw[offset + 4 : offset + 4 + size]
        kind = header & 0x7F
        if kind in blocks and kind == _FLAC_STREAMINFO:
            problems.append(f"second FLAC STREAMINFO at offset {offset} ignored (a stream has one, first used)")
        blocks.setdefault(kind, body)
        if len(body) < size:
            problems.append(f"FLAC metadata block (type {kind}) at offset {offset} declares {size} bytes, "
                            f"the file ends after {len(body)} bytes (truncated)")
            break
        if header & 0x80:  # the last-block flag
            break
        offset += 4 + size
    return blocks, problems


def asf_content_description(raw: bytes) -> tuple[dict[str, Any], list[str]]:
    """``ASF:Title``, ``ASF:Author``... from the Content Description object of an ASF header mutagen refuses
    (it reads the header's objects all or none); the objects are walked while they lie inside the file."""
    if len(raw) < 30:
        return {}, ["ASF header object is shorter than 30 bytes"]
    declared, count = struct.unpack_from("<QI", raw, 16)
    problems = [f"ASF header declares {declared} bytes, the file ends after {len(raw)} bytes (truncated); objects "
                "read up to the end of the file"] if declared > len(raw) else []
    offset, end = 30, min(declared, len(raw))
    for _ in range(min(count, _MAX_BLOCKS)):
        if offset + 24 > end:
            break
        guid, size = struct.unpack_from("<16sQ", raw, offset)
        if size < 24:
            return {}, [*problems, f"ASF header object at offset {offset} has an invalid size ({size})"]
        if guid == _ASF_CONTENT_DESCRIPTION and offset + size <= end:
            return _content_description(raw[offset + 24 : offset + size]), problems
        offset += size
    return {}, problems


def _content_description(body: bytes) -> dict[str, Any]:
    """Five 16-bit lengths, then the five UTF-16LE strings (title, author, copyright, description, rating)."""
    if len(body) < 10:
        return {}
    tags: dict[str, Any] = {}
    position = 10
    for name, length in zip(_ASF_DESCRIPTION_NAMES, struct.unpack_from("<5H", body), strict=True):
        value = text(body[position : position + length].decode("utf-16-le", "replace"))
        if value is not None:
            tags[f"ASF:{name}"] = value
        position += length
    return tags


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
