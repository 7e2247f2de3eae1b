"""Units on a Dask cluster: ``--scheduler tcp://host:8786`` (a running ``dask scheduler``; ``tls://`` with
Dask's own TLS settings) or ``local:N`` (a LocalCluster of N worker processes for this process's lifetime).

- **What travels.** A unit carries the evidence by its spec and each plugin by its class path
  (``units.py``), so a worker opens the evidence by path from storage every worker shares. Only results
  travel back: this process stays the one writer of the case store, taking results in unit order as it
  does from local processes, so streaming and resuming work unchanged.
- **Same evidence everywhere.** Before any unit is handed out, every worker opens the evidence by its spec
  and compares a cheap fingerprint with this process's (sizes, and the SHA-256 of the first and last MiB
  of the files that hold it: hashing it all would cost a full read per worker); one that sees something
  else ends the command with one line naming it. A worker that joins later checks itself before its
  first unit (``_Checked``).
- **Faults are Dask's.** A unit whose worker dies is run again elsewhere by the scheduler; after
  ``distributed.scheduler.allowed-failures`` deaths Dask gives up (``KilledWorker``) and the unit's result
  is the engine's ``UnitCrashed``, which the engine turns into Problems.

Dask is imported here only, and only once a scheduler is named: a plain ``dftk run`` does not pay for it.
``executors.py`` imports this module, so this one does not import it back: the engine's ``UnitCrashed`` is
handed in, and ``DaskExecutor`` fits the ``Executor`` protocol by its shape.
"""

from __future__ import annotations

import atexit
import hashlib
import importlib.util
import logging
import os
import re
import sys
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dftk import __version__
from dftk.errors import DftkError, EvidenceError, one_line
from dftk.evidence import Evidence, EvidenceSpec, open_read_only, reopen

ALLOWED_FAILURES = 2  # worker deaths a unit may cause on a local cluster before it is reported (3 tries)
IN_FLIGHT = 3  # units handed out per worker, as the local process pool does: workers never wait for work
EDGE = 1 << 20  # the first and last MiB of a file go into its fingerprint
SAMPLED = 16  # files whose edges are read: every segment of an image, a bounded read for a folder of many
NEEDS_DASK = "--scheduler needs Dask: pip install 'dftk[cluster]'"
LOCAL = re.compile(r"local:([1-9][0-9]{0,2})")


def require_dask() -> None:
    """Raises the one line that says how to get Dask when it is missing (checked as ``--scheduler`` is parsed,
    before a command touches evidence or case)."""
    _dask()


def _dask() -> tuple[Any, Any]:
    """The ``dask`` and ``distributed`` modules, or the one line that says how to get them."""
    try:
        import dask
        import distributed
    except ImportError as e:
        raise DftkError(NEEDS_DASK) from e
    return dask, distributed


