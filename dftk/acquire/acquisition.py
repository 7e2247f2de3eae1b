"""Imaging: copy a source (block device or file) to raw, split raw or E01, hashing while imaging.

Read errors are retried, then the failed block is re-read sector by sector so that only the unreadable
sectors are zero-filled; their ranges go into the acquisition log and the result is "qualified", never
"verified". A source that disappears (device gone) is an error, not a bad sector. The log (JSON and text,
beside the destination) is written when the run starts, kept up to date while it runs, and completed at
the end, so an interrupted acquisition can be continued with ``resume``: raw from the bytes the log
records, E01 from the last checkpoint found in the image itself (see :mod:`dftk.ewfwrite`); both re-hash
what was already written, so the hashes are those of an uninterrupted run.
"""

from __future__ import annotations

import errno
import json
import os
import platform
import stat
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from dftk import __version__
from dftk.errors import DftkError, SignatureError
from dftk.evidence.base import open_read_only
from dftk.evidence.opening import open_evidence
from dftk.ewf.writer import CHECKPOINT, CaseFields, EwfWriter, default_workers, segment_name
from dftk.hashing.multihash import BufferRing, MultiHasher, hasher_pool, read_fd

BLOCK = 8 << 20
_FLUSH_EVERY = 32 << 20  # raw: start writeback every so many bytes
_GONE = {errno.ENODEV, errno.ENXIO, errno.ENOENT, errno.ENOMEDIUM, errno.EBADF, errno.ESHUTDOWN}


class AcquisitionError(DftkError):
    """The acquisition cannot go on: source vanished, destination full or unwritable, bad resume."""


class Source(Protocol):
    """What imaging reads: a size, a sector size and positioned reads that raise OSError on failure."""

    path: str
    size: int
    sector_size: int

    def read(self, offset: int, length: int) -> bytes: ...

    def close(self) -> None: ...


