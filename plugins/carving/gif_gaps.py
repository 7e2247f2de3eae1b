"""GIF gap carving: an image whose LZW data breaks is reassembled from two fragments.

Garfinkel's bifragment carving: the sub-block chain of the image data breaks where filler
starts; the first fragment is cut at a sector boundary before that, the second resumes at a sector boundary
after it where the chain continues, at the same place within its sub-block, to a block terminator and the
trailer; each such pair is confirmed by the whole-file validator (the LZW check of ``gif_lzw.py``).
"""

from __future__ import annotations

import bisect
import struct
from collections.abc import Iterator
from dataclasses import dataclass

from dftk_plugins.carving.fragments import boundaries, first_valid
from dftk_plugins.carving.gif_lzw import _full_run, _run_data, _whole_run, lzw_run, sub_blocks
from dftk_plugins.carving.model import Validator, Verdict, View

READ = 1 << 16  # a broken image's sub-blocks are walked in memory, this many bytes read at a time
MAX_GAP = 4 << 20  # how far after the break the second fragment is looked for
MAX_CUTS = 24  # sector boundaries after the last sound LZW generation tried as the cut
MAX_RESUMES = 512  # resumes whose sub-block chain fits that get the quick LZW check
QUICK = 1 << 15  # bytes of the second fragment's data the quick LZW check decodes
_RUN = 1 << 16  # how far ahead a chain walk looks for a run of full sub-blocks at a time


def gaps(validate: Validator, view: View, verdict: Verdict, sector: int) -> Verdict | None:
    """GIF gap carving: cut before the break of the image data's sub-block chain, resume where the chain
    continues at the same place within its block to the trailer; the whole file's LZW check confirms."""
    return first_valid(validate, view, _pairs(view, verdict.good, sector))


@dataclass(frozen=True, slots=True)
class _Image:
    """The first fragment's side of a broken image: its LZW parameters, the sub-block chain as read (length
    byte positions, each block's offset in the data) and the LZW state to resume from."""

    mcs: int
    pixels: int
    chain: list[int]
    offsets: list[int]
    data: bytes
    bit: int
    done: int
    fault: int  # the data byte by which the LZW stream was seen to break: the cut lies before it


def _pairs(view: View, data: int, sector: int) -> Iterator[tuple[int, int]]:
    """(cut, resume) pairs for the image whose sub-block chain starts at ``data`` (a position in the file):
    cuts after the last sound LZW generation, resumes whose chain and LZW codes go on from the cut."""
    image = _broken_image(view, data)
    if image is None:
        return
    start = _file_position(image, image.bit >> 3)
    fault = _file_position(image, min(image.fault, len(image.data)))
    cuts = [c for c in boundaries(view, start - 1, fault, sector) if c < image.chain[-1]][:MAX_CUTS]
    if not cuts:
        return
    region_start = view.start + cuts[0]
    region = view.reader.read(region_start, cuts[-1] - cuts[0] + MAX_GAP)
    ends: dict[int, int] = {}
    tries = 0
    # per cut: how much of the cut block's data the first fragment kept, and how far into the second
    # fragment the rest of that block runs before the next length byte
    sides = []
    for cut in cuts:
        block = bisect.bisect_left(image.chain, cut) - 1
        sides.append((cut, image.offsets[block] + cut - image.chain[block] - 1, image.chain[block + 1] - cut))
    for resume in range(region_start + sector, region_start + len(region), sector):
        at = resume - region_start
        for cut, kept, into in sides:
            if resume <= view.start + cut:
                continue
            known = ends.get(at + into)  # most cuts share the resume's chain: known, with no walk
            if not (_chain_ends(region, at + into, ends) if known is None else known):
                continue
            tries += 1
            if tries > MAX_RESUMES:
                return
            spliced = image.data[image.bit >> 3:kept] + region[at:at + into] + _payload(region, at + into)
            if lzw_run(spliced, image.mcs, image.pixels, image.bit & 7, image.done, partial=True)[0] >= 0:
                yield cut, resume


