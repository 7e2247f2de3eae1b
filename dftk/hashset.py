"""Hashing outside the pipeline: several algorithms in one read pass (hashed on parallel threads),
piecewise hashes (dcfldd's hash windows), hashdeep's file format, and hashdeep-style audit.

hashlib releases the GIL while it hashes a large buffer, so one thread per algorithm runs the algorithms
side by side while the reader fetches the next block.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dftk.errors import DftkError
from dftk.hashes import ALGORITHMS

BLOCK = 4 << 20
_THREADED_FROM = 1 << 20  # below this, threads cost more than they save
HASHDEEP_MAGIC = "%%%% HASHDEEP-1.0"


@dataclass(slots=True)
class Piece:
    """One hash window: bytes ``[offset, offset + length)`` and its digests."""

    offset: int
    length: int
    hashes: dict[str, str]


class _Lane:
    """One algorithm: the whole-stream hasher and, when piecewise, the current window's hasher."""

    def __init__(self, algorithm: str, piece: int | None) -> None:
        self.algorithm = algorithm
        self.total = hashlib.new(algorithm)
        self.piece = piece
        self.window: Any = hashlib.new(algorithm) if piece else None
        self.filled = 0
        self.pieces: list[str] = []

    def update(self, data: bytes | memoryview) -> None:
        self.total.update(data)
        if self.piece:
            self._update_windows(memoryview(data))

    def _update_windows(self, view: memoryview) -> None:
        assert self.piece
        while len(view):
            take = min(self.piece - self.filled, len(view))
            self.window.update(view[:take])
            self.filled += take
            view = view[take:]
            if self.filled == self.piece:
                self._close_window()

    def _close_window(self) -> None:
        self.pieces.append(self.window.hexdigest())
        self.window = hashlib.new(self.algorithm)
        self.filled = 0

    def finish(self) -> str:
        if self.piece and self.filled:
            self._close_window()
        return self.total.hexdigest()


class MultiHasher:
    """Feeds every block to one lane per algorithm; lanes run on threads when blocks are large.

    Call :meth:`update` with blocks in order, then :meth:`result`. Blocks must not be modified after they
    are handed over (bytes are immutable; a bytearray must be a fresh one each time).
    """

    def __init__(self, algorithms: tuple[str, ...], piece: int | None = None,
                 pool: ThreadPoolExecutor | None = None) -> None:
        if piece is not None and piece <= 0:
            raise ValueError("piece size must be positive")
        self.algorithms = algorithms
        self.piece = piece
        self.size = 0
        self._lanes = [_Lane(a, piece) for a in algorithms]
        self._pool = pool
        self._pending: list[Future[None]] = []

    def update(self, data: bytes | memoryview) -> None:
        self._drain()
        self.size += len(data)
        if self._pool is not None and len(data) >= _THREADED_FROM and len(self._lanes) > 1:
            self._pending = [self._pool.submit(lane.update, data) for lane in self._lanes]
        else:
            for lane in self._lanes:
                lane.update(data)

    def _drain(self) -> None:
        if self._pending:
            wait(self._pending)
            for f in self._pending:
                f.result()
            self._pending = []

    def result(self) -> tuple[dict[str, str], list[Piece]]:
        """The whole-stream digests and, when piecewise, one :class:`Piece` per window."""
        self._drain()
        hashes = {lane.algorithm: lane.finish() for lane in self._lanes}
        return hashes, self._pieces()

    def _pieces(self) -> list[Piece]:
        if not self.piece:
            return []
        count = len(self._lanes[0].pieces)
        return [Piece(i * self.piece, min(self.piece, self.size - i * self.piece),
                      {lane.algorithm: lane.pieces[i] for lane in self._lanes}) for i in range(count)]


def hasher_pool(algorithms: tuple[str, ...]) -> ThreadPoolExecutor:
    """A pool with one thread per algorithm, shared by every target of one command."""
    return ThreadPoolExecutor(max_workers=max(1, len(algorithms)), thread_name_prefix="hash")


def read_fd(fd: int, block: int = BLOCK, start: int = 0) -> Iterator[bytes]:
    """Yields the bytes of an open file or block device from ``start`` to its end, in blocks."""
    offset = start
    while True:
        data = os.pread(fd, block, offset)
        if not data:
            return
        offset += len(data)
        yield data


def hash_blocks(blocks: Iterable[bytes], hasher: MultiHasher,
                observer: Callable[[int], None] | None = None) -> tuple[dict[str, str], list[Piece]]:
    """Feeds every block to ``hasher`` (reading the next block while the current one is hashed)."""
    for data in blocks:
        hasher.update(data)
        if observer is not None:
            observer(len(data))
    return hasher.result()


