"""Validators of RIFF containers (WAV, AVI, WebP) and audio streams (MP3, Ogg, FLAC); PE is in executables.py."""

from __future__ import annotations

import struct
import zlib

from dftk_plugins.carving import pcm
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
    if head[8:12] == b"WEBP" and not decodes(view.read(0, end), "WEBP"):
        return Verdict(end, False, 0.4, 0)
    if head[8:12] == b"WAVE" and (cut := wav_break(view)) is not None:
        return Verdict(cut, False, 0.3, cut)  # filler inside the samples: a fragment break
    return Verdict(end, True, 0.9)


def wav_pcm(view: View) -> pcm.Pcm | None:
    """The integer PCM samples of a WAV file (its "fmt " and "data" chunks), or None if there are none to
    judge."""
    fmt, pos = b"", 12
    while len(chunk := view.read(pos, 8)) == 8:
        size = struct.unpack("<I", chunk[4:8])[0]
        if chunk[:4] == b"fmt ":
            fmt = view.read(pos + 8, min(size, 40))
        elif chunk[:4] == b"data":
            start = view.start + pos + 8
            return pcm.layout(fmt, start, start + min(size, view.size - pos - 8))
        pos += 8 + size + (size & 1)
    return None


def wav_break(view: View) -> int | None:
    """Where (a file position) smooth sound turns to foreign data at a sector boundary in a WAV file's
    samples, or None (see ``pcm``)."""
    samples = wav_pcm(view)
    if samples is None:
        return None
    first = -(-samples.start // pcm.SECTOR) * pcm.SECTOR
    data = view.reader.read(first, max(0, min(samples.end, first + pcm.CHECKED) - first))
    cut = pcm.first_break(data, first, samples)
    return None if cut is None else cut - view.start


def riff_kind(view: View, length: int) -> str:
    """wav, avi or webp."""
    return {b"WAVE": "wav", b"AVI ": "avi", b"WEBP": "webp"}.get(view.read(8, 4), "riff")


_BITRATES = {  # kbit/s by (version is MPEG-1, layer) then index 1..14
    (True, 1): (32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 1): (32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 3): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}
_LAYER3 = (0xE2, 0xE3, 0xF2, 0xF3, 0xFA, 0xFB)  # sync, a defined version (2.5, 2, 1), Layer III, CRC bit
MP3_SYNC = (f"FF ({'|'.join(f'{b:02X}' for b in _LAYER3)}) "
            f"({'|'.join(f'{i << 4 | r << 2 | low:02X}' for i in range(1, 15) for r in range(3) for low in range(4))}) "
            f"({'|'.join(f'{b:02X}' for b in range(256) if b & 3 != 2)})")
"""The frame header of MPEG audio Layer III as a signature, as strict as the header allows: the 11-bit sync,
a defined version and Layer III, a bitrate index other than free (0) and bad (15), a defined sample rate,
and an emphasis other than the reserved 2."""
MIN_SYNC_FRAMES = 3  # a consistent chain this long never happens in random data (~1e-6 per extra frame)
_WINDOW = 64 << 10
_FIRST_READ = 2048  # bytes first read at a candidate frame: its header and the next frame's (see _mpeg_frames)
_ID3_FLAGS = {2: 0xC0, 3: 0xE0, 4: 0xF0}  # the flags each ID3v2 version defines; the rest must be clear


def mpeg_frame_length(header: bytes) -> int | None:
    """The length of the MPEG audio frame this 4-byte header starts, or None if it is not one."""
    parsed = _mpeg_header(header)
    return parsed[0] if parsed else None


def _mpeg_byte1(byte: int) -> tuple[tuple[int, ...], tuple[int, int, int], int] | None:
    """(bitrates in kbit/s, sample rates, slot multiplier; 0 for Layer I) that a header's second byte selects,
    or None if it is not the sync's end with a defined version and layer."""
    version, layer_bits = (byte >> 3) & 3, (byte >> 1) & 3
    if byte & 0xE0 != 0xE0 or version == 1 or layer_bits == 0:
        return None
    layer = 4 - layer_bits
    multiplier = 0 if layer == 1 else 144 if version == 3 or layer == 2 else 72
    return _BITRATES[(version == 3, layer)], _RATES[version], multiplier


_BYTE1 = tuple(_mpeg_byte1(b) for b in range(256))  # a table: every sync candidate's header is parsed


def _mpeg_header(header: bytes) -> tuple[int, int] | None:
    """(frame length, stream key) of an MPEG audio frame header (ISO 11172-3 / 13818-3, and MPEG 2.5), or
    None. Frames of one stream share the key: version, layer, sample rate and mono or not."""
    if len(header) < 4 or header[0] != 0xFF or (selected := _BYTE1[header[1]]) is None:
        return None
    index, rate_index, padding = header[2] >> 4, (header[2] >> 2) & 3, (header[2] >> 1) & 1
    if index in (0, 15) or rate_index == 3 or header[3] & 3 == 2:
        return None
    bitrates, rates, multiplier = selected
    bitrate, rate = bitrates[index - 1] * 1000, rates[rate_index]
    key = (header[1] & 0x1E) << 8 | (header[2] & 0x0C) | (header[3] >> 6 == 3)
    if not multiplier:  # Layer I: 4-byte slots
        return (12 * bitrate // rate + padding) * 4, key
    return multiplier * bitrate // rate + padding, key


def _info_frame(frame: bytes) -> bool:
    """Whether this first frame is a Xing/Info or VBRI header (an encoder's table of the stream, no audio):
    Xing after the side information (17 or 32 bytes in MPEG-1, 9 or 17 in MPEG-2/2.5), VBRI at 36."""
    mpeg1, mono, crc = frame[1] & 0x18 == 0x18, frame[3] >> 6 == 3, 0 if frame[1] & 1 else 2
    side = (17 if mono else 32) if mpeg1 else (9 if mono else 17)
    return frame[4 + crc + side:8 + crc + side] in (b"Xing", b"Info") or frame[36:40] == b"VBRI"


def _mpeg_frames(view: View, pos: int, buf: bytes = b"") -> tuple[int, int, bool]:
    """(end, frames, cut) of the chain of consistent MPEG audio frames from ``pos``: each header gives the
    next one's place and must belong to the same stream; ``cut``: the last frame runs past the view.
    ``buf``: bytes already read at ``pos``, if any."""
    key, frames = -1, 0
    # Most candidates are sync look-alikes in random data: a first small read holds the first frame's header
    # and the second's (frames are at most 1,729 bytes), so they fail without a window read.
    at, buf = pos, buf or view.read(pos, _FIRST_READ)
    while True:
        if pos + 4 > at + len(buf):  # a header in memory
            at, buf = pos, view.read(pos, _WINDOW)
        parsed = _mpeg_header(buf[pos - at:pos - at + 4])
        if parsed is None or (frames and parsed[1] != key):
            return pos, frames, False
        if pos + parsed[0] > view.size:
            return pos, frames, True
        key, pos, frames = parsed[1], pos + parsed[0], frames + 1


def id3v2_size(head: bytes) -> int | None:
    """Bytes of the ID3v2 tag (id3.org v2.2-2.4) this 10-byte header starts: the syncsafe size counts the
    extended header, the frames (unsynchronised or not) and the padding; a v2.4 footer adds 10."""
    if len(head) < 10 or head[:3] != b"ID3" or head[3] not in _ID3_FLAGS or head[4] == 0xFF:
        return None
    if head[5] & ~_ID3_FLAGS[head[3]] & 0xFF or any(b & 0x80 for b in head[6:10]):
        return None
    size = (head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9]
    return 10 + size + (10 if head[3] == 4 and head[5] & 0x10 else 0)


def _zeros(view: View, pos: int) -> int:
    """Zero bytes at ``pos`` (at most one window): padding some taggers leave after the declared size."""
    data = view.read(pos, _WINDOW)
    return len(data) - len(data.lstrip(b"\0"))


def _mp3_trailers(view: View, pos: int) -> int:
    """The end of the tags that follow the last frame, in their order: APEv2 (with its header), Lyrics3
    (v2 by its size field, v1 by its end marker), then an ID3v1 tag (with a "TAG+" extension first)."""
    head = view.read(pos, 24)
    if head[:8] == b"APETAGEX" and len(head) == 24 and head[23] & 0x20:  # the header: footer follows items
        pos += 32 + struct.unpack_from("<I", head, 12)[0]
    if view.read(pos, 11) == b"LYRICSBEGIN":
        data = view.read(pos, _WINDOW)
        v2 = data.find(b"LYRICS200", 17)
        v1 = data.find(b"LYRICSEND", 11, 5100 + 9)
        if v2 > 0 and data[v2 - 6:v2].isdigit() and int(data[v2 - 6:v2]) == v2 - 6:
            pos += v2 + 9
        elif v1 > 0:
            pos += v1 + 9
    if view.read(pos, 4) == b"TAG+" and view.read(pos + 227, 3) == b"TAG":
        pos += 227
    if view.read(pos, 3) == b"TAG" and pos + 128 <= view.size:
        pos += 128
    return pos


def mp3(view: View) -> Verdict | None:
    """MP3: an optional ID3v2 tag, a chain of MPEG audio frames of one stream (each header gives the next
    frame's place), then optional APEv2, Lyrics3 and ID3v1 tags. Frames carry no checksum over the audio, so
    a file cut after a whole frame looks whole. Without a tag, a few chained frames are needed (fewer when
    the first is a Xing/Info/VBRI header); an ID3v2 tag followed by "fLaC" is a FLAC file, not this."""
    first = view.read(0, _FIRST_READ)  # one read serves the tag's header or the first frames
    head = first[:10]
    tagged = head[:3] == b"ID3"
    pos = id3v2_size(head) if tagged else 0
    if pos is None:
        return None
    if pos > view.size:
        return Verdict(view.size, False, 0.1, 0)
    tag_end = pos
    if tagged and _mpeg_header(view.read(pos, 4)) is None:
        pos += _zeros(view, pos)
        if view.read(pos, 4) == b"fLaC":
            return None
    end, frames, cut = _mpeg_frames(view, pos, b"" if pos else first)
    if not tagged and frames < 2:  # too few whatever the first frame holds (the usual random sync)
        return None
    info = frames > 0 and _info_frame(first[:40] if not pos else view.read(pos, 40))
    if not tagged and frames < (2 if info else MIN_SYNC_FRAMES):
        return None
    if not frames:  # a tag only: the zeros after it may be padding or what follows; the tag is what is proven
        return Verdict(tag_end, False, 0.2, tag_end)
    if cut:  # the audio runs past what could be read
        return Verdict(end, False, 0.3, end)
    end = _mp3_trailers(view, end)
    return Verdict(end, True, min(0.95, 0.5 + 0.05 * frames + (0.2 if tagged or info else 0)))


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
