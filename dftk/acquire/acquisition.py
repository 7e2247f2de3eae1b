"""Imaging: copy a source (block device or file) to raw, split raw or E01, hashing while imaging.

Read errors are retried, then the failed block is re-read sector by sector so that only the unreadable
sectors are zero-filled; their ranges go into the acquisition log and the result is "qualified", never
"verified". A source that disappears (device gone) is an error, not a bad sector. The log (JSON and text,
beside the destination) is written when the run starts, kept up to date while it runs, and completed at
the end, so an interrupted acquisition can be continued with ``resume``: raw from the bytes the log
records, E01 from the last checkpoint found in the image itself (see :mod:`dftk.ewf.writer`); both re-hash
what was already written, so the hashes are those of an uninterrupted run.

This module runs the acquisition (:func:`acquire`) and keeps its log; what is read is in
:mod:`dftk.acquire.sources`, where it is written in :mod:`dftk.acquire.sinks`, the options in
:mod:`dftk.acquire.options`.
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dftk import __version__, clock
from dftk.acquire.options import Options
from dftk.acquire.sinks import E01Sink, RawSink
from dftk.acquire.sources import AcquisitionError, BadRange, FileSource, Source, read_block, read_block_into
from dftk.errors import SignatureError
from dftk.evidence.base import open_read_only
from dftk.evidence.opening import open_evidence
from dftk.ewf.segments import segment_name
from dftk.hashing.multihash import BufferRing, MultiHasher, hasher_pool, read_fd


def log_path(dest: Path) -> Path:
    """The JSON acquisition log beside the destination (the text log has ``.txt`` instead)."""
    return dest.with_name(f"{dest.name}.acquire.json")


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
        "start": clock.now(), "end": None, "status": "incomplete", "bytes_done": 0, "bad_sectors": [],
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
    log["resumed"].append({"at": clock.now(), "from_byte": start})
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
    log["end"] = clock.now()
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
            "computed": computed, "outcome": outcome, "time": clock.now()}


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
