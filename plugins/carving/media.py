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


def _crc_table(poly: int, width: int) -> tuple[int, ...]:
    top, mask = 1 << (width - 1), (1 << width) - 1
    table = []
    for i in range(256):
        crc = i << (width - 8)
        for _ in range(8):
            crc = ((crc << 1) ^ poly) if crc & top else crc << 1
        table.append(crc & mask)
    return tuple(table)


_CRC8 = _crc_table(0x07, 8)
_CRC16 = _crc_table(0x8005, 16)
_BLOCK = {1: 192, 2: 576, 3: 1152, 4: 2304, 5: 4608, **{n: 256 << (n - 8) for n in range(8, 16)}}


def _flac_header(data: bytes) -> tuple[int, int] | None:
    """(header length, block size in samples) of a FLAC frame header with a valid CRC-8, else None."""
    if len(data) < 6 or data[0] != 0xFF or data[1] not in (0xF8, 0xF9) or data[3] & 1:
        return None
    code, rate_code = data[2] >> 4, data[2] & 0xF
    if code == 0 or rate_code == 15 or (data[3] >> 4) > 10:
        return None
    pos = 4
    first = data[pos]
    extra = 0 if first < 0x80 else next((n for n in range(1, 7) if first >> (6 - n) == (0xFF >> (6 - n)) - 1), -1)
    if extra < 0:
        return None
    pos += 1 + extra
    size = _BLOCK.get(code, 0)
    if code in (6, 7):
        size = int.from_bytes(data[pos : pos + code - 5], "big") + 1
        pos += code - 5
    pos += {12: 1, 13: 2, 14: 2}.get(rate_code, 0)
    crc = 0
    for byte in data[:pos]:
        crc = _CRC8[crc ^ byte]
    return (pos + 1, size) if pos < len(data) and crc == data[pos] else None


def _flac_frame_end(view: View, pos: int, limit: int, final: bool) -> int | None:
    """Where the frame at ``pos`` ends: where its CRC-16 (footer included) comes to 0 and, unless it is the
    stream's last frame, the next frame's header begins."""
    data = view.read(pos, limit)
    crc = 0
    for i, byte in enumerate(data):
        crc = ((crc << 8) & 0xFFFF) ^ _CRC16[(crc >> 8) ^ byte]
        if crc == 0 and i >= 8 and (final or _flac_header(data[i + 1 : i + 17]) is not None):
            return pos + i + 1
    return None


def flac(view: View) -> Verdict | None:
    """FLAC: metadata blocks (STREAMINFO first), then frames, each frame header's CRC-8 and each frame's CRC-16
    checked, until the samples STREAMINFO declares are all there."""
    head = view.read(0, 42)
    if len(head) < 42 or head[:4] != b"fLaC" or head[4] & 0x7F != 0:
        return None
    max_frame = int.from_bytes(head[15:18], "big") or (1 << 20)
    total = int.from_bytes(head[21:26], "big") & ((1 << 36) - 1)
    pos, last = 4, False
    while not last:
        block = view.read(pos, 4)
        if len(block) < 4:
            return Verdict(view.size, False, 0.1, 0)
        last, pos = bool(block[0] & 0x80), pos + 4 + int.from_bytes(block[1:4], "big")
    samples = 0
    while not total or samples < total:
        header = _flac_header(view.read(pos, 16))
        final = bool(header and total and samples + header[1] >= total)
        end = _flac_frame_end(view, pos, max_frame + 16, final) if header else None
        if header is None or end is None:
            return Verdict(pos, False, 0.5, pos)  # cut, or a stream whose length STREAMINFO leaves unknown
        samples, pos = samples + header[1], end
    return Verdict(pos, samples == total, 0.9)
