"""SQLite databases: the validator checks every page of the header's page count (b-tree cells, freeblocks
and fragments filling the content area exactly; overflow, freelist and pointer-map pages); bifragment gap
carving cuts inside the first bad page and resumes where the following page is found intact."""

from __future__ import annotations

import struct
from collections.abc import Callable

from dftk_plugins.carving.fragments import MAX_TRIES, boundaries
from dftk_plugins.carving.model import Spliced, Validator, Verdict, View

_SQLITE_MAGIC = b"SQLite format 3\x00"
_TABLE_INTERIOR, _TABLE_LEAF, _INDEX_INTERIOR, _INDEX_LEAF = 5, 13, 2, 10
_BTREE = (_TABLE_INTERIOR, _TABLE_LEAF, _INDEX_INTERIOR, _INDEX_LEAF)
_ZERO, _OTHER, _FREELIST, _PTRMAP, _BAD = 0, 1, 3, 4, 255  # page kinds (b-tree pages keep their type byte)
SQLITE_READ = 1 << 20
MAX_STRUCTURED_GAP = 1 << 20  # bifragment gaps searched for SQLite and OLE2


def sqlite(view: View) -> Verdict | None:
    """SQLite: the header (page size, in-header database size valid for this change counter), then every
    page of that size: a b-tree page whose cells, freeblocks and fragments fill its content area exactly,
    a pointer-map page, a freelist page, or an overflow page some cell's chain reaches."""
    head = view.read(0, 100)
    if len(head) < 100 or not head.startswith(_SQLITE_MAGIC):
        return None
    page = struct.unpack(">H", head[16:18])[0]
    page = 65536 if page == 1 else page
    if page < 512 or page & (page - 1) or head[21:24] != b"\x40\x20\x20" or view.read(100, 1) not in (b"\x05",
                                                                                                      b"\x0d"):
        return None
    change, count = struct.unpack(">II", head[24:32])
    if count == 0 or struct.unpack(">I", head[92:96])[0] != change:
        return Verdict(page, False, 0.3, page)  # an old writer's header: the size is not known
    end = page * count
    if end > view.size:
        return Verdict(view.size, False, 0.4, 0)
    bad = _Pages(view, head, page, count).first_bad()
    if bad is not None:
        return Verdict(max(page, (bad - 1) * page), False, 0.5, (bad - 1) * page)
    return Verdict(end, True, 0.95)


