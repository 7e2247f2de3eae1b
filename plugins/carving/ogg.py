"""Validator of Ogg streams (Vorbis, Opus, FLAC, Speex): a chain of CRC-checked pages. The page reader and
Ogg's CRC-32 are shared with Ogg gap carving (audio_gaps.py)."""

from __future__ import annotations

import struct
import zlib

from dftk_plugins.carving.model import Verdict, View

_BIT_REVERSED = bytes(int(f"{b:08b}"[::-1], 2) for b in range(256))


def ogg_crc(page: bytes) -> int:
    """Ogg's CRC-32 (RFC 3533: polynomial 0x04C11DB7, not reflected, initial 0, no final xor) of a page whose
    CRC field is zeroed. zlib's CRC-32 is the reflected twin of it: run over the bit-reversed bytes from a
    zero register, its register is this CRC bit-reversed (C speed instead of a Python loop per byte)."""
    register = zlib.crc32(page.translate(_BIT_REVERSED), 0xFFFFFFFF) ^ 0xFFFFFFFF
    return int(f"{register:032b}"[::-1], 2)


def _ogg_page(view: View, pos: int) -> tuple[int, int, int, int, bool] | None:
    """(length, header type, stream serial, page sequence, CRC holds) of an Ogg page at ``pos``, or None."""
    header = view.read(pos, 27)
    if len(header) < 27 or header[:5] != b"OggS\0":
        return None
    table = view.read(pos + 27, header[26])
    length = 27 + header[26] + sum(table)
    page = view.read(pos, length)
    if len(page) < length:
        return None
    serial, sequence, stored = struct.unpack_from("<III", page, 14)
    return length, header[5], serial, sequence, ogg_crc(page[:22] + b"\0\0\0\0" + page[26:]) == stored


def ogg(view: View) -> Verdict | None:
    """Ogg (Vorbis, Opus, FLAC, Speex): a chain of CRC-checked pages, from a beginning-of-stream page to the
    end-of-stream page of the streams it began. A first page whose CRC fails (a tagger that rewrote its
    fields) is still the start when the next page is sound and continues its stream in sequence."""
    first = _ogg_page(view, 0)
    if first is None or not first[1] & 0x02:
        return None
    confidence = 0.95
    if not first[4]:
        second = _ogg_page(view, first[0])
        if second is None or not second[4] or second[2:4] != (first[2], first[3] + 1):
            return None
        confidence = 0.8
    pos = first[0]
    while (page := _ogg_page(view, pos)) is not None and page[4]:
        pos += page[0]
        if page[1] & 0x04 and not _sound_page(view, pos):
            return Verdict(pos, True, confidence)
    return Verdict(pos, False, 0.4, pos)


def _sound_page(view: View, pos: int) -> bool:
    page = _ogg_page(view, pos)
    return page is not None and page[4]
