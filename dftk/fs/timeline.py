"""Timelines: file-system times as a TSK bodyfile (what ``fls -m`` writes and ``mactime`` reads), or
sorted events (CSV, JSON lines) with mactime's m/a/c/b flags."""

from __future__ import annotations

import heapq
import itertools
import json
import tempfile
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dftk.evidence.base import EvidenceSpec
from dftk.fs.filesystem import TYPE_LETTERS, FileSystem, FsEntry
from dftk.fs.volumes import Volume
from dftk.fs.walk import open_volume
from dftk.records import Problem
from dftk.text import field

BODY_FIELDS = ("md5", "name", "inode", "mode", "uid", "gid", "size", "atime", "mtime", "ctime", "crtime")
_PERMS = "rwxrwxrwx"
_RUN = 200_000  # events sorted in memory at a time


def mode_string(entry: FsEntry) -> str:
    """``r/rrw-r--r--``: name type, meta type and permissions, as TSK prints them."""
    meta = TYPE_LETTERS.get(entry.meta_type or "unknown", "-")
    perms = list("".join(c if entry.mode & (1 << (8 - i)) else "-" for i, c in enumerate(_PERMS)))
    for bit, where, on, off in ((0o4000, 2, "s", "S"), (0o2000, 5, "s", "S"), (0o1000, 8, "t", "T")):
        if entry.mode & bit:
            perms[where] = on if perms[where] == "x" else off
    return f"{TYPE_LETTERS.get(entry.name_type, '-')}/{meta}{''.join(perms)}"


def _seconds(value: datetime | None) -> int:
    return int(value.timestamp()) if value else 0


def _row(name: str, inode: str, entry: FsEntry, size: int, times: dict[str, datetime | None]) -> dict[str, Any]:
    return {"md5": "0", "name": name, "inode": inode, "mode": mode_string(entry), "uid": entry.uid & 0xFFFFFFFF,
            "gid": entry.gid & 0xFFFFFFFF, "size": size, **{k: _seconds(times[k]) for k in BODY_FIELDS[7:]},
            "deleted": entry.deleted, "volume_index": entry.volume.index, "fs_type": entry.fs_type,
            "source": "fs"}


def body_rows(spec: EvidenceSpec, volume: Volume, partitioned: bool) -> Iterator[dict[str, Any] | Problem]:
    """The bodyfile rows of one file system (runs in an isolated child); names start with ``/p<N>/``
    on a partitioned disk, as fls -m would write them with that mount point."""
    fs = open_volume(spec, volume)
    if isinstance(fs, Problem):
        yield fs
        return
    seen: set[tuple[int, str]] = set()
    prefix = f"/p{volume.index}/" if partitioned else "/"
    for entry in fs.walk():
        if isinstance(entry, Problem):
            yield entry
            continue
        suffix = " (deleted-realloc)" if entry.reallocated else " (deleted)" if entry.deleted else ""
        base = entry.path.split(":", 1)[0] if entry.attribute else entry.path
        if fs.fs_type.startswith("ntfs") and entry.meta_type and (entry.inode, base) not in seen:
            seen.add((entry.inode, base))
            yield from _file_name_rows(fs, entry, prefix + base, suffix)
        name = prefix + entry.path + (f" -> {entry.link}" if entry.link else "") + suffix
        inode = f"{entry.inode}-{entry.attribute}" if entry.attribute else str(entry.inode)
        yield _row(name, inode, entry, entry.size, entry.times)


def _file_name_rows(fs: FileSystem, entry: FsEntry, base: str, suffix: str) -> Iterator[dict[str, Any]]:
    try:
        names = fs.file_names(entry.inode)
    except OSError:
        return
    for ident, size, times in names:
        row = _row(f"{base} ($FILE_NAME){suffix}", f"{entry.inode}-48-{ident}", entry, size, times)
        row["source"] = "fs:$FILE_NAME"
        yield row


def body_line(row: dict[str, Any]) -> str:
    """One bodyfile line; the name's control characters and pipes shown as ``^`` (as ``fls -m`` shows control
    characters), so a name from the evidence can never add a line or shift a field."""
    return "|".join(field(str(row[f])) if f == "name" else str(row[f]) for f in BODY_FIELDS)


def events(rows: Iterable[dict[str, Any]], dated: Iterable[dict[str, Any]] = ()) -> Iterator[dict[str, Any]]:
    """One event per distinct time of each row, with mactime's flags, plus the times other plugins found
    (``dated``), sorted by time, then path and flags, together (runs sorted in memory, merged from disk)."""
    stream = itertools.chain((event for row in rows for event in _fs_events(row)), dated)
    with tempfile.TemporaryDirectory(prefix="dftk-timeline-") as tmp:
        runs = [_spill(Path(tmp) / f"run{n}", run) for n, run in enumerate(_sorted_runs(stream))]
        for *_, event in heapq.merge(*(_read(run) for run in runs)):
            yield event


def _sorted_runs(stream: Iterator[dict[str, Any]]) -> Iterator[list[tuple[Any, ...]]]:
    for first in range(0, 1 << 62, _RUN):
        run = [(event.pop("t"), event["path"], event["macb"], first + n, event)
               for n, event in enumerate(itertools.islice(stream, _RUN))]
        if not run:
            return
        run.sort(key=lambda item: item[:4])
        yield run


def _spill(path: Path, run: list[tuple[Any, ...]]) -> Path:
    with path.open("w", encoding="utf-8") as out:
        for item in run:
            out.write(json.dumps(item, ensure_ascii=False) + "\n")
    return path


def _read(path: Path) -> Iterator[tuple[Any, ...]]:
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            yield tuple(json.loads(line))


def _fs_events(row: dict[str, Any]) -> Iterator[dict[str, Any]]:
    flags: dict[int, str] = {}
    for letter, key in zip("macb", ("mtime", "atime", "ctime", "crtime"), strict=True):
        if row[key]:
            flags[row[key]] = flags.get(row[key], "") + letter
    for t, letters in flags.items():
        yield {"t": t, "time": datetime.fromtimestamp(t, tz=UTC).isoformat(),
               "macb": "".join(c if c in letters else "." for c in "macb"), "path": row["name"],
               "inode": row["inode"], "size": row["size"], "mode": row["mode"], "deleted": row["deleted"],
               "volume_index": row["volume_index"], "fs_type": row["fs_type"], "source": row["source"]}
