"""Validator of FLAC streams, optionally behind an ID3v2 tag: metadata blocks, then frames whose CRC-checked,
numbered headers chain. The frame header, CRC and frame-walking helpers are shared with FLAC gap carving
(audio_gaps.py)."""

from __future__ import annotations

from dftk_plugins.carving.model import Verdict, View
from dftk_plugins.carving.mp3 import _zeros, id3v2_size


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
_FLAC_SEARCH = 1 << 20  # how far a frame's successor is looked for when STREAMINFO gives no maximum frame size
_FLAC_BUFFER = 1 << 20  # bytes read at a time while walking frames (at least one frame's window)


def _utf8_extra(first: int) -> int:
    """Continuation bytes of a UTF-8-style coded number whose first byte is ``first`` (-1: not a first byte)."""
    if first < 0x80:
        return 0
    return next((n for n in range(1, 7) if first >> (6 - n) == (0xFF >> (6 - n)) - 1), -1)


_EXTRA = tuple(_utf8_extra(b) for b in range(256))  # a table: every frame header is parsed, often twice
_BLOCK_BY_CODE = tuple(_BLOCK.get(code, 0) for code in range(16))
_RATE_BYTES = (0,) * 12 + (1, 2, 2, 0)  # sample rate codes 12-14 are followed by the rate itself


def _flac_header(data: bytes) -> tuple[int, int, int] | None:
    """(header length, block size in samples, coded number) of a FLAC frame header with a valid CRC-8, else
    None. The coded number is the frame number (fixed block size) or the first sample's (variable)."""
    if len(data) < 6 or data[0] != 0xFF or data[1] not in (0xF8, 0xF9) or data[3] & 1:
        return None
    code, rate_code = data[2] >> 4, data[2] & 0xF
    if code == 0 or rate_code == 15 or (data[3] >> 4) > 10:
        return None
    extra = _EXTRA[data[4]]
    if extra < 0 or len(data) < 5 + extra:
        return None
    number = data[4] & (0x7F >> extra)
    for byte in data[5:5 + extra]:
        if byte & 0xC0 != 0x80:
            return None
        number = number << 6 | byte & 0x3F
    pos = 5 + extra
    size = _BLOCK_BY_CODE[code]
    if code in (6, 7):
        size = int.from_bytes(data[pos : pos + code - 5], "big") + 1
        pos += code - 5
    pos += _RATE_BYTES[rate_code]
    if pos >= len(data):
        return None
    crc, table = 0, _CRC8
    for byte in data[:pos]:
        crc = table[crc ^ byte]
    return (pos + 1, size, number) if crc == data[pos] else None


def _flac_crc16_end(data: bytes, low: int) -> int | None:
    """The first length at least ``low`` at which the frame's CRC-16 (footer included) comes to 0."""
    crc = 0
    for i, byte in enumerate(data):
        crc = ((crc << 8) & 0xFFFF) ^ _CRC16[(crc >> 8) ^ byte]
        if crc == 0 and i + 1 >= low:
            return i + 1
    return None


def _flac_chain(buf: bytes, pos: int, size: int, window: int, header: tuple[int, int, int],
                room: int) -> tuple[int, tuple[int, int, int], int, bool]:
    """Follows the frames in ``buf`` from ``pos`` (whose header is given) while each one's successor is
    found: a header within its window (``window`` bytes, cut at ``size``, the view's end) with the same
    blocking strategy, a valid CRC-8 and the next frame (or first sample) number. Two CRC-checked, numbered
    headers in sequence bound a frame, so its CRC-16 need not be computed byte by byte. Stops before a frame
    that would reach ``room`` samples (0: no limit). Returns (the frame it stopped at, its header, the
    samples of the frames passed, whether it stopped only because the buffer ends within that frame's
    window). One tight loop: a stream of tiny frames has thousands."""
    sync = buf[pos:pos + 2]
    variable, find, samples, buffered = sync[1] & 1, buf.find, 0, len(buf)
    while not room or samples + header[1] < room:
        end = pos + window if pos + window < size else size
        if end > buffered:
            return pos, header, samples, True
        expected = header[2] + (header[1] if variable else 1)
        at = find(sync, pos + header[0] + 2, end)
        while at >= 0:
            following = _flac_header(buf[at:at + 16 if at + 16 < end else end])
            if following is not None and following[2] == expected:
                break
            at = find(sync, at + 1, end)
        else:
            break
        samples, pos, header = samples + header[1], at, following
    return pos, header, samples, False