class FileSource:
    """A block device or an image file, opened read-only."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)
        try:
            self._fd = open_read_only(path)
            self.is_device = stat.S_ISBLK(os.fstat(self._fd).st_mode)
            self.size = os.lseek(self._fd, 0, os.SEEK_END)
        except OSError as e:
            raise AcquisitionError(f"{path}: cannot open source: {e.strerror or e}") from e
        self.sector_size = _sector_size(path) if self.is_device else 512

    def read(self, offset: int, length: int) -> bytes:
        return os.pread(self._fd, length, offset)

    def readinto(self, offset: int, view: memoryview) -> int:
        """Reads into ``view`` (no allocation); returns the bytes read."""
        return os.preadv(self._fd, [view], offset)

    def close(self) -> None:
        os.close(self._fd)

    def identity(self) -> dict[str, Any]:
        ident: dict[str, Any] = {"path": self.path, "size": self.size, "sector_size": self.sector_size,
                                 "device": self.is_device}
        if self.is_device:
            ident.update(_device_model_serial(Path(self.path)))
        return ident


def _sector_size(path: Path) -> int:
    with open_evidence(path, "device") as ev:
        return ev.sector_size


def _device_model_serial(path: Path) -> dict[str, str]:
    name = path.resolve().name
    found = {}
    for key, rel in (("model", "device/model"), ("serial", "device/serial"), ("serial", "serial")):
        try:
            value = (Path("/sys/class/block") / name / rel).read_text().strip()
        except OSError:
            continue
        if value and key not in found:
            found[key] = value
    return found


# --- reading with retries -------------------------------------------------------------------------


@dataclass(slots=True)
class BadRange:
    """Sectors ``[start, start + count)`` that could not be read, zero-filled in the image."""

    start: int
    count: int
    error: str


def _read_exact(source: Source, offset: int, length: int) -> bytes:
    try:
        data = source.read(offset, length)
    except OSError as e:
        if e.errno in _GONE:
            raise AcquisitionError(f"{source.path}: source vanished at byte {offset}: {e.strerror or e}") from e
        raise
    if len(data) != length:
        raise AcquisitionError(f"{source.path}: source vanished or shrank: read {len(data)} of {length} "
                               f"bytes at byte {offset}")
    return data


def read_block(source: Source, offset: int, length: int, retries: int, bad: list[BadRange]) -> bytes:
    """Reads one block, retrying ``retries`` times; then sector by sector, zero-filling what fails."""
    for _ in range(retries + 1):
        try:
            return _read_exact(source, offset, length)
        except OSError:
            continue
    return _read_sectors(source, offset, length, bad)


def read_block_into(source: Source, offset: int, view: memoryview, retries: int, bad: list[BadRange]) -> None:
    """:func:`read_block` into a buffer: the same retries and sector-by-sector fallback, without allocating
    when the source can read into a buffer (:class:`FileSource`)."""
    readinto = getattr(source, "readinto", None)
    if readinto is None:
        view[:] = read_block(source, offset, len(view), retries, bad)
        return
    for _ in range(retries + 1):
        try:
            n = readinto(offset, view)
        except OSError as e:
            if e.errno in _GONE:
                raise AcquisitionError(f"{source.path}: source vanished at byte {offset}: {e.strerror or e}") from e
            continue
        if n != len(view):
            raise AcquisitionError(f"{source.path}: source vanished or shrank: read {n} of {len(view)} "
                                   f"bytes at byte {offset}")
        return
    view[:] = _read_sectors(source, offset, len(view), bad)


def _read_sectors(source: Source, offset: int, length: int, bad: list[BadRange]) -> bytes:
    size = source.sector_size
    out = bytearray()
    for at in range(offset, offset + length, size):
        want = min(size, offset + length - at)
        try:
            out += _read_exact(source, at, want)
        except OSError as e:
            out += bytes(want)
            _add_bad(bad, at // size, e.strerror or str(e))
    return bytes(out)


def _add_bad(bad: list[BadRange], sector: int, error: str) -> None:
    last = bad[-1] if bad else None
    if last and last.start + last.count == sector and last.error == error:
        last.count += 1
    else:
        bad.append(BadRange(sector, 1, error))


# --- destinations ---------------------------------------------------------------------------------


class RawSink:
    """A raw image, or split raw (``DEST.001``, ``DEST.002``... of ``split`` bytes each)."""

    def __init__(self, dest: Path, split: int | None, resume_at: int = 0) -> None:
        self.dest, self.split = dest, split
        self.start = resume_at
        self.paths: list[Path] = []
        self._fd = -1
        self._room = 0
        self._unflushed = 0
        self._flusher: ThreadPoolExecutor | None = None
        self._flushing: Future[None] | None = None
        if resume_at:
            self._reopen(resume_at)

    def _name(self, index: int) -> Path:
        return self.dest.with_name(f"{self.dest.name}.{index + 1:03d}") if self.split else self.dest

    def _next(self, flags: int = os.O_CREAT | os.O_EXCL) -> None:
        self._stop_writeback()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        path = self._name(len(self.paths))
        try:
            self._fd = os.open(path, os.O_WRONLY | flags | getattr(os, "O_CLOEXEC", 0), 0o644)
        except OSError as e:
            raise AcquisitionError(f"{path}: cannot create destination: {e.strerror or e}") from e
        self.paths.append(path)
        self._room = self.split or 1 << 62

    def _reopen(self, done: int) -> None:
        per = self.split or done
        for index in range(-(-done // per)):
            self._next(flags=0)
            keep = min(per, done - index * per)
            os.ftruncate(self._fd, keep)
            os.lseek(self._fd, keep, os.SEEK_SET)
            self._room = per - keep if self.split else 1 << 62

    def write(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        while len(view):
            if self._room == 0 or self._fd < 0:
                self._next()
            n = self._write(view[: self._room])
            view = view[n:]
            self._room -= n
            self._unflushed += n
            if self._unflushed >= _FLUSH_EVERY:
                self._start_writeback()

    def _start_writeback(self) -> None:
        """Starts writing the recent bytes to disk and lets the kernel drop the pages already written (on a
        helper thread: the kernel may block while it queues the writes), so the final fsync has little
        left to wait for and the page cache is recycled instead of growing."""
        self._unflushed = 0
        if not hasattr(os, "posix_fadvise"):
            return
        pos = os.lseek(self._fd, 0, os.SEEK_CUR)
        lo = max(0, pos - 4 * _FLUSH_EVERY)
        if self._flusher is None:
            self._flusher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="writeback")
        if self._flushing is None or self._flushing.done():  # never queue up: skip while one is running
            self._flushing = self._flusher.submit(os.posix_fadvise, self._fd, lo, pos - lo,
                                                  os.POSIX_FADV_DONTNEED)

    def _stop_writeback(self) -> None:
        if self._flusher is not None:
            self._flusher.shutdown(wait=True)
            self._flusher = None
        self._flushing = None

    def _write(self, view: memoryview) -> int:
        try:
            return os.write(self._fd, view)
        except OSError as e:
            full = " (destination full)" if e.errno in (errno.ENOSPC, errno.EDQUOT) else ""
            raise AcquisitionError(f"{self.paths[-1]}: cannot write{full}: {e.strerror or e}; nothing after "
                                   "this point was written; free space and run again with --resume") from e

    def finish(self, hashes: dict[str, str], bad: list[BadRange]) -> list[Path]:
        self.close()
        return self.paths

    def close(self) -> None:
        self._stop_writeback()
        if self._fd >= 0:
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = -1


class E01Sink:
    """The E01 writer behind the same interface as :class:`RawSink`; with ``resume_limit``, continues the
    partial image from its last checkpoint within that many bytes (:attr:`start`)."""

    def __init__(self, dest: Path, source: Source, options: Options, physical: bool,
                 resume_limit: int | None = None) -> None:
        base = dest.with_suffix("") if dest.suffix.lower() == ".e01" else dest
        self.first = segment_name(base, 1)
        self.writer = EwfWriter(base, source.size, source.sector_size, options.fields, options.compression,
                                options.split, physical, options.workers, checkpoint=options.checkpoint,
                                resume_limit=resume_limit)
        self.start = self.writer.done

    def write(self, data: bytes) -> None:
        self.writer.write(data)

    def finish(self, hashes: dict[str, str], bad: list[BadRange]) -> list[Path]:
        return self.writer.finish(hashes["md5"], hashes["sha1"], [(b.start, b.count) for b in bad])

    def close(self) -> None:
        self.writer.close()

    def interrupt(self) -> None:
        """Closes after a failure, keeping what was written as a last checkpoint when it can."""
        self.writer.interrupt()


# --- the acquisition ------------------------------------------------------------------------------


@dataclass(slots=True)
class Options:
    fmt: str = "raw"
    split: int | None = None
    algorithms: tuple[str, ...] = ("md5", "sha256")
    compression: str = "fast"
    fields: CaseFields = field(default_factory=CaseFields)
    retries: int = 2
    verify: bool = False
    resume: bool = False
    workers: int = field(default_factory=default_workers)
    block: int = BLOCK
    checkpoint: int = CHECKPOINT  # progress made durable every so many bytes (raw: log; E01: a table too)
    command_line: str = ""


def log_path(dest: Path) -> Path:
    """The JSON acquisition log beside the destination (the text log has ``.txt`` instead)."""
    return dest.with_name(f"{dest.name}.acquire.json")


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def acquire(source: Source, dest: Path, options: Options,
            observer: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Images ``source`` to ``dest`` and returns the acquisition log (also written beside ``dest``).

    Args:
        observer: called with (bytes just done, bad ranges so far) after every block.

    Raises:
        AcquisitionError: source vanished, destination unwritable or full, impossible resume.
        SignatureError: ``verify`` found the written image differs.
    """
    algorithms = _algorithms_for(options)
    if options.fmt == "e01" and source.size % source.sector_size:
        raise AcquisitionError(f"{source.path}: E01 stores whole sectors and the source size {source.size} is "
                               f"not a multiple of {source.sector_size} bytes (use --format raw)")
    log, start = _begin(source, dest, options, algorithms)
    sink = _sink(source, dest, options, start)
    if options.resume:
        start = sink.start
        _note_resume(log, dest, start, source.sector_size, algorithms)
    bad = [BadRange(**b) for b in log["bad_sectors"]]
    done = [start]  # raw: bytes written; E01: bytes read (the bad sectors known up to there)
    if isinstance(sink, E01Sink):  # the log must cover every chunk a checkpoint keeps
        sink.writer.on_checkpoint = lambda: _progress_save(log, dest, done[0], bad)
    with hasher_pool(algorithms) as pool:
        hasher = MultiHasher(algorithms, None, pool)
        try:
            if start:
                _rehash(sink, start, hasher)
            if isinstance(sink, RawSink):
                _copy_raw(source, sink, hasher, done, options, bad, log, dest, observer)
            else:
                _copy_e01(source, sink, hasher, done, options, bad, observer)
        except BaseException:
            _interrupted(sink, log, dest, done[0], bad)
            raise
        hashes, _ = hasher.result()
    log["files"] = [str(p) for p in sink.finish(hashes, bad)]
    return _complete(log, hashes, bad, dest, options)


