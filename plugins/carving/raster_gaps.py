"""Raster continuity: whether the uncompressed pixel rows of a BMP or TIFF continue as one picture, and
bifragment gap carving for a raster whose content breaks.

Such a file's size is known from its header, so a fragmented one still "validates": the bytes at the known
length hold foreign data (random bytes, zeros, text) where a fragment of the picture should be. Raster data
has no checksum; what it has is two-dimensional coherence. Each disk sector of pixel data is described by
two prediction errors, the mean absolute byte difference to the pixel on its left (``h``) and to the pixel
one row above (``v``). A fragment break is where these change abruptly *at a sector boundary*: the sectors
before it agree with each other, the sectors after it agree with each other, and the two groups differ
sharply. A picture's own changes of content (a horizon, an object's edge) fall on pixel rows, not on sector
boundaries, and the pixel array rarely starts on a sector boundary, so they leave a mixed sector between
the two groups and are not taken for a break.

Limits of the check:
  * pixels that are noise (every byte as unpredictable as a random one) cannot be told from random filler:
    a run of at least ``RUN`` such sectors makes the raster unverifiable, and its verdict gets a low
    confidence (0.5 instead of 0.9);
  * a gap shorter than ``WINDOW`` sectors, or within ``WINDOW`` sectors of the raster's ends, is not seen;
  * a filler that happens to look like the picture (zeros in a black area) hides the exact cut;
  * a picture whose rows begin on sector boundaries could put a sharp horizontal edge on one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from statistics import median

import numpy as np
import numpy.typing as npt

from dftk_plugins.carving.model import Spliced, Verdict, View

SECTOR = 512  # breaks are looked for on 512-byte boundaries, which every larger sector size also falls on
WINDOW = 4  # sectors each side of a boundary that must agree among themselves
JUMP = 24  # a change of the mean prediction error (0..255) that no mixed sector of one picture makes
PURE = 12  # how close the sectors next to the boundary must be to their own side
NOISE = 72  # random bytes differ by 85 on average; a sector at least this unpredictable is noise-like
RUN = 8  # noise-like sectors in a row (one 4 KiB cluster) in which a random-filled gap could hide
SPAN = 256  # bytes each side of a boundary in which the exact change point is looked for
EXACT = 6  # bytes by which the change point may miss the boundary
SAMPLE = 2  # every other byte of a sector gives its mean error closely enough (256 samples), at half the cost
# (_mean_differences masks those bytes as the low halves of 16-bit lanes, so it relies on SAMPLE being 2)
_EVEN_BYTES = 0x00FF00FF00FF00FF  # the even bytes of a little-endian uint64 word
CHUNK = 1 << 20
MAX_GAP = 16 << 20
MAX_TRIES = 8


@dataclass(frozen=True, slots=True)
class Raster:
    """Where a file's uncompressed pixel rows are.

    Attributes:
        start: file position of the first pixel byte.
        end: file position after the last pixel byte.
        stride: bytes per row, padding included.
        pixel: bytes per pixel (1 for pictures of less than 8 bits per pixel).
        size: the file's whole length, as its header gives it.
    """

    start: int
    end: int
    stride: int
    pixel: int
    size: int


@dataclass(frozen=True, slots=True)
class Errors:
    """Prediction errors of consecutive sectors, the first at file position ``first`` (numpy arrays, so the
    step and noise tests run on them without conversions)."""

    first: int
    h: npt.NDArray[np.int32]
    v: npt.NDArray[np.int32]

    def position(self, index: int) -> int:
        return self.first + index * SECTOR


def errors(view: View, raster: Raster, phase: int, low: int, high: int) -> Errors:
    """The errors of the whole sectors of pixel data in ``[low, high)`` (file positions; sectors begin where
    ``(phase + position) % SECTOR == 0``) that have a full row above them."""
    low = max(low, raster.start + raster.stride)
    first = low + (-(phase + low)) % SECTOR
    h: list[npt.NDArray[np.int32]] = []
    v: list[npt.NDArray[np.int32]] = []
    step = CHUNK // SECTOR * SECTOR
    for at in range(first, high - SECTOR + 1, step):
        count = min(step, high - at) // SECTOR
        data = view.buffer(at - raster.stride, raster.stride + count * SECTOR)
        count = (len(data) - raster.stride) // SECTOR
        if count <= 0:
            break
        # one array per read serves both errors: the row above starts at 0, the pixel to the left just before
        whole = np.frombuffer(data, dtype=np.uint8)
        here = whole[raster.stride:raster.stride + count * SECTOR]
        h.append(_mean_differences(here, whole[raster.stride - raster.pixel:], count))
        v.append(_mean_differences(here, whole, count))
    empty = np.zeros(0, dtype=np.int32)
    return Errors(first, np.concatenate(h) if h else empty, np.concatenate(v) if v else empty)


def _mean_differences(here: npt.NDArray[np.uint8], there: npt.NDArray[np.uint8],
                      count: int) -> npt.NDArray[np.int32]:
    """Per sector of ``here``: the mean absolute difference (rounded) of its even bytes (``SAMPLE``) to the
    bytes of ``there`` at the same places."""
    # |a - b| in uint8 as max - min: no widened copies. Taken over every byte (contiguous, fast); the even
    # ones are then masked in place as the low bytes of four 16-bit lanes per little-endian uint64 word, and
    # einsum adds a sector's 64 words (faster than sum() on rows, which pays per row): each lane then holds
    # at most 64 * 255, so no carry crosses lanes, and the four lanes add up to at most 65280.
    there = there[:len(here)]
    diff = np.maximum(here, there)
    diff -= np.minimum(here, there)
    words = diff.view("<u8")
    words &= _EVEN_BYTES
    lanes = np.einsum("ij->i", words.reshape(count, SECTOR // 8))
    n = SECTOR // SAMPLE
    sums: npt.NDArray[np.int32] = lanes.view(np.uint16).reshape(count, 4).sum(axis=1, dtype=np.int32)
    return (sums + n // 2) // n


def _steps_anywhere(e: Errors) -> list[int]:
    """Indices at which either error changes by more than ``JUMP`` from the sector before (numpy): the only
    places a break can be, so the exact tests below run at few sectors."""
    if len(e.h) < 2:
        return []
    jumps = (np.abs(np.diff(e.h)) > JUMP) | (np.abs(np.diff(e.v)) > JUMP)
    at = np.flatnonzero(jumps) + 1
    return at[(at >= WINDOW) & (at <= len(e.h) - WINDOW)].tolist()  # type: ignore[no-any-return]


def breaks(view: View, raster: Raster, e: Errors) -> list[int]:
    """Indices of the sectors at which the content changes abruptly: a sector boundary with ``WINDOW``
    consistent sectors on each side that differ sharply, where the change happens at the boundary's byte."""
    found: list[int] = []
    candidates = _steps_anywhere(e)
    if not candidates:
        return found
    for i in candidates:
        at = e.position(i)
        row = (at - raster.start) % raster.stride
        if min(row, raster.stride - row) <= EXACT:
            continue  # a change on a row boundary is the picture's own (a band, a horizon)
        # plain ints for the medians, only the 2 * WINDOW sectors around the candidate (converting the whole
        # arrays cost more than all the tests)
        h, v = e.h[i - WINDOW:i + WINDOW].tolist(), e.v[i - WINDOW:i + WINDOW].tolist()
        if ((_steps(h) and _changes_at(view, at, raster.pixel))
                or (_steps(v, min(WINDOW, -(-raster.stride // SECTOR))) and _changes_at(view, at, raster.stride))):
            found.append(i)
    return found


def _steps(values: list[int], span: int = WINDOW) -> bool:
    """Whether ``values`` (the ``WINDOW`` sectors before a boundary, then those after it) step at the boundary
    between two groups that each agree within (``span`` sectors after: for the error to the row above, the
    first row after a break differs, the following ones need not)."""
    before, after = median(values[:WINDOW]), median(values[WINDOW:WINDOW + span])
    return (abs(before - after) > JUMP and abs(values[WINDOW - 1] - before) <= PURE
            and abs(values[WINDOW] - after) <= PURE)


def _changes_at(view: View, at: int, lag: int) -> bool:
    """Whether the byte-wise prediction error (at distance ``lag``) changes level within ``EXACT`` bytes of
    ``at``: the change point that best splits the ``SPAN`` bytes each side in two levels (CUSUM)."""
    data = view.buffer(at - SPAN - lag, 2 * SPAN + lag)
    if len(data) < 2 * SPAN + lag:
        return False
    raw = np.frombuffer(data, dtype=np.uint8).astype(np.int32)
    diffs = np.abs(raw[lag:] - raw[:-lag])
    mean = int(diffs.sum()) / len(diffs)
    # cumsum adds in order, as a loop would, so the float sums (and thus ties) are the same; argmax takes the
    # first of equal maxima; the change point is k + 1 (0, as the loop had it, when the sums never leave 0)
    deviation = np.abs(np.cumsum(diffs[:-1] - mean))
    k = int(np.argmax(deviation))
    best_at = k + 1 if deviation[k] > 0 else 0
    return abs(best_at - SPAN) <= EXACT


def noise_like(e: Errors) -> bool:
    """Whether ``RUN`` consecutive sectors are as unpredictable as random bytes (where filler would hide)."""
    noisy = (e.h >= NOISE) & (e.v >= NOISE)
    if len(noisy) < RUN:
        return False
    runs = np.convolve(noisy.astype(np.int32), np.ones(RUN, dtype=np.int32), mode="valid")
    return bool((runs >= RUN).any())


def judge(view: View, raster: Raster) -> Verdict:
    """The verdict on a whole raster file: partial at the first break, else full (with a low confidence when
    its pixels are noise-like)."""
    e = errors(view, raster, view.start, raster.start, raster.end)
    found = breaks(view, raster, e)
    if found:
        at = e.position(found[0])
        return Verdict(at, False, 0.3, at)
    # Noise-like pixels: a random-filled gap could hide in them, so the known size is all that holds; a low
    # confidence says so (full rather than partial: a partial hit would not hold what its noise contains).
    return Verdict(raster.size, True, 0.5 if noise_like(e) else 0.9)


def reassemble(view: View, verdict: Verdict, sector: int, raster: Raster | None) -> Verdict | None:
    """Gap carving: the cut is the break the validator found; the second fragment resumes at a later break
    (foreign data giving way to picture again) such that the reassembled raster shows no break from the cut
    to its known end."""
    cut = verdict.good
    if raster is None or not raster.start + raster.stride < cut < raster.end or (view.start + cut) % sector:
        return None
    tries = 0
    for resume in _resumes(view, raster, cut, min(view.size, raster.end + MAX_GAP)):
        if (view.start + resume) % sector:
            continue
        tries += 1
        if tries > MAX_TRIES:
            break
        spliced = View(Spliced(view, cut, view.start + resume, raster.size), 0, raster.size)
        low = cut - (WINDOW + 1) * SECTOR - raster.stride
        if spliced.size == raster.size and not breaks(spliced, raster,
                                                      errors(spliced, raster, view.start, low, raster.end)):
            fragments = ((view.start, cut), (view.start + resume, raster.size - cut))
            return Verdict(raster.size, True, 0.6, fragments=fragments)
    return None


def _resumes(view: View, raster: Raster, cut: int, high: int) -> Iterator[int]:
    """The breaks after the cut, in order, found a chunk at a time (most gaps are short)."""
    margin = WINDOW * SECTOR
    for low in range(cut, high, CHUNK):
        e = errors(view, raster, view.start, low - margin, min(high, low + CHUNK + margin))
        for i in breaks(view, raster, e):
            if low < e.position(i) <= low + CHUNK:
                yield e.position(i)