# --- hashdeep's file format -----------------------------------------------------------------------


def hashdeep_header(algorithms: tuple[str, ...], invocation: str) -> list[str]:
    """The header hashdeep writes: magic, column names, where and how it was invoked."""
    return [HASHDEEP_MAGIC, f"%%%% size,{','.join(algorithms)},filename",
            f"## Invoked from: {os.getcwd()}", f"## $ {invocation}", "## "]


def hashdeep_line(size: int, hashes: dict[str, str], name: str) -> str:
    return ",".join([str(size), *hashes.values(), name])


@dataclass(frozen=True, slots=True)
class Known:
    """One entry of a known set."""

    size: int
    hashes: dict[str, str]
    name: str


def read_hashdeep(path: Path) -> tuple[tuple[str, ...], list[Known]]:
    """Parses a hashdeep-format file into its algorithms and entries.

    Raises:
        DftkError: when the file is not in hashdeep format, naming the line.
    """
    try:
        lines = path.read_text(encoding="utf-8", errors="surrogateescape").splitlines()
    except OSError as e:
        raise DftkError(f"{path}: cannot read known set: {e.strerror or e}") from e
    if not lines or lines[0].strip() != HASHDEEP_MAGIC or len(lines) < 2 or not lines[1].startswith("%%%% size,"):
        raise DftkError(f"{path}: not a hashdeep file (expected '{HASHDEEP_MAGIC}' and a '%%%% size,...' line)")
    columns = lines[1][5:].strip().split(",")
    if columns[-1] != "filename":
        raise DftkError(f"{path}: line 2: last column must be 'filename'")
    algorithms = tuple(c.lower() for c in columns[1:-1])
    return algorithms, [_known(path, n, line, algorithms) for n, line in enumerate(lines[2:], 3)
                        if line.strip() and not line.startswith(("##", "%%%%"))]


def _known(path: Path, number: int, line: str, algorithms: tuple[str, ...]) -> Known:
    parts = line.split(",", len(algorithms) + 1)
    if len(parts) != len(algorithms) + 2 or not parts[0].isdigit():
        raise DftkError(f"{path}: line {number}: expected {len(algorithms) + 2} comma-separated columns")
    return Known(int(parts[0]), dict(zip(algorithms, (h.lower() for h in parts[1:-1]), strict=True)), parts[-1])


# --- audit ----------------------------------------------------------------------------------------


@dataclass(slots=True)
class Audit:
    """hashdeep's audit (``-a -k``): each hashed file is matched, moved, partial or new; the known files
    nobody matched are missing."""

    algorithms: tuple[str, ...]
    entries: list[Known]
    common: tuple[str, ...] = ()
    used: set[int] = field(default_factory=set)
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("matched", "moved", "partial", "new", "missing"), 0))
    _by_hash: dict[tuple[str, str], list[int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.common = tuple(a for a in self.algorithms if a in ALGORITHMS)
        if not self.common:
            raise DftkError("known set has no algorithm dftk computes")
        for i, entry in enumerate(self.entries):
            for algorithm in self.common:
                self._by_hash.setdefault((algorithm, entry.hashes[algorithm]), []).append(i)

    def classify(self, name: str, size: int, hashes: dict[str, str]) -> tuple[str, str | None]:
        """Returns ``(verdict, known name)`` for one hashed file and remembers which entries were used."""
        candidates = self._candidates(hashes)
        full = [i for i, n in candidates if n == len(self.common) and self.entries[i].size == size]
        if full:
            same = [i for i in full if _same_path(self.entries[i].name, name)]
            chosen = (same or full)[0]
            verdict = "matched" if same else "moved"
        elif candidates:
            chosen, verdict = candidates[0][0], "partial"
        else:
            self.counts["new"] += 1
            return "new", None
        self.used.add(chosen)
        self.counts[verdict] += 1
        return verdict, self.entries[chosen].name

    def _candidates(self, hashes: dict[str, str]) -> list[tuple[int, int]]:
        hits: dict[int, int] = {}
        for algorithm in self.common:
            if algorithm in hashes:
                for i in self._by_hash.get((algorithm, hashes[algorithm]), []):
                    hits[i] = hits.get(i, 0) + 1
        return sorted(hits.items(), key=lambda kv: -kv[1])

    def missing(self) -> list[Known]:
        """The known entries no hashed file matched (call once, after every file)."""
        gone = [e for i, e in enumerate(self.entries) if i not in self.used]
        self.counts["missing"] = len(gone)
        return gone

    @property
    def passed(self) -> bool:
        return all(self.counts[k] == 0 for k in ("moved", "partial", "new", "missing"))


def _same_path(known: str, seen: str) -> bool:
    return os.path.normpath(known) == os.path.normpath(seen)
