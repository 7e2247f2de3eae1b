"""WAV files' RIFF chunks, read directly: LIST/INFO tags, the broadcast-wave ``bext`` chunk, and the duration
of compressed (non-PCM) data, which mutagen gets wrong."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any

from dftk_plugins.metadata.common import exif_time, text


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
