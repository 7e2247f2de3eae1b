"""Validator of MP3 files: an ID3v2 tag, a chain of MPEG audio frames of one stream, then APEv2, Lyrics3 and
ID3v1 tags; the Layer III frame header as a sector signature. The ID3v2 tag reading is shared with flac.py."""

from __future__ import annotations

import struct

from dftk_plugins.carving.model import Verdict, View

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
