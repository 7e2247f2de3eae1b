"""Chunk compression: packing chunks as stored (zlib when smaller, else raw plus Adler-32), on worker
processes that read the media from shared-memory buffers when they can, keeping the chunk order; and the
worker processes themselves (their pool, and their end when the acquisition is gone).
"""

from __future__ import annotations

import os
import zlib
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future
from typing import TYPE_CHECKING, Any

from dftk.ewf.sections import adler

if TYPE_CHECKING:  # loaded when an E01 is written: slow to import, and raw imaging never needs them
    from multiprocessing import shared_memory

BATCH_CHUNKS = 128
_PROBES = 4  # samples of a chunk tried before the whole chunk is compressed ("fast" only)
_PROBE_SIZE = 512
_zero_packed: dict[tuple[int, int], bytes] = {}

Packed = list[tuple[bytes, bool]]


def pack_chunks(batch: bytes | memoryview, chunk_size: int, level: int) -> Packed:
    """Each chunk of a batch as stored: ``(zlib data, True)`` when that is smaller, else ``(Adler-32 of
    the raw chunk, False)`` (the caller writes the raw chunk from its own batch, then the checksum).

    With ``fast`` compression (level 1), a chunk whose samples (four spread 512-byte pieces) do not
    compress at all (encrypted, compressed or random data) is stored raw without compressing it whole:
    zlib would only have produced something larger. Runs in a worker process.
    """
    out: Packed = []
    view = memoryview(batch)
    zero = bytes(chunk_size)
    for start in range(0, len(view), chunk_size):
        chunk = bytes(view[start:start + chunk_size])
        if level:
            if chunk == zero:
                out.append((_packed_zero(chunk_size, level), True))
                continue
            if level != 1 or _compressible(chunk):
                packed = zlib.compress(chunk, level)
                if len(packed) < len(chunk):
                    out.append((packed, True))
                    continue
        out.append((adler(chunk), False))
    return out


_attached: dict[str, shared_memory.SharedMemory] = {}


def _buf(shm: shared_memory.SharedMemory) -> memoryview:
    buf = shm.buf
    assert buf is not None
    return buf


def pack_shared(name: str, length: int, chunk_size: int, level: int) -> Packed:
    """:func:`pack_chunks` of the first ``length`` bytes of a shared-memory buffer (in a worker process,
    which keeps the buffer attached for the next batches)."""
    from multiprocessing import shared_memory

    shm = _attached.get(name)
    if shm is None:
        shm = _attached[name] = shared_memory.SharedMemory(name)
    view = _buf(shm)[:length]
    try:
        return pack_chunks(view, chunk_size, level)
    finally:
        view.release()


def _compressible(chunk: bytes) -> bool:
    if len(chunk) < _PROBES * _PROBE_SIZE * 4:
        return True
    step = len(chunk) // _PROBES
    sample = b"".join(chunk[i * step:i * step + _PROBE_SIZE] for i in range(_PROBES))
    return len(zlib.compress(sample, 1)) < len(sample)


def _packed_zero(chunk_size: int, level: int) -> bytes:
    key = (chunk_size, level)
    if key not in _zero_packed:
        _zero_packed[key] = zlib.compress(bytes(chunk_size), level)
    return _zero_packed[key]


def watch_parent(parent: int) -> None:
    """Ends this compression process once the acquisition is gone: after a SIGKILL (which cannot be caught)
    an orphaned worker would otherwise wait for work forever, keeping its shared buffers."""
    import threading

    threading.Thread(target=_exit_when_orphaned, args=(parent,), daemon=True, name="watch-parent").start()


def _exit_when_orphaned(parent: int) -> None:
    import time

    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def default_workers() -> int:
    """Compression processes: one per core."""
    return max(1, os.cpu_count() or 1)


