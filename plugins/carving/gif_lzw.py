"""GIF image data, checked strictly, and GIF gap carving.

The LZW check follows the GIF 89a specification (appendix F): codes start at ``min_code_size + 1`` bits and
widen by one each time the next free table entry needs it (up to 12 bits); a code may never lie beyond the
next free entry; a clear code restarts the table, and the end code must come exactly when ``width * height``
pixels have been produced. Pillow stops decoding once the picture is full, so foreign bytes spliced into
the data (text read as 12-bit codes is valid once the table is full) are only caught by counting pixels.

The check runs one table generation (clear code to clear code) at a time with numpy: within a generation
every code's width follows from its index, and each code's string length is its parent entry's plus one,
summed by pointer jumping. A generation start is a resumable state: (bit offset, pixels so far).

Gap carving (Garfinkel's bifragment carving): the sub-block chain of the image data breaks where filler
starts; the first fragment is cut at a sector boundary before that, the second resumes at a sector boundary
after it where the chain continues, at the same place within its sub-block, to a block terminator and the
trailer; each such pair is confirmed by the whole-file validator (the LZW check above).
"""

from __future__ import annotations

import bisect
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

import numpy as np

from dftk_plugins.carving.fragments import boundaries, first_valid
from dftk_plugins.carving.model import Validator, Verdict, View

MAX_CODE = 4095
READ = 1 << 16  # a broken image's sub-blocks are walked in memory, this many bytes read at a time
WALK = 1 << 20  # sub_blocks reads this many bytes at a time
MAX_GAP = 4 << 20  # how far after the break the second fragment is looked for
MAX_CUTS = 24  # sector boundaries after the last sound LZW generation tried as the cut
MAX_RESUMES = 512  # resumes whose sub-block chain fits that get the quick LZW check
QUICK = 1 << 15  # bytes of the second fragment's data the quick LZW check decodes
_ROWS = 8  # generations checked at a time by _typical
_RUN = 1 << 16  # how far ahead a chain walk looks for a run of full sub-blocks at a time


@dataclass(frozen=True, slots=True)
class _Layout:
    """Where each code of a table generation lies, from the generation's start bit: within a generation a
    code's width follows from its index, so offsets, masks and the largest allowed value are made once per
    code size (on first use: most GIFs never need the LZW check) rather than per generation."""

    starts: np.ndarray  # bit offset of each code
    ends: np.ndarray  # bit offset after each code
    masks: np.ndarray  # (1 << width) - 1
    limits: np.ndarray  # the largest value each code of a growing table may take
    # per bit phase of the generation's start (0-7): the byte each code starts in and its shift in there
    bytes_at: tuple[np.ndarray, ...]
    shifts: tuple[np.ndarray, ...]


@cache
def _layout(mcs: int) -> _Layout:
    """The layout of a growing table's codes (the first code is a literal)."""
    clear = 1 << mcs
    base = clear + 2
    index = np.arange(base - 1, MAX_CODE + 1)  # codes read while the table still grows
    widths = np.minimum(12, np.ceil(np.log2(index + 1))).astype(np.int64)
    widths[0] = mcs + 1
    limits = np.minimum(MAX_CODE, base + np.arange(len(widths)) - 1)
    limits[0] = clear - 1
    return _frozen(widths, limits)


_FULL = 4096  # 12-bit codes read at a time once the table is full


@cache
def _full_layout() -> _Layout:
    """The layout of 12-bit codes once the table is full."""
    return _frozen(np.full(_FULL, 12, dtype=np.int64), np.full(_FULL, MAX_CODE, dtype=np.int64))


def _frozen(widths: np.ndarray, limits: np.ndarray) -> _Layout:
    ends = np.cumsum(widths)
    starts = ends - widths
    phased = [starts + phase for phase in range(8)]
    bytes_at, shifts = tuple(p >> 3 for p in phased), tuple(p & 7 for p in phased)
    for a in (starts, ends, widths, limits, *bytes_at, *shifts):
        a.setflags(write=False)  # shared by every call: never changed in place
    return _Layout(starts, ends, (1 << widths) - 1, limits, bytes_at, shifts)