def _interrupted(sink: RawSink | E01Sink, log: dict[str, Any], dest: Path, done: int, bad: list[BadRange]) -> None:
    """Leaves what ``--resume`` continues from: the raw log's bytes done; the E01's last checkpoint."""
    if isinstance(sink, RawSink):
        sink.close()
        _progress_save(log, dest, done, bad)
    else:
        sink.interrupt()


def _algorithms_for(options: Options) -> tuple[str, ...]:
    if options.fmt == "e01":  # the E01 stores MD5 and SHA1: always compute them
        return tuple(dict.fromkeys(("md5", "sha1", *options.algorithms)))
    return options.algorithms


def _begin(source: Source, dest: Path, options: Options, algorithms: tuple[str, ...]) -> tuple[dict[str, Any], int]:
    if options.resume:
        resumed = _load_for_resume(source, dest, options)
        return resumed, int(resumed["bytes_done"])
    if log_path(dest).exists():
        raise AcquisitionError(f"{log_path(dest)}: an acquisition log already exists: use --resume to continue "
                               "it, or choose another destination")
    first = _first_output(dest, options)
    if first.exists():
        raise AcquisitionError(f"{first}: destination already exists; dftk never overwrites an image")
    identity = source.identity() if isinstance(source, FileSource) else {
        "path": source.path, "size": source.size, "sector_size": source.sector_size}
    log: dict[str, Any] = {
        "tool": f"dftk {__version__}", "command_line": options.command_line, "platform": platform.platform(),
        "source": identity, "destination": str(dest), "format": options.fmt, "split": options.split,
        "compression": options.compression if options.fmt == "e01" else None, "algorithms": list(algorithms),
        "start": utc_now(), "end": None, "status": "incomplete", "bytes_done": 0, "bad_sectors": [],
        "hashes": {}, "verification": None, "files": [], "resumed": [],
        "case_fields": _case_fields(options) if options.fmt == "e01" else None,
    }
    _save(log, dest)
    return log, 0


