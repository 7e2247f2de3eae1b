"""FLAC and ASF headers walked by hand, for files mutagen refuses as a whole: FLAC's STREAMINFO and Vorbis
comment blocks, ASF's Content Description object."""

from __future__ import annotations

import struct
from typing import Any

from mutagen.flac import StreamInfo, VCFLACDict

from dftk_plugins.metadata.audio_id3 import _id3_size
from dftk_plugins.metadata.audio_tags import AUDIO_ERRORS, _error, _normalize, _stream, _tag_dict
from dftk_plugins.metadata.common import text

_ASF_CONTENT_DESCRIPTION = bytes.fromhex("3326b2758e66cf11a6d900aa0062ce6c")
_ASF_DESCRIPTION_NAMES = ("Title", "Author", "Copyright", "Description", "Rating")
_FLAC_STREAMINFO, _FLAC_VORBIS_COMMENT, _FLAC_STREAMINFO_SIZE = 0, 4, 34
_MAX_BLOCKS = 10_000  # bounds the hand-walked FLAC/ASF block lists (a size of 0 repeated cannot loop forever)


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