class Compressor:
    """Turns media bytes into stored chunks, a batch at a time, and hands them in order to ``store``.

    Batches are packed on worker processes (in this process with no workers or no compression), a few
    in flight at once; the media can come in shared-memory buffers the workers read without copies.

    Args:
        store: writes a batch (its media bytes) as packed.
        chunk_size: media bytes per chunk.
        level: the zlib level (0: no compression).
        media_size: bytes of media in all.
        workers: compression processes (0: compress in this process).
        received: media bytes already stored (on resume).

    Attributes:
        pool: the compression processes, if any.
        depth: batches in flight before the oldest is stored.
    """

    def __init__(self, store: Callable[[bytes | memoryview, Packed], None], chunk_size: int, level: int,
                 media_size: int, workers: int, received: int = 0) -> None:
        self._store = store
        self.chunk_size = chunk_size
        self.level = level
        self.media_size = media_size
        self.depth = 2 * max(1, workers) + 1
        self._received = received
        self._pending = bytearray()
        self._inflight: deque[tuple[bytes | int, Future[Packed]]] = deque()
        # shared-memory buffers the caller reads media into and the workers compress from (no copies)
        self._slots: list[shared_memory.SharedMemory] = []
        self._slot_length: dict[int, int] = {}  # bytes of media in each shared buffer in flight
        self._slot_size = 0
        self._slot_busy: list[list[Future[Any]]] = []
        self._next_slot = 0
        self._shared_ok = True
        self.pool: Executor | None = None
        if workers and level:
            from concurrent.futures import ProcessPoolExecutor

            self.pool = ProcessPoolExecutor(workers, initializer=watch_parent, initargs=(os.getpid(),))

    def take_buffer(self, length: int) -> tuple[int, memoryview] | None:
        """A shared buffer of ``length`` bytes, once its previous use is over; None without shared memory."""
        if not self._shareable(length):
            return None
        index = self._next_slot
        self._next_slot = (index + 1) % len(self._slots)
        for f in self._slot_busy[index]:
            f.result()
        while any(item[0] == index for item in self._inflight):
            self._store_next()
        self._slot_busy[index] = []
        return index, _buf(self._slots[index])[:length]

    def write_buffer(self, index: int, length: int, hold: Sequence[Future[Any]] = ()) -> None:
        """Packs the media bytes just put in shared buffer ``index``, reused once ``hold`` is done."""
        assert self.pool is not None
        self._received += length
        self._slot_busy[index] = list(hold)
        self._slot_length[index] = length
        future = self.pool.submit(pack_shared, self._slots[index].name, length, self.chunk_size, self.level)
        self._inflight.append((index, future))
        while len(self._inflight) > self.depth:
            self._store_next()

    def _shareable(self, length: int) -> bool:
        if self.pool is None or self._pending or not self._shared_ok:
            return False
        if length % self.chunk_size and self._received + length != self.media_size:
            return False  # a partial chunk is only allowed at the very end
        if not self._slots:
            return self._create_slots(length)
        return length <= self._slot_size

    def _create_slots(self, size: int) -> bool:
        from multiprocessing import shared_memory

        count = self.depth + 1
        try:  # a small /dev/shm (containers) would fail later with SIGBUS: check its room first
            st = os.statvfs("/dev/shm")
            if st.f_bavail * st.f_frsize < 2 * count * size:
                raise OSError("not enough room in /dev/shm")
            self._slots = [shared_memory.SharedMemory(create=True, size=size) for _ in range(count)]
        except (OSError, ValueError):
            self._release_slots()
            self._shared_ok = False
            return False
        self._slot_size = size
        self._slot_busy = [[] for _ in range(count)]
        return True

    def _release_slots(self) -> None:
        for shm in self._slots:
            try:
                shm.close()
            except BufferError:  # a view is still referenced (after an error): the mapping goes with it
                pass
            try:
                shm.unlink()
            except FileNotFoundError:
                pass
        self._slots = []

    def write(self, data: bytes) -> None:
        """Takes media bytes (any length); whole batches go to the workers, a block of whole chunks
        arriving when nothing is pending as it is (``data`` must then stay unchanged)."""
        self._received += len(data)
        batch = BATCH_CHUNKS * self.chunk_size
        if not self._pending and len(data) >= batch and len(data) % self.chunk_size == 0 \
                and isinstance(data, bytes):
            self._submit(data)
            return
        self._pending += data
        while len(self._pending) >= batch:
            self._submit(bytes(self._pending[:batch]))
            del self._pending[:batch]

    def _submit(self, batch: bytes) -> None:
        if self.pool is None:
            self._store(batch, pack_chunks(batch, self.chunk_size, self.level))
            return
        self._inflight.append((batch, self.pool.submit(pack_chunks, batch, self.chunk_size, self.level)))
        while len(self._inflight) > self.depth:
            self._store_next()

    def _store_next(self) -> None:
        batch, future = self._inflight.popleft()
        if isinstance(batch, int):  # a shared buffer
            # a view of its own (released below) of the media bytes only: a short last chunk stored raw must
            # not take the stale bytes after it in the buffer
            view = _buf(self._slots[batch])[:self._slot_length[batch]]
            try:
                self._store(view, future.result())
            finally:
                view.release()
        else:
            self._store(batch, future.result())

    def drain(self) -> None:
        """Packs what is pending (a last partial batch) and stores every batch still in flight."""
        if self._pending:
            self._submit(bytes(self._pending))
            self._pending.clear()
        while self._inflight:
            self._store_next()

    def close(self) -> None:
        """Ends the compression processes and frees the shared buffers (also after a failure)."""
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None
        self._release_slots()