def _load_for_resume(source: Source, dest: Path, options: Options) -> dict[str, Any]:
    """The log of the interrupted run, checked against this one; ``bytes_done`` is where a raw image goes
    on, and the most an E01 may keep (its last checkpoint within that is found in the image)."""
    path = log_path(dest)
    try:
        log: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise AcquisitionError(f"{path}: cannot resume: no readable acquisition log ({e})") from e
    if not isinstance(log, dict) or log.get("status") != "incomplete":
        status = log.get("status") if isinstance(log, dict) else "unreadable"
        raise AcquisitionError(f"{path}: nothing to resume: that acquisition is {status}")
    differ = _resume_differences(log, source, options)
    if differ:
        raise AcquisitionError(f"{path}: cannot resume: {', '.join(differ)} differ from the first run; give the "
                               "same source and options, or acquire to another destination")
    if options.fmt == "raw":
        written = sum(p.stat().st_size for p in _raw_files(dest, options.split))
        done = min(int(log["bytes_done"]), written)
        log["bytes_done"] = done - done % options.block
    return log


def _resume_differences(log: dict[str, Any], source: Source, options: Options) -> list[str]:
    """What this run would change in an image the first run started (the hash algorithms may change:
    everything is re-hashed)."""
    old = log.get("source") or {}
    ident = source.identity() if isinstance(source, FileSource) else {}
    checks = [("--format", log.get("format"), options.fmt), ("source size", old.get("size"), source.size),
              ("sector size", old.get("sector_size"), source.sector_size), ("--split", log.get("split"), options.split)]
    checks += [(f"source {k}", old[k], ident[k]) for k in ("model", "serial") if k in old and k in ident]
    if options.fmt == "e01":
        checks += [("--compression", log.get("compression"), options.compression)]
        fields = log.get("case_fields") or {}
        checks += [(f"--{k.replace('_', '-')}", v, _case_fields(options)[k]) for k, v in fields.items()]
    return [name for name, before, now in checks if before != now]


