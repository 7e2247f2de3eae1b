"""Where work units run: in this process, on threads, on a pool of local processes, or on a Dask cluster.

A work unit is a picklable value handed to a top-level function; every executor returns results in the
order the units were given, so ``--workers N`` (or ``--scheduler``) yields exactly what ``--workers 1`` does.
The cluster executor lives in ``cluster.py``, imported only when a scheduler is named (Dask takes a second to
import); it implements :class:`Executor` by its shape, since this module imports it and not the reverse.
"""

from __future__ import annotations

import multiprocessing
import signal
from abc import abstractmethod
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeVar

from dftk.shortcuts import freeze_for_fork, unfreeze

if TYPE_CHECKING:
    from dftk.evidence import Evidence

T = TypeVar("T")
R = TypeVar("R")
_END = object()


class Executor(Protocol):
    """Runs ``fn`` over work units, yielding results in unit order with a bounded number in flight.

    A protocol, so the cluster executor fits it without importing this module (which imports it); the local
    executors subclass it and inherit the defaults."""

    workers: int = 1

    @abstractmethod
    def map(self, fn: Callable[[T], R], units: Iterable[T]) -> Iterator[R]: ...

    def close(self, cancel: bool = False) -> None:
        """Releases the workers; with ``cancel``, abandons queued units."""
        return None  # nothing to release for units run here: a default, not an abstract method


class InProcessExecutor(Executor):
    """Runs every unit here, one after another: the reference behaviour."""

    def map(self, fn: Callable[[T], R], units: Iterable[T]) -> Iterator[R]:
        for unit in units:
            yield fn(unit)


def _ignore_interrupt() -> None:
    # Ctrl-C reaches the whole process group; only the main process decides how to stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@dataclass(frozen=True, slots=True)
class UnitCrashed:
    """The result of a unit whose worker process died (a crash in native code): the unit and why."""

    unit: object
    reason: str


class LocalProcessExecutor(Executor):
    """A pool of local worker processes (spawned, so workers open their own evidence handles).

    A worker that dies takes only its unit with it: that unit's result is ``UnitCrashed``, the pool is
    started again and the units that were queued behind it run as usual.
    """

    def __init__(self, workers: int, start: str = "spawn") -> None:
        self.workers = workers
        self.start = start
        self._pool = self._start()

    def _start(self) -> ProcessPoolExecutor:
        if self.start == "fork":
            freeze_for_fork()
        return ProcessPoolExecutor(max_workers=self.workers, mp_context=multiprocessing.get_context(self.start),
                                   initializer=_ignore_interrupt)

    def map(self, fn: Callable[[T], R], units: Iterable[T]) -> Iterator[R | UnitCrashed]:  # type: ignore[override]
        queue: deque[tuple[T, Future[R]]] = deque()
        source = iter(units)
        while True:
            while len(queue) < self.workers * 3:
                following = next(source, _END)
                if following is _END:
                    break
                queue.append((following, self._submit(fn, following)))  # type: ignore[arg-type]
            if not queue:
                return
            unit, future = queue.popleft()
            try:
                yield future.result()
            except BrokenProcessPool:
                # Every unit in flight fails with the pool. Run each of them again alone, in order, so only
                # the one that really crashes is blamed; then carry on with a fresh pool.
                pending = [unit, *(u for u, _ in queue)]
                queue.clear()
                self._restart()
                for suspect in pending:
                    yield self._alone(fn, suspect)

    def _submit(self, fn: Callable[[T], R], unit: T) -> Future[R]:
        try:
            return self._pool.submit(fn, unit)
        except BrokenProcessPool as e:  # the pool broke while units were being handed out
            failed: Future[R] = Future()
            failed.set_exception(e)
            return failed

    def _alone(self, fn: Callable[[T], R], unit: T) -> R | UnitCrashed:
        try:
            return self._pool.submit(fn, unit).result()
        except BrokenProcessPool as e:
            self._restart()
            return UnitCrashed(unit, f"worker process died ({e})")

    def _restart(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = self._start()

    def close(self, cancel: bool = False) -> None:
        self._pool.shutdown(wait=not cancel, cancel_futures=cancel)
        if self.start == "fork":
            unfreeze()


class ThreadExecutor(Executor):
    """Runs units on threads of this process, results in unit order: for work that releases the GIL
    (YARA matching, reading loose files), where a process pool would only add start-up and pickling."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dftk")

    def map(self, fn: Callable[[T], R], units: Iterable[T]) -> Iterator[R]:
        queue: deque[Future[R]] = deque()
        for unit in units:
            queue.append(self._pool.submit(fn, unit))
            if len(queue) > self.workers * 2:
                yield queue.popleft().result()
        while queue:
            yield queue.popleft().result()

    def close(self, cancel: bool = False) -> None:
        self._pool.shutdown(wait=not cancel, cancel_futures=cancel)



def in_workers(workers: int, evidence: Evidence, scheduler: str | None = None) -> bool:
    """Whether units for this evidence run in worker processes (whose death costs only their unit), not here:
    evidence held in memory cannot be handed to another process."""
    return (workers > 1 or scheduler is not None) and evidence.format != "bytes"


def executor_for(workers: int, evidence: Evidence, *, threads: bool = False, fork: bool = False,
                 scheduler: str | None = None) -> Executor:
    """The executor for ``--workers N`` or ``--scheduler ADDRESS``: in this process for 1 worker (or evidence
    in memory, which no other process can open); on the Dask cluster a scheduler names; else threads of this
    process (``threads``: work that releases the GIL, on loose files) or a pool of local processes.

    Workers are spawned (a fresh interpreter that opens its own evidence handles) unless ``fork``: for work
    that only computes from a reopened evidence spec and pure-Python state, forking spares each worker the
    imports a spawn repeats."""
    if not in_workers(workers, evidence, scheduler):
        return InProcessExecutor()
    if scheduler is not None:
        from dftk.engine.cluster import DaskExecutor

        return DaskExecutor(scheduler, evidence, UnitCrashed)
    if threads and evidence.format == "logical":
        return ThreadExecutor(workers)
    return LocalProcessExecutor(workers, "fork" if fork else "spawn")


def run_units(fn: Callable[[T], R], units: Iterable[T], workers: int, evidence: Evidence,
              fork: bool = False, scheduler: str | None = None) -> Generator[R | UnitCrashed, None, None]:
    """``fn`` over every unit, on the executor for ``workers`` (or the Dask cluster ``scheduler`` names) and
    the evidence; results in unit order (``UnitCrashed`` for a unit whose worker died). Closing the iterator
    stops the workers."""
    executor = executor_for(workers, evidence, fork=fork, scheduler=scheduler)
    try:
        yield from executor.map(fn, units)
    finally:
        executor.close()