def _flac_metadata(view: View, pos: int) -> int | None:
    """The end of the metadata blocks from ``pos`` (after "fLaC"), or None if they run past the view. A
    PICTURE block whose declared length cannot hold its own fields is measured by those fields instead."""
    last = False
    while not last:
        block = view.read(pos, 4)
        if len(block) < 4:
            return None
        last, kind, length = bool(block[0] & 0x80), block[0] & 0x7F, int.from_bytes(block[1:4], "big")
        if kind == 6 and length < 32:
            length = _flac_picture_length(view, pos + 4)
        pos += 4 + length
    return pos


def _flac_picture_length(view: View, pos: int) -> int:
    """The length of a PICTURE block's body from its fields: type, MIME type, description, four numbers, data."""
    mime = int.from_bytes(view.read(pos + 4, 4), "big")
    text = int.from_bytes(view.read(pos + 8 + mime, 4), "big")
    data = int.from_bytes(view.read(pos + 28 + mime + text, 4), "big")
    return 32 + mime + text + data


def _flac_total(streaminfo: bytes) -> int:
    """STREAMINFO's total samples per channel (36 bits; 0 means unknown)."""
    return int.from_bytes(streaminfo[13:18], "big") & ((1 << 36) - 1)


def _flac_frames(view: View, pos: int, streaminfo: bytes) -> tuple[int, int]:
    """(end, samples) of the chain of frames from ``pos``: each bounded by its numbered successor, and the
    stream's last frame (STREAMINFO's total reached, or no successor) by its CRC-16."""
    min_frame = int.from_bytes(streaminfo[4:7], "big")
    window = (int.from_bytes(streaminfo[7:10], "big") or _FLAC_SEARCH) + 16
    total = _flac_total(streaminfo)
    samples = 0
    # Frames are walked inside one large buffer read at ``at`` (re-read only when a frame's window runs past
    # it), each seeing the bytes up to ``end``: exactly what reading its own window would give.
    at, buf = pos, b""
    header = None  # the frame at ``pos`` when its predecessor already parsed it
    while not total or samples < total:
        end = min(pos + window, view.size)
        if end > at + len(buf):
            at, buf = pos, view.read(pos, max(window, _FLAC_BUFFER))
        if header is None:
            header = _flac_header(buf[pos - at:min(pos - at + 16, end - at)])
            if header is None:
                break
        pos, header, passed, more = _flac_chain(buf, pos - at, view.size - at, window, header,
                                                total - samples if total else 0)
        pos, samples = at + pos, samples + passed
        if more:
            continue
        data = buf[pos - at:min(pos + window, view.size) - at]
        last = _flac_crc16_end(data, max(min_frame, header[0] + 3))  # the last frame, or a cut
        if last is None or (not total and _flac_header(view.read(pos + last, 16)) is not None):
            break
        samples, pos = samples + header[1], pos + last
        break
    return pos, samples


def flac_start(view: View) -> int | None:
    """Where "fLaC" and its STREAMINFO block (42 bytes in all) start: at 0, or after an ID3v2 tag and the
    zero padding some taggers add; None if this is not a FLAC stream."""
    start = id3v2_size(view.read(0, 10)) if view.read(0, 3) == b"ID3" else 0
    if start is None:
        return None
    start += _zeros(view, start) if start else 0
    head = view.read(start, 42)
    if len(head) < 42 or head[:4] != b"fLaC" or head[4] & 0x7F != 0 or head[5:8] != b"\0\0\x22":
        return None
    return start


def flac(view: View) -> Verdict | None:
    """FLAC, optionally behind an ID3v2 tag (and the zero padding some taggers add): metadata blocks
    (STREAMINFO first), then frames whose CRC-checked, numbered headers chain until the samples STREAMINFO
    declares are all there (a stream that leaves its length unknown ends with the last frame's CRC-16). A
    chain that stops short is a cut or fragmented file: partial, its sound part up to the break."""
    start = flac_start(view)
    if start is None:
        return None
    head = view.read(start, 42)
    pos = _flac_metadata(view, start + 4)
    if pos is None or pos > view.size:
        return Verdict(view.size, False, 0.1, 0)
    total = _flac_total(head[8:42])
    end, samples = _flac_frames(view, pos, head[8:42])
    if total and samples == total:
        return Verdict(end, True, 0.9)
    if not total and end > pos:
        return Verdict(end, True, 0.7)
    return Verdict(end, False, 0.5, end)
