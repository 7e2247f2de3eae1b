"""ID3 tags: mutagen's frames made lenient (text invalid in its declared encoding is kept, with U+FFFD) and
the problems that reports, and what can still be read of an MP3 mutagen refuses as a whole (a truncated
ID3v2 tag, the MPEG stream after it)."""

from __future__ import annotations

import io
from typing import Any

from mutagen.id3 import ID3, Encoding, Frame, Frames, Frames_2_2, TextFrame
from mutagen.id3._specs import EncodedTextSpec, EncodingSpec, MultiSpec, SpecError
from mutagen.mp3 import MPEGInfo

from dftk_plugins.metadata.audio_tags import AUDIO_ERRORS, _error, _normalize, _stream, _tags


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
