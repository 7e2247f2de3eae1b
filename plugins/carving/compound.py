"""OLE2 compound files (DOC, XLS, PPT, MSI...) per [MS-CFB]: the validator checks the header, DIFAT, FAT,
directory, mini FAT and every stream chain (and PowerPoint's record chain). Gap carving of OLE2 is in
compound_gaps.py."""

from __future__ import annotations

import struct
import zlib

from dftk_plugins.carving.inflate import inflate_bounded
from dftk_plugins.carving.model import Verdict, View

_FREE, _END, _FATSECT, _DIFSECT = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFC
_SPECIAL = 0xFFFFFFFA
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_MINI_CUTOFF, _MINI_SECTOR = 4096, 64
_ROOT = "Root Entry".encode("utf-16-le")
_PPT_DOCUMENT = "PowerPoint Document".encode("utf-16-le")
RECORDS_LIMIT = 16 << 20  # PowerPoint Document streams larger than this are not walked (memory)
MAX_RECORDS = 1 << 16
_ENCRYPTED_TOKEN = b"\xdf\xc4\xd1\xf3"  # CurrentUserAtom.headerToken of an encrypted presentation
_COMPRESSED_STORAGE = 0x1011  # RT_ExternalOleObjectStg: an embedded object's or the VBA project's storage
_STREAM_STARTS = {  # how streams of known names begin: [MS-OLEPS], [MS-DOC] FIB, [MS-XLS] BOF, [MS-PPT]
    "\x05": (b"\xfe\xff\x00\x00", b"\xfe\xff\x01\x00"),  # property sets: byte-order mark, version 0/1
    "WordDocument": (b"\xec\xa5",),
    "Workbook": (b"\x09\x08",),
    "Current User": (b"\x00\x00\xf6\x0f",),
}


def ole2(view: View) -> Verdict | None:
    """OLE2 compound file ([MS-CFB]): the header; the FAT sectors through the DIFAT, each marked as one in
    the FAT; every FAT entry a sector number or a marker; the directory, mini FAT and stream chains of the
    right lengths, sharing no sector; directory entries well formed; property-set streams starting with
    their byte-order mark. The file ends with the FAT's highest used sector."""
    head = view.read(0, 512)
    if len(head) < 512 or not head.startswith(_OLE2_MAGIC) or head[28:30] != b"\xfe\xff":
        return None
    major, _, shift, mini_shift = struct.unpack("<HHHH", head[26:34])
    if (major, shift) not in ((3, 9), (4, 12)) or mini_shift != 6:
        return None
    compound = _Compound(view, head, 1 << shift)
    if compound.fat is None:
        return Verdict(view.size, False, 0.3, 0) if compound.bad is None else _ole2_broken(compound.bad)
    end = compound.end
    if end > view.size:
        return Verdict(view.size, False, 0.4, 0)
    bad = compound.check()
    if bad is not None:
        return _ole2_broken(bad)
    return Verdict(end, True, 0.95)


def _ole2_broken(bad: int) -> Verdict:
    return Verdict(bad, False, 0.5, bad)


