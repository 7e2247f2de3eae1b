"""Bifragment gap carving of OLE2 compound files ([MS-CFB]): the gap is found from the sectors the header
locates that sit, shifted, further on, and the cut where a reassembly first fails."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from dftk_plugins.carving.compound import _DIFSECT, _END, _FATSECT, _FREE, _ROOT, _SPECIAL
from dftk_plugins.carving.fragments import MAX_SHIFTS, MAX_TRIES, beyond
from dftk_plugins.carving.model import Spliced, Validator, Verdict, View

OLE2_GAP = 1 << 20  # how far past a misplaced sector its shifted copy is looked for
_FAT_MARKERS = (_FREE, _END, _FATSECT, _DIFSECT)


def ole2_gaps(validate: Validator, view: View, verdict: Verdict, sector: int) -> Verdict | None:
    """OLE2 gap carving ([MS-CFB]): the file is its header and a run of sectors, so the cut is a sector
    boundary and the gap a whole number of sectors. The sectors the header locates (the FAT sectors, the
    first directory and mini FAT sectors) that do not hold what they should in place are looked for
    shifted: the shift at which all are found is the gap. The cut is then searched between the header
    and the first of them: a failed reassembly's first bad sector lies in the gap bytes, so it tells on
    which side of that sector the cut is. A cut is accepted only when it alone validates: where the
    sectors around it are not checked (opaque stream data), several would, and the file stays partial."""
    head = view.read(0, 512)
    unit = 1 << struct.unpack("<H", head[30:32])[0]
    if unit != sector or view.start % sector:
        return None  # the file's sectors do not line up with the medium's
    misplaced = [(pos, test) for pos, test in _located(view, head) if not test(view.read(pos, sector))]
    if not misplaced:
        return None
    high = min(pos for pos, _ in misplaced)
    for gap in _ole2_gaps(view, misplaced, sector):
        found = _ole2_cut(validate, view, gap, high, sector)
        if found is not False:
            return found if isinstance(found, Verdict) else None  # an ambiguous cut stays partial
    return None


def _located(view: View, head: bytes) -> list[tuple[int, Any]]:
    """(position, test) of the sectors the header locates: the FAT sectors listed in the header (each
    holding FAT entries, with the entries of the FAT sectors it covers marked as such), the first
    directory sector (the root entry) and the first mini FAT sector."""
    unit = 1 << struct.unpack("<H", head[30:32])[0]
    per = unit // 4
    fat_count, first_dir = struct.unpack("<II", head[44:52])
    minifat_first = struct.unpack("<I", head[60:64])[0]
    fat = [s for s in struct.unpack("<109I", head[76:512]) if s < _SPECIAL][:fat_count]
    limit = fat_count * per
    located: list[tuple[int, Any]] = []
    for number, index in enumerate(fat):
        marked = [s % per for s in fat if s // per == number]
        located.append((unit + index * unit, _fat_test(limit, per, marked)))
    if first_dir < limit:
        located.append((unit + first_dir * unit, _root_test))
    if minifat_first < limit:
        located.append((unit + minifat_first * unit, _fat_test(limit * per, per, [])))
    return located


def _fat_test(limit: int, per: int, marked: list[int]) -> _FatTest:
    return _FatTest(limit, per, marked)


@dataclass(frozen=True, slots=True)
class _FatTest:
    """Whether a sector holds FAT entries (each below ``limit`` or a marker, at least one marker) with the
    entries at ``marked`` saying FAT sector; ``sectors`` checks a whole region at once."""

    limit: int
    per: int
    marked: list[int]

    def __call__(self, data: bytes) -> bool:
        if len(data) < self.per * 4:
            return False
        words = struct.unpack(f"<{self.per}I", data[:self.per * 4])
        return (all(w < self.limit or w >= _DIFSECT for w in words) and any(w in _FAT_MARKERS for w in words)
                and all(words[m] == _FATSECT for m in self.marked))

    def sectors(self, region: bytes, sector: int) -> list[int]:
        """The ends of the whole ``sector``-sized pieces of ``region`` that pass (one numpy pass, not a loop
        over every entry of every sector: zero-filled sectors pass the first check and cost the most)."""
        count = len(region) // sector
        if not count or sector < self.per * 4:
            return []
        rows = np.frombuffer(region, dtype=np.uint8, count=count * sector).reshape(count, sector)
        words = np.ascontiguousarray(rows[:, :self.per * 4]).view("<u4")
        markers = words >= _DIFSECT  # the markers (_FAT_MARKERS) are the four largest values
        fine = ((words < min(self.limit, 1 << 32)) | markers).all(axis=1) & markers.any(axis=1)
        fine &= (words[:, self.marked] == _FATSECT).all(axis=1)
        return [int(i + 1) * sector for i in np.flatnonzero(fine)]


def _root_test(data: bytes) -> bool:
    return data.startswith(_ROOT) and data[66:67] == b"\x05"


def _ole2_gaps(view: View, misplaced: list[tuple[int, Any]], sector: int) -> Iterator[int]:
    """Gaps (whole sectors, smallest first, at most MAX_SHIFTS) at which every misplaced sector is found."""
    pos, test = misplaced[0]
    region = beyond(view, view.start + pos + sector, OLE2_GAP)
    found = 0
    for gap in _passing(test, region, sector):
        if all(other(beyond(view, view.start + p + gap, sector)) for p, other in misplaced[1:]):
            yield gap
            found += 1
            if found >= MAX_SHIFTS:
                return


def _passing(test: Any, region: bytes, sector: int) -> Iterator[int]:
    """The ends of the whole sectors of ``region`` that pass ``test``, in order."""
    if isinstance(test, _FatTest):
        yield from test.sectors(region, sector)
    else:
        yield from (gap for gap in range(sector, len(region) + 1, sector) if test(region[gap - sector:gap]))


def _ole2_cut(validate: Validator, view: View, gap: int, high: int, sector: int) -> Verdict | bool:
    """The reassembly for ``gap`` with its cut searched from ``high`` (a sector that must come after it)
    down to the header; False when no cut validates, True when more than one does (ambiguous). A failed
    reassembly's first bad sector, when before the cut, is in place gap bytes: the cut is at or before
    it. When after (gap bytes taken shifted, or a check that notices them late, such as inflation), the
    cut is tried one sector lower."""
    cut = high
    for _ in range(MAX_TRIES // 2):
        if cut < sector:
            return False
        whole = _spliced_verdict(validate, view, cut, gap)
        if whole is not None and whole.full:
            if any(_spliced_full(validate, view, other, gap) for other in (cut - sector, cut + sector)
                   if sector <= other <= high):
                return True
            return Verdict(whole.length, True, whole.confidence * 0.95,
                           fragments=((view.start, cut), (view.start + cut + gap, whole.length - cut)))
        bad = whole.good if whole is not None else 0
        cut = bad if 0 < bad < cut and bad % sector == 0 else cut - sector
    return False


def _spliced_verdict(validate: Validator, view: View, cut: int, gap: int) -> Verdict | None:
    return validate(View(Spliced(view, cut, view.start + cut + gap, view.size), 0, view.size))


def _spliced_full(validate: Validator, view: View, cut: int, gap: int) -> bool:
    whole = _spliced_verdict(validate, view, cut, gap)
    return whole is not None and whole.full