def _broken_image(view: View, data: int) -> _Image | None:
    """The image whose data starts at ``data``, if its LZW stream breaks: where the break was found."""
    descriptor = _descriptor(view, data)
    if descriptor is None or data < 1:
        return None
    width, height = struct.unpack("<HH", descriptor[5:9])
    mcs = view.read(data - 1, 1)[0]
    chain, offsets, payload = _chain(view, data)
    ok, bit, done, fault = _whole_run(bytes(payload), mcs, width * height)
    if ok == 1 or len(chain) < 2:
        return None
    return _Image(mcs, width * height, chain, offsets, bytes(payload), bit, done, (fault + 7) >> 3)


def _chain(view: View, data: int) -> tuple[list[int], list[int], bytearray]:
    """The sub-block chain from ``data`` as far as it goes: its length byte positions, each block's offset in
    the data, the data. Read ``READ + 256`` bytes at a time; a block running past the bytes read is cut
    there (kept as it always was: the cuts tried follow from it)."""
    chain: list[int] = []
    offsets: list[int] = []
    payload = bytearray()
    pos, buf, base = data, b"", data
    while len(payload) < view.size:
        if pos + 1 - base >= len(buf):
            buf, base = view.read(pos, READ + 256), pos
            if len(buf) < 2:
                break
        at = pos - base
        size = buf[at]
        full = _full_run(buf, at) if size == 0xFF else 0
        if full:  # a run of full blocks wholly inside the bytes read, taken at once
            chain.extend(range(pos, pos + 0x100 * full, 0x100))
            offsets.extend(range(len(payload), len(payload) + 0xFF * full, 0xFF))
            payload += _run_data(buf, at, full)
            pos += 0x100 * full
            continue
        chain.append(pos)
        offsets.append(len(payload))
        if size == 0:
            break
        payload += buf[at + 1:at + 1 + size]
        pos += 1 + size
    return chain, offsets, payload


def _descriptor(view: View, data: int) -> bytes | None:
    """The image descriptor whose data (after its colour table and code size byte) starts at ``data``."""
    head = view.read(0, 13)
    pos = 13 + (3 << ((head[10] & 7) + 1) if len(head) == 13 and head[10] & 0x80 else 0)
    while pos < data:
        block: bytes = view.read(pos, 10)
        if len(block) == 10 and block[0] == 0x2C:
            start = pos + 10 + (3 << ((block[9] & 7) + 1) if block[9] & 0x80 else 0)
            if start + 1 == data:
                return block
            after = sub_blocks(view, start + 1)
        elif len(block) >= 2 and block[0] == 0x21:
            after = sub_blocks(view, pos + 2)
        else:
            return None
        if after is None:
            return None
        pos = after
    return None


def _file_position(image: _Image, offset: int) -> int:
    """Where byte ``offset`` of the image data lies in the file."""
    block = bisect.bisect_right(image.offsets, offset) - 1
    return image.chain[block] + 1 + offset - image.offsets[block]


def _payload(region: bytes, pos: int) -> bytes:
    """Up to ``QUICK`` bytes of sub-block data from the chain at ``pos``."""
    out = bytearray()
    while pos < len(region) and region[pos] and len(out) < QUICK:
        out += region[pos + 1:pos + 1 + region[pos]]
        pos += 1 + region[pos]
    return bytes(out)


def _chain_ends(region: bytes, start: int, ends: dict[int, int]) -> bool:
    """Whether the sub-block chain from ``start`` in ``region`` reaches a terminator followed by the trailer
    or another block; outcomes are remembered per position, since chains that meet go on together."""
    path: list[int] = []
    pos, last = start, len(region) - 1
    outcome = ends.get(pos, -1)  # -1: not known yet (one dict look-up per step: this loop runs hot)
    while outcome < 0 and pos < last:
        size = region[pos]
        if size == 0xFF:  # full blocks (an image's data): a run of them is stepped over at once
            lengths = region[pos:min(pos + _RUN, last):0x100]
            full = len(lengths) - len(lengths.lstrip(b"\xff"))
            path.extend(range(pos, pos + 0x100 * full, 0x100))
            pos += 0x100 * full
        else:
            path.append(pos)
            if size == 0:
                outcome = 1 if region[pos + 1] in (0x3B, 0x21, 0x2C) else 0
                break
            pos += 1 + size
        outcome = ends.get(pos, -1)
    ends.update(dict.fromkeys(path, max(outcome, 0)))  # a chain that runs off the region does not end
    return outcome == 1