def sub_blocks(view: View, pos: int, payload: bytearray | None = None, cap: int = 0) -> int | None:
    """Where the sub-block chain at ``pos`` ends (after its terminator), or None if it runs off the view;
    the blocks' data is appended to ``payload`` (when given) up to ``cap`` bytes."""
    buf, base, step = b"", pos, 1 << 12  # short chains (extensions) are common: reads grow up to WALK
    while True:
        if pos - base >= len(buf):
            buf, base, step = view.read(pos, step), pos, min(step * 8, WALK)
            if not buf:
                return None
        size = buf[pos - base]
        if size == 0:
            return pos + 1
        if size == 0xFF:  # encoders write full blocks: a run of them is taken at once
            full = _full_run(buf, pos - base)
            if full:
                if payload is not None and len(payload) < cap:
                    payload += _run_data(buf, pos - base, min(full, -(-(cap - len(payload)) // 0xFF)))
                pos += 0x100 * full  # wholly inside the read bytes, so inside the view
                continue
        if payload is not None and len(payload) < cap:
            start = pos + 1 - base
            piece = buf[start:start + size]
            payload += piece if len(piece) == size else view.read(pos + 1, size)
        pos += 1 + size
        if pos > view.size:
            return None


def _full_run(buf: bytes, at: int) -> int:
    """How many 255-byte sub-blocks follow one another from ``at`` wholly inside ``buf`` (the length
    bytes taken by slicing: no loop per block)."""
    lengths = buf[at:at + (len(buf) - at) // 0x100 * 0x100:0x100]
    return len(lengths) - len(lengths.lstrip(b"\xff"))


def _run_data(buf: bytes, at: int, count: int) -> bytes:
    """The data of ``count`` 255-byte sub-blocks from ``at`` in ``buf``: the blocks less their length bytes."""
    if count == 1:
        return buf[at + 1:at + 0x100]
    blocks = np.frombuffer(buf, dtype=np.uint8, count=0x100 * count, offset=at).reshape(count, 0x100)
    data: bytes = blocks[:, 1:].tobytes()
    return data


def lzw_ok(data: bytes, min_code_size: int, pixels: int) -> bool:
    """Whether ``data`` is one GIF image's LZW stream giving exactly ``pixels`` pixels and then the end code."""
    return _whole_run(bytes(data), min_code_size, pixels)[0] == 1


_LAST: list[tuple[bytes, int, int, int, int]] = []  # the last whole run: data, code size, pixels, its state


def _whole_run(data: bytes, min_code_size: int, pixels: int) -> tuple[int, int, int, int]:
    """``lzw_run`` over a whole image's data. A run's state at a generation start depends only on the bytes
    before it, so data starting with the same bytes as the last run's (the gap carver re-reads the image
    the validator found broken) resumes from the last generation that run reached: the same outcome."""
    if _LAST:
        seen, mcs, count, bit, done = _LAST[0]
        if (mcs, count) == (min_code_size, pixels) and data.startswith(seen[:(bit + 7) >> 3]):
            run = lzw_run(data, min_code_size, pixels, bit, done)
            _LAST[0] = (data, min_code_size, pixels, run[1], run[2])
            return run
    run = lzw_run(data, min_code_size, pixels)
    _LAST[:] = [(data, min_code_size, pixels, run[1], run[2])]
    return run


def lzw_run(data: bytes, min_code_size: int, pixels: int, bit: int = 0, done: int = 0,
            partial: bool = False) -> tuple[int, int, int, int]:
    """Check the LZW stream from the table generation starting at ``bit`` with ``done`` pixels already made:
    (1 if it ends right, -1 if it breaks, 0 if ``partial`` and the data ran out with no fault found; the
    start bit of the last generation reached and the pixels made before it, a state to resume from; the
    bit by which the fault was seen, for a break)."""
    if not 2 <= min_code_size <= 8 or pixels <= 0:
        return -1, bit, done, bit
    buffer = bytes(data) + bytes(4)
    # the little-endian 32-bit word at every byte offset (a view, no copy): a code (at most 12 bits, at most
    # 7 bits into its first byte) is one word shifted and masked
    words = np.ndarray((len(buffer) - 3,), dtype="<u4", buffer=buffer, strides=(1,))
    total = len(data) * 8
    while True:
        bit, done = _typical(words, total, bit, min_code_size, pixels, done)
        after, made, status = _generation(words, total, bit, min_code_size, pixels - done)
        if status == _RAN_OUT:
            return (0 if partial else -1), bit, done, total
        if status == _BAD:
            return -1, bit, done, after
        if status == _END:
            right = done + made == pixels and len(data) - (after + 7) // 8 <= 1
            return (1 if right else -1), bit, done, after
        bit, done = after, done + made


_CLEAR, _END, _BAD, _RAN_OUT = 0, 1, 2, 3


def _typical(words: np.ndarray, total: int, bit: int, mcs: int, pixels: int, done: int) -> tuple[int, int]:
    """Skips the generations from ``bit`` that fill the table and are followed at once by a clear code, as
    encoders write them, checked ``_ROWS`` at a time (a generation per row: one numpy pass instead of one
    per generation): the start of the first generation that is not such, and the pixels made before it.
    Each skipped generation passes exactly the checks ``_generation`` makes, with the same outcome."""
    layout = _layout(mcs)
    clear = 1 << mcs
    length = int(layout.ends[-1]) + 12  # a full generation and its clear code
    while True:
        rows = min(_ROWS, (total - bit) // length)  # wholly within the data
        if rows < 1:
            return bit, done
        starts = length * np.arange(rows) + (bit & 7)  # from the byte the first generation starts in
        span = words[bit >> 3:(bit >> 3) + ((int(starts[-1]) + length) >> 3) + 1].copy()
        at = starts[:, None] + layout.starts
        codes = (span[at >> 3] >> (at & 7)) & layout.masks
        after = starts + int(layout.ends[-1])
        ending = (span[after >> 3] >> (after & 7)) & MAX_CODE
        fine = (ending == clear) & ~((codes >> 1) == clear >> 1).any(axis=1) & ~(codes > layout.limits).any(axis=1)
        sound = rows if fine.all() else int(fine.argmin())
        made = np.cumsum(_row_lengths(codes[:sound], clear + 2).sum(axis=1))
        sound = int(np.searchsorted(made, pixels - done, side="right"))  # no more pixels than the picture's
        if sound:
            bit, done = bit + length * sound, done + int(made[sound - 1])
        if sound < rows:
            return bit, done


def _row_lengths(codes: np.ndarray, base: int) -> np.ndarray:
    """The string length of each code of sound generations (one per row), by pointer jumping as in
    ``_invalid``: an entry refers to a code of its own row."""
    rows, n = codes.shape
    ancestor = (codes - base).ravel()
    linked = np.flatnonzero(ancestor >= 0)
    ancestor[linked] += linked // n * n  # indices into the flattened rows
    lengths = np.ones(rows * n, dtype=np.int64)
    while len(linked):
        up = ancestor[linked]
        lengths[linked] += lengths[up]
        ancestor[linked] = ancestor[up]
        linked = linked[ancestor[linked] >= 0]
    return lengths.reshape(rows, n)


def _generation(words: np.ndarray, total: int, bit: int, mcs: int, room: int) -> tuple[int, int, int]:
    """One table generation from ``bit``: (the bit after its clear or end code, pixels made, how it ended:
    ``_CLEAR``, ``_END``, ``_BAD`` for a code beyond the table or too many pixels, ``_RAN_OUT`` of data)."""
    clear = 1 << mcs
    layout = _layout(mcs)
    codes = _codes(words, total, bit, layout, len(layout.ends))
    stop = _stop(codes, clear)
    lengths = np.ones(len(codes), dtype=np.int64)
    bad = _invalid(codes[:stop], clear + 2, layout.limits, lengths)
    if bad >= 0:
        return bit + int(layout.ends[bad]), 0, _BAD
    made = int(lengths[:stop].sum())
    if stop < len(codes):
        return bit + int(layout.ends[stop]), made, _BAD if made > room else _ending(int(codes[stop]), clear)
    if len(codes) < len(layout.ends):
        return (bit + int(layout.starts[stop]), made, _BAD) if made > room else (bit, made, _RAN_OUT)
    return _full_table(words, total, bit + int(layout.ends[-1]), clear, lengths, made, room)


def _full_table(words: np.ndarray, total: int, bit: int, clear: int, lengths: np.ndarray, made: int,
                room: int) -> tuple[int, int, int]:
    """The rest of a generation whose table is full, from ``bit``: 12-bit codes until a clear (deferred
    clear) or the end; ``lengths`` are the string lengths of the table's entries, ``made`` the pixels so far."""
    base = clear + 2
    count = 8  # a clear code usually follows at once: read a few codes first, then more
    while True:
        if made > room:
            return bit, made, _BAD
        if bit + 12 <= total:  # the usual case, without numpy: the next code is the clear (or end) code
            code = (int(words[bit >> 3]) >> (bit & 7)) & MAX_CODE
            if code >> 1 == clear >> 1:
                return bit + 12, made, _ending(code, clear)
        codes = _codes(words, total, bit, _full_layout(), count)
        if not len(codes):
            return bit, made, _RAN_OUT
        stop = _stop(codes, clear)
        body = codes[:stop]
        reserved = _first((body >= clear) & (body < base))
        if reserved >= 0:
            return bit + 12 * (reserved + 1), made, _BAD
        parents = np.minimum(np.maximum(body - base, 0), len(lengths) - 1)
        made += int(np.where(body < clear, 1, lengths[parents] + 1).sum())
        if stop < len(codes):
            return bit + 12 * (stop + 1), made, _BAD if made > room else _ending(int(codes[stop]), clear)
        if len(codes) < count:
            return (bit + 12 * stop, made, _BAD) if made > room else (bit, made, _RAN_OUT)
        bit += 12 * len(codes)
        count = _FULL


def _ending(code: int, clear: int) -> int:
    """How a generation ended by this clear or end code."""
    return _END if code == clear + 1 else _CLEAR


def _codes(words: np.ndarray, total: int, bit: int, layout: _Layout, count: int) -> np.ndarray:
    """The first ``count`` codes of the layout from ``bit`` on that lie wholly within the data (``total``
    bits)."""
    n = int(np.searchsorted(layout.ends[:count], total - bit, side="right"))
    at = layout.bytes_at[bit & 7][:n]  # from the byte the first code starts in
    if not n:
        return at  # no code: an empty array
    # gathered from an aligned copy of the words these codes span: a gather from the unaligned view is slower
    span = words[bit >> 3:(bit >> 3) + int(at[-1]) + 1].copy()
    codes: np.ndarray = (span[at] >> layout.shifts[bit & 7][:n]) & layout.masks[:n]
    return codes


def _stop(codes: np.ndarray, clear: int) -> int:
    """Index of the first clear or end code, or len(codes)."""
    first = _first((codes >> 1) == clear >> 1)  # clear is a power of two: the end code differs in bit 0 only
    return first if first >= 0 else len(codes)


def _first(mask: np.ndarray) -> int:
    """Index of the first True in ``mask``, or -1 (argmax stops at the first True; flatnonzero scans on)."""
    if not len(mask):
        return -1
    first = int(mask.argmax())
    return first if mask[first] else -1


def _invalid(codes: np.ndarray, base: int, limits: np.ndarray, lengths: np.ndarray) -> int:
    """The index of the first code of a generation's growing table that is wrong (the first must be a
    literal, each later one at most the next free entry: ``limits``), or -1; fills ``lengths`` with each
    code's string length."""
    n = len(codes)
    if n == 0:
        return -1
    beyond = _first(codes > limits[:n])
    if beyond >= 0:
        return beyond
    ancestor = codes - base  # negative for a literal: a root
    linked = np.flatnonzero(ancestor >= 0)
    while len(linked):  # pointer jumping: each code's string length is its parent's plus one
        up = ancestor[linked]
        lengths[linked] += lengths[up]
        ancestor[linked] = ancestor[up]
        linked = linked[ancestor[linked] >= 0]  # a code that reached a root is done: only these jump on
    return -1


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
