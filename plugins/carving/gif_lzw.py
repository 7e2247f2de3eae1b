"""GIF image data, checked strictly: the sub-block chain and the LZW stream it carries (gap carving of GIF
is in ``gif_gaps.py``).

The LZW check follows the GIF 89a specification (appendix F): codes start at ``min_code_size + 1`` bits and
widen by one each time the next free table entry needs it (up to 12 bits); a code may never lie beyond the
next free entry; a clear code restarts the table, and the end code must come exactly when ``width * height``
pixels have been produced. Pillow stops decoding once the picture is full, so foreign bytes spliced into
the data (text read as 12-bit codes is valid once the table is full) are only caught by counting pixels.

The check runs one table generation (clear code to clear code) at a time with numpy: within a generation
every code's width follows from its index, and each code's string length is its parent entry's plus one,
summed by pointer jumping. A generation start is a resumable state: (bit offset, pixels so far).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from dftk_plugins.carving.model import View

MAX_CODE = 4095
WALK = 1 << 20  # sub_blocks reads this many bytes at a time
_ROWS = 8  # generations checked at a time by _typical


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