def _case_fields(options: Options) -> dict[str, str]:
    """The case fields an E01's header keeps from its first run (the acquisition time aside)."""
    f = options.fields
    return {"case_number": f.case_number, "evidence_number": f.evidence_number, "examiner": f.examiner,
            "description": f.description, "notes": f.notes}


def _note_resume(log: dict[str, Any], dest: Path, start: int, sector_size: int, algorithms: tuple[str, ...]) -> None:
    log["bytes_done"] = start
    log["bad_sectors"] = [b for b in log["bad_sectors"] if b["start"] * sector_size < start]
    log["algorithms"] = list(algorithms)
    log["resumed"].append({"at": utc_now(), "from_byte": start})
    _save(log, dest)


def _first_output(dest: Path, options: Options) -> Path:
    if options.fmt == "e01":
        return segment_name(dest.with_suffix("") if dest.suffix.lower() == ".e01" else dest, 1)
    return dest.with_name(f"{dest.name}.001") if options.split else dest


def _raw_files(dest: Path, split: int | None) -> list[Path]:
    if not split:
        return [dest] if dest.exists() else []
    files: list[Path] = []
    while (p := dest.with_name(f"{dest.name}.{len(files) + 1:03d}")).exists():
        files.append(p)
    return files


def _sink(source: Source, dest: Path, options: Options, start: int) -> RawSink | E01Sink:
    if options.fmt == "e01":
        return E01Sink(dest, source, options, isinstance(source, FileSource) and source.is_device,
                       start if options.resume else None)
    return RawSink(dest, options.split, start)


def _rehash(sink: RawSink | E01Sink, start: int, hasher: MultiHasher) -> None:
    """Hashes what the interrupted run wrote: the raw files, or the E01's kept chunks decompressed."""
    if isinstance(sink, E01Sink):
        for data in sink.writer.written_media():
            hasher.update(data)
        return
    left = start
    for path in sink.paths:
        fd = open_read_only(path)
        try:
            for data in read_fd(fd):
                take = data[:left]
                hasher.update(take)
                left -= len(take)
        finally:
            os.close(fd)


def _copy_raw(source: Source, sink: RawSink, hasher: MultiHasher, done: list[int], options: Options,
              bad: list[BadRange], log: dict[str, Any], dest: Path,
              observer: Callable[[int, int], None] | None) -> None:
    """Reads each block into a reused buffer, hands it to the hash threads and writes it from the same
    buffer meanwhile (os.write releases the GIL); the buffer is reused once its hashing is done."""
    saved = done[0]
    ring = BufferRing(min(options.block, max(source.size - done[0], 1)))
    try:
        for offset in range(done[0], source.size, options.block):
            index, buf = ring.take()
            view = buf[:min(options.block, source.size - offset)]
            read_block_into(source, offset, view, options.retries, bad)
            ring.hold(index, hasher.submit(view))
            sink.write(view)
            done[0] = offset + len(view)
            if observer is not None:
                observer(len(view), len(bad))
            if done[0] - saved >= options.checkpoint:
                saved = done[0]
                _progress_save(log, dest, saved, bad)
    finally:
        ring.drain()


def _copy_e01(source: Source, sink: E01Sink, hasher: MultiHasher, done: list[int], options: Options,
              bad: list[BadRange], observer: Callable[[int, int], None] | None) -> None:
    """Each block is read into a shared-memory buffer that the hash threads and the compression processes
    both read (no copies); without shared memory, fresh bytes go to both."""
    writer = sink.writer
    for offset in range(done[0], source.size, options.block):
        length = min(options.block, source.size - offset)
        slot = writer.take_buffer(length)
        if slot is None:
            data = read_block(source, offset, length, options.retries, bad)
            done[0] = offset + length
            hasher.update(data)
            writer.write(data)
        else:
            index, view = slot
            try:
                read_block_into(source, offset, view, options.retries, bad)
            except BaseException:  # Ctrl-C mostly lands in a read: a view left in the traceback would keep
                view.release()  # the shared buffer from being closed
                raise
            done[0] = offset + length
            writer.write_buffer(index, length, hasher.submit(view))
        if observer is not None:
            observer(length, len(bad))