# --- the evidence every worker must see -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What a process sees of the evidence: cheap to take, and different for a wrong, partial or stale copy.

    Attributes:
        version: the dftk that will run the units (a worker with another version may find other things).
        size: the media size (for a folder, the sum of its files' sizes).
        listing: the SHA-256 over every stored file's name and size.
        edges: for up to ``SAMPLED`` stored files (first and last among them): name, size, and the SHA-256 of
            its first and last MiB.
    """

    version: str
    size: int
    listing: str
    edges: tuple[tuple[str, int, str], ...]


def fingerprint(evidence: Evidence) -> Fingerprint:
    """The evidence's fingerprint as this process sees it."""
    stored = [(name, path) for name, path in evidence.stored_files()]
    listing = hashlib.sha256()
    for name, path in stored:
        listing.update(f"{name}\0{path.stat().st_size}\0".encode())
    count = len(stored)
    picked = sorted({i * (count - 1) // (SAMPLED - 1) for i in range(SAMPLED)}) if count > SAMPLED else range(count)
    edges = tuple((stored[i][0], *_edges(stored[i][1])) for i in picked)
    return Fingerprint(__version__, evidence.size, listing.hexdigest(), edges)


def _edges(path: Path) -> tuple[int, str]:
    """A file's size (a device's too) and the SHA-256 of its first and last MiB."""
    fd = open_read_only(path)
    try:
        size = os.lseek(fd, 0, os.SEEK_END)
        digest = hashlib.sha256(os.pread(fd, min(EDGE, size), 0))
        if size > EDGE:
            tail = max(EDGE, size - EDGE)
            digest.update(os.pread(fd, size - tail, tail))
        return size, digest.hexdigest()
    finally:
        os.close(fd)


def difference(seen: Fingerprint, expected: Fingerprint) -> str | None:
    """What a worker sees differently (``seen``) from this process (``expected``), in a few words."""
    if seen.version != expected.version:
        return f"it runs dftk {seen.version}, this client dftk {expected.version}"
    if seen.size != expected.size:
        return f"{seen.size} bytes there, {expected.size} here"
    for (name, size, digest), (want_name, want_size, want) in zip(seen.edges, expected.edges, strict=False):
        if name != want_name:
            return f"{name} there where {want_name} is here"
        if size != want_size:
            return f"{name}: {size} bytes there, {want_size} here"
        if digest != want:
            return f"{name}: its first or last MiB differs"
    if seen.listing != expected.listing or len(seen.edges) != len(expected.edges):
        return "the names or sizes of the files that hold it differ"
    return None


_checked: set[str] = set()  # in a worker: the runs (tokens) for which this process has seen the evidence


def verify(spec: EvidenceSpec, expected: Fingerprint, token: str) -> str | None:
    """Run on a worker: None when it sees the evidence as ``expected`` (remembered for the run ``token``),
    else what differs."""
    try:
        seen = fingerprint(reopen(spec))
    except (DftkError, OSError) as e:
        return f"cannot open it: {one_line(e)}"
    found = difference(seen, expected)
    if found is None:
        _checked.add(token)
    return found


def mismatch(path: str, worker: str, found: str) -> str:
    """The one line that stops a command whose evidence a worker sees differently."""
    return f"{path}: Dask worker {worker} does not see the same evidence: {found} (docs/cluster.md)"


@dataclass(frozen=True, slots=True)
class _Checked:
    """A unit's function that first makes sure, once per worker process and run, that the worker sees the
    evidence: the check before dispatch covers the workers present then, this one those that join later."""

    fn: Callable[[Any], Any]
    spec: EvidenceSpec
    expected: Fingerprint
    token: str

    def __call__(self, unit: Any) -> Any:
        """The unit's result, once this process has seen the evidence as the client does.

        Raises:
            EvidenceError: this worker sees other evidence, named in one line.
        """
        if self.token not in _checked:
            found = verify(self.spec, self.expected, self.token)
            if found is not None:
                raise EvidenceError(mismatch(self.spec.path, _worker_address(), found))
        return self.fn(unit)


def _worker_address() -> str:
    """This worker's address, as the scheduler names it."""
    from distributed import get_worker

    try:
        return str(get_worker().address)
    except ValueError:  # not inside a Dask worker (a unit run directly)
        return f"process {os.getpid()}"


# --- the cluster ----------------------------------------------------------------------------------


class Session:
    """A client of one Dask cluster for this process's lifetime, and the local cluster it started, if any."""

    def __init__(self, address: str) -> None:
        """Connects to the scheduler at ``address`` (``local:N``: starts the cluster first).

        Raises:
            DftkError: Dask is missing, or the scheduler cannot be used (one line saying why).
        """
        dask, distributed = _dask()
        self.requested = address
        local = LOCAL.fullmatch(address)
        if not local:
            _check_tls(distributed, address)
        self.cluster = _local_cluster(dask, distributed, int(local.group(1))) if local else None
        try:
            self.client = distributed.Client(self.cluster or address, set_as_default=False)
        except Exception as e:  # noqa: BLE001 - whatever stops the connection, the examiner gets one line
            self._close_cluster()
            raise DftkError(f"cannot use the Dask scheduler at {address}: {one_line(e)}") from e
        self.address = str(self.client.scheduler.address)
        self._announce()

    def describe(self) -> dict[str, Any]:
        """The scheduler and worker count, as a run's custody event records them."""
        return {"scheduler": self.requested, "address": self.address, "workers": len(self.client.nthreads())}

    def check(self, evidence: Evidence) -> tuple[int, Fingerprint, str]:
        """Makes sure every worker runs one unit at a time and sees the evidence as this process does.

        Returns:
            the number of workers, the evidence's fingerprint, and the token of this check (a worker that
            joins later checks itself against them before its first unit).

        Raises:
            EvidenceError: a worker cannot open the evidence or sees other bytes, named in one line.
            DftkError: no worker, or one that runs several threads.
        """
        threads = self.client.nthreads()
        if not threads:
            raise DftkError(f"no Dask worker is connected to the scheduler at {self.address}")
        for worker, count in sorted(threads.items()):
            if count > 1:  # units share the evidence's handles and TSK's state: one at a time per process
                raise DftkError(f"Dask worker {worker} runs {count} threads; dftk needs one unit per worker "
                                "process: start workers with `dask worker ADDRESS --nthreads 1 --nworkers N`")
        expected, token = fingerprint(reopen(evidence.spec)), uuid.uuid4().hex
        answers = self.client.run(verify, evidence.spec, expected, token, on_error="return")
        for worker, answer in sorted(answers.items()):
            found = f"the check failed: {one_line(answer)}" if isinstance(answer, BaseException) else answer
            if found is not None:
                raise EvidenceError(mismatch(evidence.path, worker, found))
        return len(threads), expected, token

    def _announce(self) -> None:
        """The scheduler, its workers and its dashboard, on stderr (stdout holds the command's output)."""
        started = "started a local Dask cluster" if self.cluster is not None else "Dask cluster"
        link = str(self.client.dashboard_link)
        if importlib.util.find_spec("bokeh") is None:
            link += " (served once bokeh is installed)"
        print(f"dftk: {started}: scheduler {self.address}, {len(self.client.nthreads())} worker(s), "
              f"dashboard {link}", file=sys.stderr, flush=True)

    def close(self) -> None:
        """Disconnects, and stops the local cluster if this session started one."""
        self.client.close()
        self._close_cluster()

    def _close_cluster(self) -> None:
        """Stops the local cluster this session started, if any."""
        if self.cluster is not None:
            self.cluster.close()


def _check_tls(distributed: Any, address: str) -> None:
    """Refuses a ``tls://`` scheduler when Dask's configuration holds no client certificate: the client would
    fail, and a client that failed to start hangs the process for a minute at exit (distributed 2026.11)."""
    if not address.startswith("tls://"):
        return
    try:
        context = distributed.security.Security().get_connection_args("client")["ssl_context"]
    except (OSError, ValueError) as e:  # a named file that is missing or not a certificate
        raise DftkError(f"cannot use the Dask scheduler at {address}: Dask's TLS settings: {one_line(e)}") from e
    if context is None:
        raise DftkError(f"cannot use the Dask scheduler at {address}: no TLS certificates in Dask's settings "
                        "(distributed.comm.tls.ca-file, .client.cert and .client.key; docs/cluster.md)")


def _local_cluster(dask: Any, distributed: Any, workers: int) -> Any:
    """A LocalCluster of worker processes with one thread each, on this host only."""
    settings = {
        "distributed.scheduler.allowed-failures": ALLOWED_FAILURES,
        # one unit per worker at a time: when a worker dies, only the unit it was running is blamed
        "distributed.scheduler.worker-saturation": 1.0,
    }
    with dask.config.set(settings):
        return distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                                        dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR)


_sessions: dict[str, Session] = {}


def session(address: str) -> Session:
    """The session for a scheduler address, connected (or its local cluster started) on first use and kept
    until this process ends (or :func:`close_sessions`)."""
    if address not in _sessions:
        if not _sessions:
            atexit.register(close_sessions)
        _sessions[address] = Session(address)
    return _sessions[address]


def close_sessions(*addresses: str) -> None:
    """Closes the sessions of these addresses (all by default), stopping the local clusters they started."""
    for address in addresses or list(_sessions):
        if address in _sessions:
            _sessions.pop(address).close()
    if not _sessions:
        atexit.unregister(close_sessions)


# --- the executor ---------------------------------------------------------------------------------


class DaskExecutor:
    """Runs units on a Dask cluster, yielding results in unit order with a bounded number in flight (the
    engine's ``Executor``); a unit whose workers kept dying yields ``crashed(unit, reason)``."""

    def __init__(self, address: str, evidence: Evidence, crashed: Callable[[Any, str], Any]) -> None:
        """Connects (once per process and address) and checks every worker against the evidence.

        Args:
            crashed: makes the result of a unit Dask gave up on (the engine's ``UnitCrashed``).
        """
        _, distributed = _dask()
        self._distributed = distributed
        self.session = session(address)
        self.client = self.session.client
        self.workers, expected, token = self.session.check(evidence)
        self.crashed = crashed
        self._checked = (evidence.spec, expected, token)
        self._pending: set[Any] = set()  # futures handed out and not taken back yet

    def map(self, fn: Callable[[Any], Any], units: Iterable[Any]) -> Iterator[Any]:
        """``fn`` over the units on the workers: results in unit order, ``crashed(unit, reason)`` for a unit
        Dask gave up on; at most ``IN_FLIGHT`` units per worker are out at once."""
        task = _Checked(fn, *self._checked)
        # unique per call (Dask takes a known key for the same task), readable on the dashboard
        name = f"dftk-{getattr(fn, '__name__', 'unit')}-{uuid.uuid4().hex[:12]}"
        queue: deque[tuple[Any, Any]] = deque()
        source = iter(units)
        handed = 0
        while True:
            for unit in source:
                # earlier units first, since the engine takes results in unit order
                future = self.client.submit(task, unit, key=f"{name}-{handed}", priority=-handed)
                handed += 1
                self._pending.add(future)
                queue.append((unit, future))
                if len(queue) >= self.workers * IN_FLIGHT:
                    break
            if not queue:
                return
            yield self._result(*queue.popleft())

    def _result(self, unit: Any, future: Any) -> Any:
        """A unit's result once it is back, its future released so the scheduler forgets the task."""
        try:
            return future.result()
        except self._distributed.KilledWorker as e:
            return self.crashed(unit, _died(e))
        finally:
            self._pending.discard(future)
            future.release()

    def close(self, cancel: bool = False) -> None:
        """Takes back the units still out: with ``cancel`` they are dropped (one running on a worker ends
        there, unseen), else waited for, as the local pool does (a carve's workers write files)."""
        pending, self._pending = list(self._pending), set()
        if not pending:
            return
        if cancel:
            self.client.cancel(pending)
        else:
            self._distributed.wait(pending)
        for future in pending:
            future.release()


def _died(error: Any) -> str:
    """A ``KilledWorker`` in a few words, for the Problem of each file the unit held."""
    last = getattr(error.last_worker, "address", error.last_worker)
    return f"worker process died on each of {error.allowed_failures + 1} tries (the last on {last})"