class _Compound:
    """The sector allocation of a compound file; ``bad`` is the file position of the first sector found not
    to hold what the structure says it holds."""

    def __init__(self, view: View, head: bytes, sector: int) -> None:
        self.view, self.head, self.sector = view, head, sector
        self.bad: int | None = None
        self.fat: list[int] | None = None
        self.end = 0
        fat_count, self.first_dir = struct.unpack("<II", head[44:52])
        self.minifat_first, self.minifat_count, difat_first, difat_count = struct.unpack("<IIII", head[60:76])
        if not 0 < fat_count <= view.size // sector or difat_count > fat_count:
            return
        self.fat_sectors: list[int] = []
        fat_sectors = self._difat(difat_first, difat_count, fat_count)
        if fat_sectors is not None:
            self.fat_sectors = fat_sectors
            self._read_fat()

    def at(self, index: int) -> int:
        return self.sector + index * self.sector

    def _flag(self, index: int) -> None:
        position = self.at(index)
        self.bad = position if self.bad is None else min(self.bad, position)

    def _difat(self, first: int, count: int, fat_count: int) -> list[int] | None:
        sectors = [s for s in struct.unpack("<109I", self.head[76:512]) if s < _SPECIAL]
        self.difat_sectors: list[int] = []
        nxt = first
        for _ in range(count):
            if nxt >= _SPECIAL:
                break
            block = self.view.read(self.at(nxt), self.sector)
            if len(block) < self.sector:
                return None
            words = struct.unpack(f"<{self.sector // 4}I", block)
            self.difat_sectors.append(nxt)
            sectors += [s for s in words[:-1] if s < _SPECIAL]
            nxt = words[-1]
        if len(sectors) < fat_count:
            self._flag(self.difat_sectors[-1] if self.difat_sectors else 0)
            return None
        return sectors[:fat_count]

    def _read_fat(self) -> None:
        per = self.sector // 4
        limit = len(self.fat_sectors) * per
        fat: list[int] = []
        for index in self.fat_sectors:
            block = self.view.read(self.at(index), self.sector)
            if len(block) < self.sector:
                return
            words = struct.unpack(f"<{per}I", block)
            if any(limit <= w < _DIFSECT for w in words):
                self._flag(index)  # not FAT entries: the sector is not what the DIFAT says it is
                return
            fat += words
        if any(fat[s] != _FATSECT for s in self.fat_sectors) or any(fat[s] != _DIFSECT
                                                                    for s in self.difat_sectors):
            self._flag(max(self.fat_sectors))
            return
        used = [i for i in range(len(fat) - 1, -1, -1) if fat[i] != _FREE][:1]
        self.fat = fat
        self.end = self.at(used[0] + 1) if used else self.at(0)

    def chain(self, first: int, claimed: bytearray) -> list[int] | None:
        """The sectors of the chain from ``first``; None when it loops, runs off the FAT, reaches a free
        sector or one another chain holds."""
        assert self.fat is not None
        out = []
        nxt = first
        while nxt != _END:
            if nxt >= len(self.fat) or claimed[nxt] or self.fat[nxt] == _FREE:
                return None
            claimed[nxt] = 1
            out.append(nxt)
            nxt = self.fat[nxt]
        return out

    def check(self) -> int | None:
        assert self.fat is not None
        claimed = bytearray(len(self.fat))
        for s in self.fat_sectors + self.difat_sectors:
            claimed[s] = 1
        directory = self.chain(self.first_dir, claimed)
        if not directory:
            return self.at(self.first_dir)
        entries = self._entries(directory)
        if entries is None:
            return self.bad
        minifat = self.chain(self.minifat_first, claimed) if self.minifat_first != _END else []
        if minifat is None or len(minifat) != self.minifat_count:
            return self.at(self.minifat_first)
        streams: dict[int, list[int]] = {}
        for number, (kind, start, size, _) in enumerate(entries):
            if kind == 5 or (kind == 2 and size >= _MINI_CUTOFF):
                sectors = self.chain(start, claimed) if size else []
                if sectors is None or len(sectors) != -(-size // self.sector):
                    return self.at(min(start, len(self.fat) - 1))
                streams[number] = sectors
        return self._contents(entries, streams)

    def _entries(self, directory: list[int]) -> list[tuple[int, int, int, bytes]] | None:
        """(type, start, size, name) of each directory entry; None (sector flagged) for a malformed one."""
        out = []
        for index in directory:
            block = self.view.read(self.at(index), self.sector)
            for pos in range(0, len(block), 128):
                entry = block[pos:pos + 128]
                name_length, kind, color = struct.unpack("<HBB", entry[64:68])
                start, size = struct.unpack("<II", entry[116:124])
                if kind == 0:
                    out.append((0, 0, 0, b""))
                    continue
                name = entry[:name_length]
                if (kind not in (1, 2, 5) or color > 1 or name_length > 64 or name_length % 2
                        or name[-2:] != b"\0\0" or (kind == 5) != (not out)):
                    self._flag(index)
                    return None
                out.append((kind, start, size, name[:-2]))
        if not out or out[0][3] != _ROOT:
            self._flag(directory[0])
            return None
        return out

    def _contents(self, entries: list[tuple[int, int, int, bytes]], streams: dict[int, list[int]]) -> int | None:
        """Streams of known names (property sets, Word's FIB, Excel's BOF, PowerPoint's current user) must
        start as their specifications say; a presentation's records must chain (``_records_break``)."""
        mini = streams.get(0, [])
        encrypted = False  # an encrypted presentation's records are not walked: their headers are ciphertext
        for number, (kind, start, size, raw_name) in enumerate(entries):
            name = raw_name.decode("utf-16-le", "replace")
            starts = _STREAM_STARTS.get(name[:1] if name.startswith("\x05") else name)
            if kind != 2 or starts is None or size < 4:
                continue
            if size >= _MINI_CUTOFF:
                position = self.at(streams[number][0])
            else:
                index = start * _MINI_SECTOR // self.sector
                if index >= len(mini):
                    return self.at(mini[-1]) if mini else self.at(0)
                position = self.at(mini[index]) + start * _MINI_SECTOR % self.sector
            head = self.view.read(position, 16)
            if not head.startswith(starts):
                return position - position % self.sector if position % self.sector else position
            encrypted = encrypted or (name == "Current User" and head[12:16] == _ENCRYPTED_TOKEN)
        for number, (kind, _, size, raw_name) in enumerate(entries):
            if (kind == 2 and raw_name == _PPT_DOCUMENT and number in streams and size <= RECORDS_LIMIT
                    and not encrypted):
                bad = self._records_break(streams[number], size)
                if bad is not None:
                    return bad
        return None

    def _records_break(self, sectors: list[int], size: int) -> int | None:
        """The file position of the sector where a PowerPoint Document stream's records stop chaining;
        its sectors are read in runs of consecutive ones (few reads)."""
        pieces, run = [], 0
        for i in range(1, len(sectors) + 1):
            if i == len(sectors) or sectors[i] != sectors[i - 1] + 1:
                pieces.append(self.view.read(self.at(sectors[run]), (i - run) * self.sector))
                run = i
        pos = _records_break(b"".join(pieces)[:size])
        return None if pos is None else self.at(sectors[pos // self.sector])


def _records_break(data: bytes) -> int | None:
    """Where the record headers of a PowerPoint Document stream ([MS-PPT] 2.3.1: recVer/recInstance,
    recType, recLen) stop chaining: each record ends where its recLen says, a container's (recVer 0xF)
    children chain to its end; a header of type 0 or overrunning its container is where gap bytes
    sit. None when all chain (or after MAX_RECORDS records: unchecked past there)."""
    ends, pos = [len(data)], 0
    for _ in range(MAX_RECORDS):
        while len(ends) > 1 and pos == ends[-1]:
            ends.pop()
        if pos == ends[-1] or (len(ends) == 1 and pos + 8 > ends[-1]):
            return None  # the stream's end (a few bytes after the last record, too few for one, tolerated)
        if pos + 8 > ends[-1]:
            return pos
        ver_instance, kind, length = struct.unpack_from("<HHI", data, pos)
        if kind == 0 or pos + 8 + length > ends[-1]:
            return pos
        if ver_instance & 0xF == 0xF:
            ends.append(pos + 8 + length)
            pos += 8
            continue
        if kind == _COMPRESSED_STORAGE and ver_instance >> 4 == 1:
            broken = _storage_break(data, pos + 8, length)
            if broken is not None:
                return broken
        pos += 8 + length
    return None


def _storage_break(data: bytes, at: int, length: int) -> int | None:
    """Where a compressed storage atom (ExOleObjStg or VbaProjectStg, recInstance 1: the decompressed
    size, then a zlib stream) stops inflating on to that size (the start of the piece, within one
    sector, where inflation broke); None when it reaches it."""
    if length < 6:
        return at
    expected: int = struct.unpack_from("<I", data, at)[0]
    inflater, size = zlib.decompressobj(), 0
    ends = [*range((at + 4) // 512 * 512 + 512, at + length, 512), at + length]  # pieces within one sector
    starts: list[int] = [at + 4, *ends[:-1]]
    for piece, end in zip(starts, ends, strict=True):
        try:
            out = inflate_bounded(inflater, data[piece:end], expected - size)
        except zlib.error:
            return piece
        if out is None:
            return piece
        size += len(out)
        if size == expected:
            return None  # whole (writers may leave the stream's end or checksum out)
        if inflater.eof:
            return piece
    return at + length - 1
