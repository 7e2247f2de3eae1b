"""PCM continuity: whether the uncompressed samples of a WAV file continue as one sound, so that foreign data
(random bytes, zeros, text) inside its data chunk shows where a fragment break lies.

A WAV file's length comes from its RIFF header, so a fragmented one still "validates" chunk by chunk; its
samples do not. Sound is predictable from one sample to the next: the mean absolute difference of
neighbouring samples of a channel (``err``, as a fraction of full scale) stays small, while random bytes
give about 2/3. Every disk sector is judged by a few frames at its head and its tail (judging every sample in
Python would be too slow), and a break is where at least ``WINDOW`` smooth, audible sectors are followed by
``WINDOW`` sectors of filler, exactly at a sector boundary.

Limits, by design on the cautious side (then nothing is said): noise-like or silent sound cannot be told
from filler, so a break is only seen after smooth, audible sound; only 8-, 16- and 32-bit integer PCM whose
frames fit a sector a whole number of times is judged; a break within ``WINDOW`` sectors of the data's ends
or past its first ``CHECKED`` bytes is not seen; digital silence that begins exactly on a sector boundary
after loud, smooth sound looks like zero filler.
"""

from __future__ import annotations

import array
import operator
from dataclasses import dataclass
from itertools import repeat

SECTOR = 512  # breaks are looked for on 512-byte boundaries, which every larger sector size also falls on
WINDOW = 4  # sectors each side of a break that must be sound, and filler
PROBE = 16  # frames judged at each end of a sector
SMOOTH = 0.1  # err of smooth sound at most (a 440 Hz sine at 44.1 kHz: about 0.03)
NOISY = 0.3  # err of random-like bytes at least (random 16-bit samples: about 0.67)
QUIET = 0.005  # mean level (fraction of full scale) under which sound counts as silence, not judged
CHECKED = 8 << 20  # bytes of sample data judged per file
_PRINTABLE = bytes(range(0x20, 0x7F)) + b"\t\n\r"
_TYPECODES = {1: "B", 2: "h", 4: "i"}


@dataclass(frozen=True, slots=True)
class Pcm:
    """Where a WAV file's samples are and their layout.

    Attributes:
        start: absolute position of the first sample byte.
        end: absolute position after the last one.
        channels: samples per frame.
        width: bytes per sample (1: unsigned, 2 and 4: signed little-endian).
    """

    start: int
    end: int
    channels: int
    width: int

    @property
    def frame(self) -> int:
        return self.channels * self.width


def layout(fmt: bytes, start: int, end: int) -> Pcm | None:
    """The PCM layout a "fmt " chunk body declares (integer PCM, directly or by WAVE_FORMAT_EXTENSIBLE), or
    None when its samples cannot be judged here."""
    if len(fmt) < 16:
        return None
    tag, channels = int.from_bytes(fmt[0:2], "little"), int.from_bytes(fmt[2:4], "little")
    align, bits = int.from_bytes(fmt[12:14], "little"), int.from_bytes(fmt[14:16], "little")
    if tag == 0xFFFE and len(fmt) >= 26:
        tag = int.from_bytes(fmt[24:26], "little")  # the sub-format GUID's first field
    width = bits // 8
    if tag != 1 or width not in _TYPECODES or bits % 8 or channels < 1 or align != channels * width:
        return None
    return Pcm(start, end, channels, width) if SECTOR % align == 0 else None


def err_level(data: bytes, pcm: Pcm) -> tuple[float, float]:
    """Mean absolute difference of neighbouring samples of a channel, and mean absolute level, of whole frames
    in ``data`` (fractions of full scale)."""
    values = array.array(_TYPECODES[pcm.width])
    values.frombytes(data[:len(data) // pcm.frame * pcm.frame])
    ch, full = pcm.channels, float(1 << (8 * pcm.width - 1))
    if len(values) <= ch or values.itemsize != pcm.width:
        return 0.0, 0.0
    err = sum(map(abs, map(operator.sub, values[ch:], values[:-ch]))) / (len(values) - ch)  # map: C speed
    level = sum(map(abs, map(operator.sub, values, repeat(128)))) if pcm.width == 1 else sum(map(abs, values))
    return err / full, level / len(values) / full


def judge(sector: bytes, phase: int, pcm: Pcm) -> tuple[str, float]:
    """("filler" | "sound" | "other", err) of one sector whose first whole frame starts at ``phase``."""
    if not sector.strip(b"\0") or not sector.translate(None, _PRINTABLE):
        return "filler", 1.0
    probe = PROBE * pcm.frame
    tail = phase + (len(sector) - phase) // pcm.frame * pcm.frame
    head_err, head_level = err_level(sector[phase:phase + probe], pcm)
    tail_err, tail_level = err_level(sector[max(phase, tail - probe):tail], pcm)
    err = max(head_err, tail_err)
    if head_err + tail_err >= 2 * NOISY:
        return "filler", err
    if err <= SMOOTH and min(head_level, tail_level) >= QUIET:
        return "sound", err
    return "other", err


def kinds(data: bytes, at: int, pcm: Pcm, origin: int) -> list[tuple[str, float]]:
    """The judgement of each whole sector of ``data`` (read from absolute ``at``, a sector boundary), the
    frames laid out as if the samples began at absolute ``origin``."""
    return [judge(data[i:i + SECTOR], (origin - at - i) % pcm.frame, pcm)
            for i in range(0, len(data) - SECTOR + 1, SECTOR)]


def first_break(read: bytes, at: int, pcm: Pcm) -> int | None:
    """The absolute sector boundary where smooth sound turns to filler in ``read`` (the sample data from the
    first sector boundary ``at`` on), or None. Every ``WINDOW``-th sector is judged first: a break's filler
    covers one of them, and only around a filler one are the others judged."""
    count = len(read) // SECTOR
    judged: dict[int, str] = {}

    def kind(j: int) -> str:
        if j not in judged:
            judged[j] = judge(read[j * SECTOR:(j + 1) * SECTOR], (pcm.start - at - j * SECTOR) % pcm.frame, pcm)[0]
        return judged[j]

    for sampled in range(0, count, WINDOW):
        if kind(sampled) != "filler":
            continue
        for j in range(max(WINDOW, sampled - WINDOW + 1), min(sampled, count - WINDOW) + 1):
            if all(kind(i) == "sound" for i in range(j - WINDOW, j)) and \
                    all(kind(i) == "filler" for i in range(j, j + WINDOW)):
                return at + j * SECTOR
    return None