def _progress_save(log: dict[str, Any], dest: Path, done: int, bad: list[BadRange]) -> None:
    log["bytes_done"] = done
    log["bad_sectors"] = [_bad_dict(b) for b in bad]
    _save(log, dest)


def _bad_dict(b: BadRange) -> dict[str, Any]:
    return {"start": b.start, "count": b.count, "error": b.error}


def _complete(log: dict[str, Any], hashes: dict[str, str], bad: list[BadRange], dest: Path,
              options: Options) -> dict[str, Any]:
    log.update(hashes=hashes, bad_sectors=[_bad_dict(b) for b in bad], bytes_done=log["source"]["size"])
    log["status"] = "qualified" if bad else "unverified"
    _save(log, dest)
    if options.verify:
        log["verification"] = verify_written(Path(log["files"][0]), options.fmt, hashes)
        if log["verification"]["outcome"] == "match" and not bad:
            log["status"] = "verified"
    log["end"] = utc_now()
    _save(log, dest)
    if log["verification"] and log["verification"]["outcome"] != "match":
        raise SignatureError(f"{log['files'][0]}: verification failed: the image read back differs from what "
                             "was acquired (see the acquisition log)")
    return log


def verify_written(first: Path, fmt: str, expected: dict[str, str]) -> dict[str, Any]:
    """Re-reads the written image (through the evidence layer, as an examiner's tool would) and compares."""
    evidence_fmt = "e01" if fmt == "e01" else ("split" if first.suffix == ".001" else "raw")
    algorithms = tuple(expected)
    with hasher_pool(algorithms) as pool, open_evidence(first, evidence_fmt) as ev:
        hasher = MultiHasher(algorithms, None, pool)
        for _, data in ev.chunks():
            hasher.update(data)
        computed, _ = hasher.result()
    outcome = "match" if computed == expected else "mismatch"
    return {"compared": f"{', '.join(algorithms)} of the image re-read from {first} "
                        f"({hasher.size} bytes) with the hashes computed while imaging",
            "computed": computed, "outcome": outcome, "time": utc_now()}


# --- the log --------------------------------------------------------------------------------------


def _save(log: dict[str, Any], dest: Path) -> None:
    path = log_path(dest)
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(json.dumps(log, indent=2, ensure_ascii=False) + "\n")
        os.replace(tmp, path)
        path.with_suffix(".txt").write_text(log_text(log))
    except OSError as e:
        raise AcquisitionError(f"{path}: cannot write the acquisition log: {e.strerror or e}") from e


def log_text(log: dict[str, Any]) -> str:
    """The acquisition log for people."""
    src = log["source"]
    lines = [f"dftk acquisition log ({log['tool']})", f"command:     {log['command_line']}",
             f"source:      {src['path']} ({src['size']} bytes, {src['sector_size']}-byte sectors)"]
    lines += [f"{k + ':':<13}{src[k]}" for k in ("model", "serial") if k in src]
    lines += [f"destination: {', '.join(log['files']) or log['destination']} ({log['format']})",
              f"start (UTC): {log['start']}", f"end (UTC):   {log['end'] or '-'}", f"status:      {log['status']}"]
    lines += [f"{a + ':':<13}{h}" for a, h in log["hashes"].items()]
    lines.append(f"unreadable sectors: {sum(b['count'] for b in log['bad_sectors'])} (zero-filled in the image)")
    lines += [f"  sectors {b['start']}-{b['start'] + b['count'] - 1} ({b['count']}): {b['error']}"
              for b in log["bad_sectors"]]
    v = log["verification"]
    lines.append(f"verification: {v['outcome']}: {v['compared']}" if v else "verification: not requested")
    return "\n".join(lines) + "\n"
