"""Bifragment gap carving of Ogg and FLAC, whose checksums say where a fragment break lies.

Ogg: every page carries its length and a CRC-32. The page that spans the break fails its CRC; the next page
(after the gap) is found by its capture pattern "OggS", a CRC-checked page that continues a stream's page
sequence, so the gap follows from where it is found; the cut is the sector boundary inside the broken page
at which its CRC then holds.

FLAC: frames carry no length, but each header is CRC-8 checked and numbered, and each frame ends with a
CRC-16 over the whole frame. The frame after the gap is the header with the next number; the broken frame is
then the bytes from its header to the cut followed by those from the resume to that header, and the pair
(cut, resume) must bring its CRC-16 to zero. CRC-16 states are run forward from the broken frame's header
to each candidate cut and backward (the CRC update is invertible) from the next header to each candidate
resume, so every pair is checked by comparing two numbers.

A reassembly is accepted only when the whole file then validates.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from dftk_plugins.carving import flac as flac_format
from dftk_plugins.carving import ogg as ogg_format
from dftk_plugins.carving import pcm
from dftk_plugins.carving import riff as riff_format
from dftk_plugins.carving.fragments import MAX_GAP, boundaries, first_valid
from dftk_plugins.carving.model import Spliced, Validator, Verdict, View

SEARCH_WINDOW = 1 << 20  # bytes read at a time while looking past the break for the next page or frame
MAX_CRC_CHECKS = 512  # spliced-page CRCs computed per Ogg file
MAX_NEXT = 16  # candidate next frames (FLAC) or pages (Ogg) considered per file
FLAC_SPAN = 1 << 16  # longest broken frame considered: STREAMINFO's maximum frame size, capped by this
_FLAC_SYNC = (b"\xff\xf8", b"\xff\xf9")
_CRC16_BY_LOW = {t & 0xFF: i for i, t in enumerate(flac_format._CRC16)}  # the low byte names the table entry


def _hits(view: View, needle: bytes, start: int, aligned: tuple[int, int] | None) -> Iterator[tuple[int, bytes]]:
    """(absolute position, the 16 bytes there) of each ``needle`` from absolute ``start`` up to MAX_GAP on,
    read a window at a time; with ``aligned`` = (sector, phase), only those at that phase within a sector."""
    end = min(view.reader.size, start + MAX_GAP + SEARCH_WINDOW)
    at = start
    while at < end:
        data: bytes = view.reader.read(at, min(SEARCH_WINDOW + 16, end - at))
        found = data.find(needle, 0, SEARCH_WINDOW + len(needle) - 1)
        while found >= 0:
            if aligned is None or (at + found) % aligned[0] == aligned[1]:
                yield at + found, data[found:found + 16]
            found = data.find(needle, found + 1, SEARCH_WINDOW + len(needle) - 1)
        at += SEARCH_WINDOW


# --- Ogg ---------------------------------------------------------------------------------------------------


def ogg(validate: Validator, view: View, verdict: Verdict, sector: int) -> Verdict | None:
    """Ogg gap carving: the page after the gap continues a stream's page sequence, and the broken page's
    CRC holds across the cut (or the break fell between pages)."""
    return first_valid(validate, view, _ogg_pairs(view, verdict.good, sector))


def _ogg_sequences(view: View, end: int) -> dict[int, int]:
    """The last page sequence number of each stream (serial) in the sound pages before ``end``."""
    last: dict[int, int] = {}
    pos = 0
    while pos < end and (page := ogg_format._ogg_page(view, pos)) is not None:
        last[page[2]] = page[3]
        pos += page[0]
    return last


def _ogg_pairs(view: View, good: int, sector: int) -> Iterator[tuple[int, int]]:
    head = view.read(good, 27)
    last = _ogg_sequences(view, good)
    if head[:5] != b"OggS\0":  # the break fell between pages: the next page starts the second fragment
        if (view.start + good) % sector == 0:
            for h in _next_pages(view, view.start + good + sector, (sector, 0), last):
                yield good, h
        return
    table = view.read(good + 27, head[26])
    if len(table) < head[26]:
        return
    serial, sequence = struct.unpack_from("<II", head, 14)
    last[serial] = sequence
    length = 27 + head[26] + sum(table)
    following = good + length  # where the next page starts in the file
    cuts = boundaries(view, good + 26 + head[26], following - 1, sector)  # the header and table are whole
    checks = 0
    # resume = h - (following - cut) is at a sector boundary when h is as far into its sector as following
    for h in _next_pages(view, view.start + following, (sector, (view.start + following) % sector), last):
        for cut in cuts:
            if checks >= MAX_CRC_CHECKS:
                return
            checks += 1
            resume = h - (following - cut)
            page = Spliced(view, cut, resume, following).read(good, length)
            if len(page) == length and \
                    ogg_format.ogg_crc(page[:22] + b"\0\0\0\0" + page[26:]) == struct.unpack_from("<I", page, 22)[0]:
                yield cut, resume


def _next_pages(view: View, start: int, aligned: tuple[int, int], last: dict[int, int]) -> Iterator[int]:
    """Absolute positions from ``start`` of sound pages that continue a known stream in sequence."""
    for found, (h, _) in enumerate(_hits(view, b"OggS\0", start, aligned)):
        if found >= MAX_NEXT:
            return
        page = ogg_format._ogg_page(View(view.reader, h, 27 + 255 * 256), 0)
        if page is not None and page[4] and last.get(page[2], -2) + 1 == page[3]:
            yield h


# --- FLAC --------------------------------------------------------------------------------------------------


def flac(validate: Validator, view: View, verdict: Verdict, sector: int) -> Verdict | None:
    """FLAC gap carving: the frame after the gap carries the number that follows the broken frame's, and
    the broken frame's CRC-16 holds across the cut (the break may also fall between frames, or inside the
    broken frame's header)."""
    start = flac_format.flac_start(view)
    frames = None if start is None else flac_format._flac_metadata(view, start + 4)
    if start is None or frames is None:
        return None
    streaminfo = view.read(start + 8, 34)
    end, samples = flac_format._flac_frames(view, frames, streaminfo)
    sync = view.read(frames, 2)
    if end != verdict.good or sync not in _FLAC_SYNC:
        return None
    if sync[1] & 1:  # variable blocking: numbered by first sample, the broken frame holds up to the maximum
        numbers = (samples + 1, samples + int.from_bytes(streaminfo[2:4], "big"))
    else:  # fixed blocking: numbered by frame, every frame but the last of STREAMINFO's block size
        block = int.from_bytes(streaminfo[0:2], "big")
        numbers = (samples // block + 1, samples // block + 1) if block else (0, -1)
    return first_valid(validate, view, _flac_pairs(view, verdict.good, streaminfo, sync, numbers, sector))


def _flac_pairs(view: View, good: int, streaminfo: bytes, sync: bytes, numbers: tuple[int, int],
                sector: int) -> Iterator[tuple[int, int]]:
    """Pairs whose reassembled frame from ``good`` to the next frame's header has a zero CRC-16."""
    span = min(int.from_bytes(streaminfo[7:10], "big") or FLAC_SPAN, FLAC_SPAN)
    low = max(int.from_bytes(streaminfo[4:7], "big"), 8)  # a frame is at least a header and its CRC-16
    cuts = _forward_states(view.read(good, span), good, view.start, sector)
    for h in _next_frames(view, view.start + good + 1, sync, numbers):
        first = max(h - span, view.start + good)
        resumes = _backward_states(view.reader.read(first, h - first), first, sector)
        for cut, state in cuts:
            for resume in resumes.get(state, ()):
                frame = cut - good + h - resume  # the broken frame's length once reassembled
                if resume >= view.start + cut and low <= frame <= span:
                    yield cut, resume


def _next_frames(view: View, start: int, sync: bytes, numbers: tuple[int, int]) -> Iterator[int]:
    """Absolute positions from ``start`` of CRC-8-checked frame headers with these sync bytes (so this
    blocking strategy) and a coded number in the ``numbers`` range."""
    found = 0
    for h, data in _hits(view, sync, start, None):
        header = flac_format._flac_header(data)
        if header is not None and numbers[0] <= header[2] <= numbers[1]:
            yield h
            found += 1
            if found >= MAX_NEXT:
                return


def _forward_states(data: bytes, good: int, start: int, sector: int) -> list[tuple[int, int]]:
    """(cut, CRC-16 state) at each sector boundary from the broken frame's start ``good`` (a file position;
    ``data`` is read from there, the file from absolute ``start``): the CRC run up to that cut."""
    table, crc = flac_format._CRC16, 0
    states = [(good, 0)] if (start + good) % sector == 0 else []
    for i, byte in enumerate(data):
        crc = ((crc << 8) & 0xFFFF) ^ table[(crc >> 8) ^ byte]
        if (start + good + i + 1) % sector == 0:
            states.append((good + i + 1, crc))
    return states


def _backward_states(data: bytes, origin: int, sector: int) -> dict[int, list[int]]:
    """For each sector boundary in ``data`` (which starts at absolute ``origin`` and ends at the next frame's
    header), the CRC-16 state from which the rest of ``data`` brings the CRC to zero, mapped to the absolute
    boundaries that need it. The CRC update is run backward: an entry's low byte names the entry."""
    table, crc = flac_format._CRC16, 0
    states: dict[int, list[int]] = {}
    for i in range(len(data) - 1, -1, -1):
        index = _CRC16_BY_LOW[crc & 0xFF]
        crc = ((index ^ data[i]) << 8) | ((crc ^ table[index]) >> 8)
        if (origin + i) % sector == 0:
            states.setdefault(crc, []).append(origin + i)
    return states


# --- WAV (integer PCM) -------------------------------------------------------------------------------------

PCM_MAX_GAP = 4 << 20  # filler judged sector by sector after a PCM break (slower than a byte search)


def riff(validate: Validator, view: View, verdict: Verdict, sector: int) -> Verdict | None:
    """WAV gap carving: after the break in the samples, the second fragment starts where filler turns back
    to smooth sound that continues the sound before the cut. Only for breaks the PCM check saw."""
    samples = riff_format.wav_pcm(view)
    if samples is None:
        return None
    cut: int | None = verdict.good
    if not samples.start < view.start + verdict.good < samples.end:  # the chunks after the samples broke
        cut = riff_format.wav_break(view)
    if cut is None or not samples.start < view.start + cut < samples.end or (view.start + cut) % pcm.SECTOR:
        return None
    before = view.read(cut - pcm.WINDOW * pcm.SECTOR, pcm.WINDOW * pcm.SECTOR)
    judged = pcm.kinds(before, view.start + cut - len(before), samples, samples.start)
    if len(judged) < pcm.WINDOW or any(k != "sound" for k, _ in judged):
        return None
    limit = max(e for _, e in judged)
    last = before[len(before) - (view.start + cut - samples.start) % samples.frame - samples.frame:]
    resumes = _pcm_resumes(view, cut, samples, last[:samples.frame], limit)
    return first_valid(validate, view, ((cut, resume) for resume in resumes))


def _pcm_resumes(view: View, cut: int, samples: pcm.Pcm, last: bytes, limit: float) -> Iterator[int]:
    """Absolute sector boundaries after the cut where filler turns to ``WINDOW`` sectors of smooth sound whose
    first frame continues ``last`` (the last whole frame before the cut) as smoothly as the sound before."""
    at = view.start + cut
    end = min(view.reader.size, at + PCM_MAX_GAP)
    filler = True
    while at < end:
        data: bytes = view.reader.read(at, min(SEARCH_WINDOW, end - at) + pcm.WINDOW * pcm.SECTOR)
        judged = pcm.kinds(data, at, samples, samples.start)  # a gap of whole sectors keeps the frames' grid
        for j in range(min(len(judged), SEARCH_WINDOW // pcm.SECTOR)):
            kind = judged[j][0]
            if filler and kind == "sound" and all(k == "sound" for k, _ in judged[j:j + pcm.WINDOW]):
                resume = at + j * pcm.SECTOR
                phase = (samples.start - resume) % samples.frame
                first = data[j * pcm.SECTOR + phase:j * pcm.SECTOR + phase + samples.frame]
                err, _ = pcm.err_level(last + first, samples)
                if err <= 2 * limit + 0.01:
                    yield resume
            filler = kind == "filler"
        at += SEARCH_WINDOW
