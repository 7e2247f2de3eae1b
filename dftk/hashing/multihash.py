"""Hashing outside the pipeline: several algorithms in one read pass (hashed on parallel threads) and
piecewise hashes (dcfldd's hash windows).

hashlib releases the GIL while it hashes a large buffer, so the algorithms are spread over one thread per
core (each thread hashing its share block after block, in order) while the reader fills the next buffer.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

from dftk.hashing.algorithms import new_hasher

BLOCK = 8 << 20
_THREADED_FROM = 1 << 20  # below this, threads cost more than they save
_IN_FLIGHT = 3  # blocks handed to the lanes and not yet hashed, at most (update())

# Relative cost per byte (OpenSSL, x86-64 with SHA extensions); used to spread algorithms over the cores.
# sm3 has no CPU instructions there: measured at 4.8 times sha256's time per byte.
_COST = {"md5": 1.0, "sha1": 0.45, "sha256": 0.45, "sha512": 1.1, "blake2b": 0.9, "blake3": 0.2, "sm3": 2.1}


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
        self.total = new_hasher(algorithm)
        self.piece = piece
        self.window: Any = new_hasher(algorithm) if piece else None
        self.filled = 0
        self.pieces: list[str] = []

    def update(self, data: bytes | bytearray | memoryview) -> None:
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
        self.window = new_hasher(self.algorithm)
        self.filled = 0

    def finish(self) -> str:
        if self.piece and self.filled:
            self._close_window()
        digest: str = self.total.hexdigest()
        return digest


class HashPool:
    """One single-thread executor per core: each hashes its share of the algorithms, block after block,
    in order. hashlib releases the GIL on large buffers, so the shares run side by side (and beside the
    thread that reads and writes). Shared by every target of one command; a context manager."""

    def __init__(self, width: int) -> None:
        self.width = max(1, width)
        self._threads = [ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"hash{i}")
                         for i in range(self.width)]

    def submit(self, index: int, fn: Callable[[], None]) -> Future[None]:
        return self._threads[index].submit(fn)

    def shutdown(self) -> None:
        for t in self._threads:
            t.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> HashPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


def _groups(lanes: list[_Lane], width: int) -> list[list[_Lane]]:
    """Spreads the lanes over ``width`` threads, the costliest first onto the least loaded thread."""
    groups: list[list[_Lane]] = [[] for _ in range(min(width, len(lanes)))]
    load = [0.0] * len(groups)
    for lane in sorted(lanes, key=lambda ln: -_COST.get(ln.algorithm, 1.0)):
        i = load.index(min(load))
        groups[i].append(lane)
        load[i] += _COST.get(lane.algorithm, 1.0)
    return groups


def _update_all(lanes: list[_Lane], data: bytes | bytearray | memoryview) -> None:
    for lane in lanes:
        lane.update(data)


class MultiHasher:
    """Feeds every block to one lane per algorithm; the lanes run on the pool's threads when blocks are
    large.

    Call :meth:`update` (or :meth:`submit`) with blocks in order, then :meth:`result`. A block handed to
    :meth:`update` must not change afterwards (bytes; or a fresh bytearray each time). A reused buffer goes
    through :meth:`submit`, and is changed only after :meth:`wait` on what ``submit`` returned.
    """

    def __init__(self, algorithms: tuple[str, ...], piece: int | None = None,
                 pool: HashPool | None = None) -> None:
        if piece is not None and piece <= 0:
            raise ValueError("piece size must be positive")
        self.algorithms = algorithms
        self.piece = piece
        self.size = 0
        self._lanes = [_Lane(a, piece) for a in algorithms]
        self._pool = pool
        self._groups = _groups(self._lanes, pool.width) if pool is not None else [self._lanes]
        self._pending: deque[list[Future[None]]] = deque()

    def submit(self, data: bytes | bytearray | memoryview) -> list[Future[None]]:
        """Starts hashing one block; the block must stay unchanged until :meth:`wait` on the result."""
        self.size += len(data)
        if self._pool is not None and len(data) >= _THREADED_FROM:  # even one group: overlaps the reads
            pool = self._pool
            futures = [pool.submit(i, partial(_update_all, group, data)) for i, group in enumerate(self._groups)]
            self._pending.append(futures)
            return futures
        self._drain()  # keeps the order: earlier threaded blocks first
        _update_all(self._lanes, data)
        return []

    def update(self, data: bytes | bytearray | memoryview) -> None:
        self.submit(data)
        while len(self._pending) > _IN_FLIGHT:
            self.wait(self._pending.popleft())

    @staticmethod
    def wait(futures: list[Future[None]]) -> None:
        """Waits until a submitted block is hashed (raising what hashing raised)."""
        for f in futures:
            f.result()

    def _drain(self) -> None:
        while self._pending:
            self.wait(self._pending.popleft())

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


def hasher_pool(algorithms: tuple[str, ...]) -> HashPool:
    """A pool with one thread per core (at most one per algorithm), shared by every target of one command."""
    return HashPool(min(len(algorithms), os.cpu_count() or 1))


class BufferRing:
    """A few large reusable buffers, handed out in turn; a buffer comes back once the work started on it
    (the futures given to :meth:`hold`) is done. Avoids allocating (and page-faulting) every block."""

    def __init__(self, size: int, count: int = 4) -> None:
        self._buffers = [bytearray(size) for _ in range(count)]
        self._busy: list[list[Future[Any]]] = [[] for _ in range(count)]
        self._next = 0

    def take(self) -> tuple[int, memoryview]:
        i = self._next
        self._next = (i + 1) % len(self._buffers)
        for f in self._busy[i]:
            f.result()
        self._busy[i] = []
        return i, memoryview(self._buffers[i])

    def hold(self, index: int, futures: list[Future[Any]]) -> None:
        self._busy[index] = futures

    def drain(self) -> None:
        for i, futures in enumerate(self._busy):
            for f in futures:
                f.result()
            self._busy[i] = []


def read_fd(fd: int, block: int = BLOCK, start: int = 0) -> Iterator[bytes]:
    """Yields the bytes of an open file or block device from ``start`` to its end, in blocks."""
    offset = start
    while True:
        data = os.pread(fd, block, offset)
        if not data:
            return
        offset += len(data)
        yield data


def hash_fd(fd: int, hasher: MultiHasher, observer: Callable[[int], None] | None = None,
            block: int = BLOCK) -> tuple[dict[str, str], list[Piece]]:
    """Hashes an open file or block device from its start to its end, reading into reused buffers while
    the previous blocks are hashed."""
    first = os.pread(fd, _THREADED_FROM, 0)
    hasher.update(first)
    if observer is not None:
        observer(len(first))
    if len(first) < _THREADED_FROM:  # a small file: no buffers
        return hash_blocks(read_fd(fd, start=len(first)), hasher, observer)
    ring = BufferRing(block)
    offset = len(first)
    try:
        while True:
            index, view = ring.take()
            n = os.preadv(fd, [view], offset)
            if not n:
                break
            offset += n
            ring.hold(index, hasher.submit(view[:n]))
            if observer is not None:
                observer(n)
    finally:
        ring.drain()
    return hasher.result()


def hash_blocks(blocks: Iterable[bytes], hasher: MultiHasher,
                observer: Callable[[int], None] | None = None) -> tuple[dict[str, str], list[Piece]]:
    """Feeds every block to ``hasher`` (reading the next block while the current one is hashed)."""
    for data in blocks:
        hasher.update(data)
        if observer is not None:
            observer(len(data))
    return hasher.result()
