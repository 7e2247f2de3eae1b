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

import numpy as np

SECTOR = 512  # breaks are looked for on 512-byte boundaries, which every larger sector size also falls on
WINDOW = 4  # sectors each side of a break that must be sound, and filler
PROBE = 16  # frames judged at each end of a sector
SMOOTH = 0.1  # err of smooth sound at most (a 440 Hz sine at 44.1 kHz: about 0.03)
NOISY = 0.3  # err of random-like bytes at least (random 16-bit samples: about 0.67)
QUIET = 0.005  # mean level (fraction of full scale) under which sound counts as silence, not judged
CHECKED = 8 << 20  # bytes of sample data judged per file
_PRINTABLE = bytes(range(0x20, 0x7F)) + b"\t\n\r"
_TYPECODES = {1: "B", 2: "h", 4: "i"}
_DTYPES = {1: "u1", 2: "<i2", 4: "<i4"}


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
    return judge_all(data[:len(data) // SECTOR * SECTOR], (origin - at) % pcm.frame, pcm)


def judge_all(data: bytes, phase: int, pcm: Pcm) -> list[tuple[str, float]]:
    """``judge`` of each sector of ``data`` (whole sectors), all at once with numpy, with the same arithmetic
    (exact integer sums, then the same float divisions): a frame divides a sector, so every sector has the
    same ``phase`` and its head and tail probes are the same columns."""
    probe = PROBE * pcm.frame
    tail = phase + (SECTOR - phase) // pcm.frame * pcm.frame
    spans = (phase, min(phase + probe, SECTOR)), (max(phase, tail - probe), tail)
    if any((end - start) // pcm.frame <= 1 for start, end in spans):  # err_level's degenerate case
        return [judge(data[i:i + SECTOR], phase, pcm) for i in range(0, len(data), SECTOR)]
    rows = np.frombuffer(data, np.uint8).reshape(-1, SECTOR)
    (head_err, head_level), (tail_err, tail_level) = (_err_level_rows(rows, start, end, pcm) for start, end in spans)
    err = np.maximum(head_err, tail_err)
    noisy = head_err + tail_err >= 2 * NOISY
    sound = (err <= SMOOTH) & (np.minimum(head_level, tail_level) >= QUIET)
    judged: list[tuple[str, float]] = []
    for i, (e, filler, smooth) in enumerate(zip(err.tolist(), noisy.tolist(), sound.tolist(), strict=True)):
        sector = data[i * SECTOR:(i + 1) * SECTOR]
        if not sector.strip(b"\0") or not sector.translate(None, _PRINTABLE):  # zeros or text, as in judge
            judged.append(("filler", 1.0))
        else:
            judged.append(("filler" if filler else "sound" if smooth else "other", e))
    return judged


def _err_level_rows(rows: np.ndarray, start: int, end: int, pcm: Pcm) -> tuple[np.ndarray, np.ndarray]:
    """``err_level`` of the whole frames in columns ``[start, end)`` of each row."""
    end = start + (end - start) // pcm.frame * pcm.frame
    values = np.ascontiguousarray(rows[:, start:end]).view(_DTYPES[pcm.width]).astype(np.int64)
    ch, full, count = pcm.channels, float(1 << (8 * pcm.width - 1)), values.shape[1]
    err = np.abs(values[:, ch:] - values[:, :-ch]).sum(axis=1) / (count - ch) / full
    level = np.abs(values - 128 if pcm.width == 1 else values).sum(axis=1) / count / full
    return err, level


def first_break(read: bytes, at: int, pcm: Pcm) -> int | None:
    """The absolute sector boundary where smooth sound turns to filler in ``read`` (the sample data from the
    first sector boundary ``at`` on), or None: where ``WINDOW`` sound sectors are followed by ``WINDOW``
    filler ones."""
    count = len(read) // SECTOR
    judged = [k for k, _ in judge_all(read[:count * SECTOR], (pcm.start - at) % pcm.frame, pcm)]
    # Every ``WINDOW``-th sector is looked at first: a break's filler covers one of them.
    for sampled in range(0, count, WINDOW):
        if judged[sampled] != "filler":
            continue
        for j in range(max(WINDOW, sampled - WINDOW + 1), min(sampled, count - WINDOW) + 1):
            if all(k == "sound" for k in judged[j - WINDOW:j]) and all(k == "filler" for k in judged[j:j + WINDOW]):
                return at + j * SECTOR
    return None
