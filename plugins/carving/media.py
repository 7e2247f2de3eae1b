"""Validators of RIFF containers (WAV, AVI, WebP) and PE executables."""

from __future__ import annotations

import struct

from dftk_plugins.carving.images import decodes
from dftk_plugins.carving.model import Verdict, View

_FORMS = {b"WAVE": b"fmt ", b"AVI ": b"hdrl", b"WEBP": b"VP8"}


def riff(view: View) -> Verdict | None:
    """RIFF: the declared size, and a chain of chunks that fills it exactly (the form's header chunk first)."""
    head = view.read(0, 16)
    if len(head) < 16 or head[8:12] not in _FORMS:
        return None
    end = 8 + struct.unpack("<I", head[4:8])[0]
    if not head[12:16].startswith(_FORMS[head[8:12]]) and not head[12:16].startswith(b"LIST"):
        return None
    pos = 12
    while pos + 8 <= min(end, view.size):
        chunk = view.read(pos, 8)
        if not all(32 <= c < 127 for c in chunk[:4]):
            return Verdict(pos, False, 0.3, pos)
        pos += 8 + struct.unpack("<I", chunk[4:8])[0]
        pos += pos & 1
    if end > view.size:
        return Verdict(view.size, False, 0.3, 0)
    if pos not in (end, end + 1):
        return Verdict(min(pos, end), False, 0.3, 0)
    if head[8:12] == b"WEBP" and not decodes(view.read(0, end)):
        return Verdict(end, False, 0.4, 0)
    return Verdict(end, True, 0.9)


def riff_kind(view: View, length: int) -> str:
    """wav, avi or webp."""
    return {b"WAVE": "wav", b"AVI ": "avi", b"WEBP": "webp"}.get(view.read(8, 4), "riff")


def pe(view: View) -> Verdict | None:
    """PE executable: the PE header, optional header magic, sections' raw data and the certificate table."""
    head = view.read(0, 64)
    if len(head) < 64:
        return None
    lfanew = struct.unpack("<I", head[60:64])[0]
    if not 64 <= lfanew < 4096:
        return None
    coff = view.read(lfanew, 24)
    if len(coff) < 24 or coff[:4] != b"PE\x00\x00":
        return None
    sections, _, _, _, opt_size, _ = struct.unpack("<HIIIHH", coff[6:24])
    optional = view.read(lfanew + 24, opt_size)
    if not 0 < sections <= 96 or len(optional) < 2 or struct.unpack("<H", optional[:2])[0] not in (0x10B, 0x20B):
        return None
    end = struct.unpack("<I", optional[60:64])[0] if len(optional) >= 64 else 0  # SizeOfHeaders
    table = view.read(lfanew + 24 + opt_size, 40 * sections)
    if len(table) < 40 * sections:
        return Verdict(view.size, False, 0.3, 0)
    for i in range(sections):
        raw_size, raw_at = struct.unpack("<II", table[40 * i + 16:40 * i + 24])
        if raw_size:
            end = max(end, raw_at + raw_size)
    directories = 96 if optional[:2] == b"\x0b\x01" else 112
    if len(optional) >= directories + 40:
        cert_at, cert_size = struct.unpack("<II", optional[directories + 32:directories + 40])
        if cert_at and cert_size:
            end = max(end, cert_at + cert_size)
    if end > view.size:
        return Verdict(view.size, False, 0.4, 0)
    return Verdict(end, True, 0.85)


_BITRATES = {  # kbit/s by (version is MPEG-1, layer) then index 1..14
    (True, 1): (32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 1): (32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 3): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}
MIN_FRAMES = 4  # a chain this long does not happen by chance


def mpeg_frame_length(header: bytes) -> int | None:
    """The length of the MPEG audio frame this 4-byte header starts, or None if it is not one."""
    if len(header) < 4 or header[0] != 0xFF or header[1] & 0xE0 != 0xE0:
        return None
    version, layer_bits = (header[1] >> 3) & 3, (header[1] >> 1) & 3
    index, rate_index, padding = header[2] >> 4, (header[2] >> 2) & 3, (header[2] >> 1) & 1
    if version == 1 or layer_bits == 0 or index in (0, 15) or rate_index == 3:
        return None
    layer = 4 - layer_bits
    bitrate = _BITRATES[(version == 3, layer)][index - 1] * 1000
    rate = _RATES[version][rate_index]
    if layer == 1:
        return (12 * bitrate // rate + padding) * 4
    return (144 if version == 3 or layer == 2 else 72) * bitrate // rate + padding


def mp3(view: View) -> Verdict | None:
    """MP3: an ID3v2 tag, then a chain of MPEG audio frames (each header gives the next frame's place), then
    an optional ID3v1 tag. Frames carry no checksum here, so a cut file followed by other data can look whole."""
    head = view.read(0, 10)
    if len(head) < 10 or head[:3] != b"ID3" or head[3] not in (2, 3, 4) or any(b & 0x80 for b in head[6:10]):
        return None
    size = (head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9]
    pos = 10 + size + (10 if head[5] & 0x10 else 0)
    while view.read(pos, 1) == b"\0" and pos < view.size:  # padding some taggers leave after the declared size
        pos += 1
    frames = 0
    while True:
        length = mpeg_frame_length(view.read(pos, 4))
        if length is None or pos + length > view.size:
            break
        pos, frames = pos + length, frames + 1
    if frames < MIN_FRAMES:
        return Verdict(pos, False, 0.2, 0) if pos <= view.size else Verdict(view.size, False, 0.1, 0)
    if view.read(pos, 3) == b"TAG" and pos + 128 <= view.size:
        pos += 128
    return Verdict(pos, True, 0.8)


def _ogg_crc_table() -> tuple[int, ...]:
    table = []
    for i in range(256):
        crc = i << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
        table.append(crc & 0xFFFFFFFF)
    return tuple(table)


_OGG_CRC = _ogg_crc_table()


def ogg_crc(page: bytes) -> int:
    """Ogg's CRC-32 (polynomial 0x04C11DB7, not reflected) of a page whose CRC field is zeroed."""
    crc = 0
    for byte in page:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _OGG_CRC[(crc >> 24) ^ byte]
    return crc


def _ogg_page(view: View, pos: int) -> tuple[int, int] | None:
    """(length, header type) of a valid Ogg page at ``pos``, its CRC checked; None otherwise."""
    header = view.read(pos, 27)
    if len(header) < 27 or header[:5] != b"OggS\0":
        return None
    table = view.read(pos + 27, header[26])
    length = 27 + header[26] + sum(table)
    page = view.read(pos, length)
    if len(page) < length:
        return None
    stored = struct.unpack_from("<I", page, 22)[0]
    return (length, header[5]) if ogg_crc(page[:22] + b"\0\0\0\0" + page[26:]) == stored else None


def ogg(view: View) -> Verdict | None:
    """Ogg (Vorbis, Opus, FLAC, Speex): a chain of pages, each CRC-checked, from a beginning-of-stream page to
    the end-of-stream page of the streams it began."""
    first = _ogg_page(view, 0)
    if first is None or not first[1] & 0x02:
        return None
    pos, flags = 0, 0
    while (page := _ogg_page(view, pos)) is not None:
        pos, flags = pos + page[0], page[1]
        if flags & 0x04 and _ogg_page(view, pos) is None:
            return Verdict(pos, True, 0.95)
    return Verdict(pos, False, 0.4, pos)
