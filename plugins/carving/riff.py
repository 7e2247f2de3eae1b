"""Validator of RIFF containers (WAV, AVI, WebP), and where a WAV file's samples turn to foreign data (a
fragment break, judged by ``pcm.py``); WAV gap carving (audio_gaps.py) reads the samples here too."""

from __future__ import annotations

import struct

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