class _Pages:
    """One pass over a database's pages, kept as one small kind code per page plus the references between
    them (b-tree children, overflow chains), to say which page first breaks the structure."""

    def __init__(self, view: View, head: bytes, page: int, count: int) -> None:
        self.view, self.page, self.count = view, page, count
        self.usable = page - head[20]
        # the most and least payload kept on a b-tree page (SQLite's file format, 1.6), by cell kind
        self.most_table, self.most_index = self.usable - 35, (self.usable - 12) * 64 // 255 - 23
        self.least = (self.usable - 12) * 32 // 255 - 23
        self.kinds = bytearray(count + 1)
        self.children: list[tuple[int, int, int]] = []  # (parent, child, family: 1 table, 2 index)
        self.overflow: list[tuple[int, int]] = []  # (referencing page, first overflow page)
        self.next_page: dict[int, int] = {}
        self.freelist_head, self.freelist_size = struct.unpack(">II", head[32:40])
        self.ptrmap = set()
        if struct.unpack(">I", head[52:56])[0]:  # auto-vacuum: pointer-map pages at fixed places
            self.ptrmap = set(range(2, count + 1, self.usable // 5 + 1))

    def first_bad(self) -> int | None:
        bad = self._freelist()
        chunk = max(1, SQLITE_READ // self.page)
        for first in range(1, self.count + 1, chunk):
            data = self.view.read((first - 1) * self.page, chunk * self.page)
            for k in range(min(chunk, self.count - first + 1)):
                number = first + k
                if self.kinds[number] != _FREELIST:
                    self.kinds[number] = self._classify(number, data[k * self.page:(k + 1) * self.page])
        bad += [n for n in range(1, self.count + 1) if self.kinds[n] == _BAD]
        bad += self._broken_references()
        return min(bad) if bad else None

    def _freelist(self) -> list[int]:
        """Marks the freelist's trunk and leaf pages (their content is whatever was there before); returns
        the first trunk that is not one."""
        trunk, seen, marked = self.freelist_head, 0, 0
        while trunk and seen <= self.count:
            data = self.view.read((trunk - 1) * self.page, self.usable) if trunk <= self.count else b""
            if len(data) < 8:
                return [min(trunk, self.count)]
            nxt, leaves = struct.unpack(">II", data[:8])
            if nxt > self.count or leaves > self.usable // 4 - 2:
                return [trunk]
            numbers = struct.unpack(f">{leaves}I", data[8:8 + 4 * leaves])
            if any(not 0 < n <= self.count for n in numbers):
                return [trunk]
            self.kinds[trunk] = _FREELIST
            for n in numbers:
                self.kinds[n] = _FREELIST
            marked += 1 + leaves
            trunk, seen = nxt, seen + 1
        return [] if marked == self.freelist_size or not self.freelist_head else [self.freelist_head]

    def _classify(self, number: int, data: bytes) -> int:
        if len(data) < self.page:
            return _BAD
        if number in self.ptrmap:
            covered = min(self.usable // 5, self.count - number)  # entries past the last page may be stale
            return _PTRMAP if _ptrmap_ok(data[:5 * covered], self.count) else _BAD
        if not any(data):
            return _ZERO
        at = 100 if number == 1 else 0
        kind = data[at]
        if kind in _BTREE:  # an overflow page starts with a page number, whose first byte is 0 here
            return kind if self._btree_sound(number, data, at, kind) else _BAD
        nxt = struct.unpack(">I", data[:4])[0]
        if nxt > self.count:
            return _BAD
        self.next_page[number] = nxt
        return _OTHER

    def _btree_sound(self, number: int, data: bytes, at: int, kind: int) -> bool:
        try:
            return self._btree_ok(number, data, at, kind)
        except (struct.error, IndexError):
            return False  # a cell running off the page

    def _btree_ok(self, number: int, data: bytes, at: int, kind: int) -> bool:
        """The page header's fields in range, and cells + freeblocks + fragmented bytes filling the content
        area exactly (what SQLite's integrity check requires)."""
        interior = kind in (_TABLE_INTERIOR, _INDEX_INTERIOR)
        header = at + (12 if interior else 8)
        freeblock, cells, content, fragmented = struct.unpack(">HHHB", data[at + 1:at + 8])
        content = content or 65536
        usable = self.usable
        if header + 2 * cells > content or content > usable:
            return False
        family = 1 if kind in (_TABLE_INTERIOR, _TABLE_LEAF) else 2
        if interior:
            right = struct.unpack(">I", data[at + 8:at + 12])[0]
            if not 0 < right <= self.count:
                return False
            self.children.append((number, right, family))
        used = fragmented
        pointers = struct.unpack(f">{cells}H", data[header:header + 2 * cells])
        for pointer in pointers:
            if not content <= pointer < usable:
                return False
            size = self._cell(number, data, pointer, kind, family)
            if size is None or pointer + size > usable:
                return False
            used += size
        previous = 0
        while freeblock:
            if freeblock <= previous or freeblock < content or freeblock + 4 > usable:
                return False
            nxt, size = struct.unpack(">HH", data[freeblock:freeblock + 4])
            if size < 4 or freeblock + size > usable:
                return False
            used, previous, freeblock = used + size, freeblock, nxt
        return bool(used == usable - content)

    def _cell(self, number: int, data: bytes, pos: int, kind: int, family: int) -> int | None:
        """The cell's size on the page (its overflow chain's first page recorded). Varints of one or two
        bytes (the usual payload sizes and row ids) are read inline: a page holds many cells."""
        start = pos
        if kind == _TABLE_INTERIOR or kind == _INDEX_INTERIOR:
            child = struct.unpack(">I", data[pos:pos + 4])[0]
            if not 0 < child <= self.count:
                return None
            self.children.append((number, child, family))
            pos += 4
            if kind == _TABLE_INTERIOR:
                return 5 if data[pos] < 0x80 else 6 if data[pos + 1] < 0x80 else 4 + _varint(data, pos)[1]
        payload = data[pos]
        if payload < 0x80:
            pos += 1
        elif data[pos + 1] < 0x80:
            payload, pos = (payload & 0x7F) << 7 | data[pos + 1], pos + 2
        else:
            payload, n = _varint(data, pos)
            pos += n
        if kind == _TABLE_LEAF:  # the row id: only its length matters
            pos += 1 if data[pos] < 0x80 else 2 if data[pos + 1] < 0x80 else _varint(data, pos)[1]
            most = self.most_table
        else:
            most = self.most_index
        if payload <= most:
            size = pos - start + payload
            return size if size > 4 else 4
        least = self.least
        local = least + (payload - least) % (self.usable - 4)
        local = local if local <= most else least
        first = struct.unpack(">I", data[pos + local:pos + local + 4])[0]
        if not 0 < first <= self.count:
            return None
        self.overflow.append((number, first))
        return pos - start + local + 4

    def _broken_references(self) -> list[int]:
        """Pages referenced as what they are not: a b-tree child of the wrong family or no b-tree page, an
        overflow page that is a b-tree page; and overflow-looking pages nothing reaches."""
        bad = []
        for _, child, family in self.children:
            kind = self.kinds[child]
            if kind not in _BTREE or (1 if kind in (_TABLE_INTERIOR, _TABLE_LEAF) else 2) != family:
                bad.append(child)  # the page not holding what its parent says it holds
        reached: set[int] = set()
        for _, first in self.overflow:
            n, steps = first, 0
            while n and n not in reached and steps <= self.count:
                if self.kinds[n] != _OTHER:
                    bad.append(n)
                    break
                reached.add(n)
                n, steps = self.next_page.get(n, 0), steps + 1
        bad += [n for n in self.next_page if n not in reached]
        bad += [n for n in range(2, self.count + 1) if self.kinds[n] == _ZERO]
        return bad


def _ptrmap_ok(data: bytes, count: int) -> bool:
    for pos in range(0, len(data), 5):
        kind = data[pos]
        parent = struct.unpack(">I", data[pos + 1:pos + 5])[0]
        if kind > 5 or parent > count or (kind == 0 and parent):
            return False
    return True


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    """SQLite's big-endian variable-length integer at ``pos``: (value, bytes used)."""
    value = 0
    for i in range(8):
        byte = data[pos + i]
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, i + 1
    return (value << 8) | data[pos + 8], 9


def sqlite_gaps(validate: Validator, view: View, verdict: Verdict, sector: int) -> Verdict | None:
    """SQLite bifragment gap carving: the database's size is known from its header, the break is in or
    just before the first page that failed; the page after it must be found whole after the gap."""
    head = view.read(0, 100)
    page = struct.unpack(">H", head[16:18])[0]
    page = 65536 if page == 1 else page
    count = struct.unpack(">I", head[28:32])[0]
    probe = _Pages(view, head, page, count)

    def sound(data: bytes) -> bool:
        if len(data) < page or not any(data):
            return False
        if data[0] in _BTREE:
            return probe._btree_sound(0, data, 0, data[0])
        return bool(struct.unpack(">I", data[:4])[0] <= count)

    return _two_fragments(validate, view, verdict.good, sector, page, page * count, sound)


def _two_fragments(validate: Validator, view: View, bad: int, sector: int, unit: int, total: int,
                   sound: Callable[[bytes], bool]) -> Verdict | None:
    """A reassembly of a file of known size ``total`` whose ``unit`` at ``bad`` failed while every unit
    before it held: the cut is a sector boundary inside that unit; the gap is a whole number of sectors
    after which the unit following ``bad`` is ``sound``. Gaps are tried smallest first (a larger one that
    also fits would skip the file's own later units), cuts earliest first; the first whole validation
    wins. Where a cut falls in bytes no check covers (a page's unallocated space) the earliest cut that
    validates is taken, so those bytes may come from the gap."""
    following = bad + unit
    if bad <= 0 or following >= total:
        return None
    region = view.reader.read(view.start + following + sector, MAX_STRUCTURED_GAP + unit)
    cuts = boundaries(view, bad - 1, following - 1, sector)
    tries = 0
    for gap in range(sector, MAX_STRUCTURED_GAP + 1, sector):
        if not sound(region[gap - sector:gap - sector + unit]):
            continue
        for cut in cuts:
            found = _reassembled(validate, view, cut, gap)
            if found is not None:
                return found
        tries += len(cuts)
        if tries > MAX_TRIES * 4:
            return None
    return None


def _reassembled(validate: Validator, view: View, cut: int, gap: int) -> Verdict | None:
    resume = view.start + cut + gap
    whole = validate(View(Spliced(view, cut, resume, view.size), 0, view.size))
    if whole is None or not whole.full or whole.length <= cut:
        return None
    return Verdict(whole.length, True, whole.confidence * 0.95,
                   fragments=((view.start, cut), (resume, whole.length - cut)))
