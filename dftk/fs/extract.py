"""Safe extraction: files from evidence written under one output folder, whatever their names hold.

Names come from the evidence and may be hostile: ``..``, ``/``, absolute paths, control characters, NUL,
names Windows reserves, names too long for the examiner's file system. Each path component is made safe
by percent-encoding (so the mapping stays reversible and two names never collapse into one), files are
created with O_EXCL (a collision gets a new name, never an overwrite), and every write is checked to
land inside the output folder. ``manifest.jsonl`` maps each original path to what was written.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dftk.errors import DftkError, one_line
from dftk.evidence.base import EvidenceSpec
from dftk.fs.filesystem import FsEntry
from dftk.fs.volumes import Volume
from dftk.fs.walk import open_volume
from dftk.records import Problem

# Characters Windows forbids, the escape itself, and every control or direction character (dftk.text): a
# name with U+202E would show `\u202etxt.exe` as `exe.txt` in a file manager.
_UNSAFE = set('<>:"|?*\\%') | {chr(c) for c in range(32)} | {"\x7f"} | {chr(c) for c in range(0x80, 0xa0)} | set(
    "\u061c\u200e\u200f\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff")
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}
_MAX_NAME = 240  # bytes; leaves room for a collision suffix under the usual 255


def safe_component(name: str) -> str:
    """One path component that is safe on Linux and Windows and cannot climb out of its folder."""
    encoded = "".join((f"%{ord(c):02X}" if ord(c) < 0x100 else f"%u{ord(c):04X}") if c in _UNSAFE else c for c in name)
    encoded = encoded.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    if encoded in ("", ".", "..") or encoded.split(".")[0].lower() in _RESERVED or encoded[-1] in ". ":
        encoded = "_" + encoded
    raw = encoded.encode("utf-8")
    if len(raw) > _MAX_NAME:
        digest = hashlib.sha256(raw).hexdigest()[:12]
        encoded = raw[: _MAX_NAME - 14].decode("utf-8", "ignore") + "~" + digest
    return encoded


def safe_relative(path: str) -> Path:
    """The evidence path as a relative path of safe components (empty components dropped)."""
    parts = [safe_component(p) for p in path.split("/") if p]
    return Path(*parts) if parts else Path("_unnamed")


@dataclass(frozen=True, slots=True)
class ExtractOptions:
    outdir: str
    deleted: bool = False
    pattern: str | None = None
    partitioned: bool = False


def _create(outdir: Path, relative: Path) -> tuple[int, Path]:
    """Creates the file without overwriting anything; a taken name gets ``~2``, ``~3``... before the suffix."""
    target = outdir / relative
    if not target.parent.resolve().is_relative_to(outdir.resolve()):
        raise DftkError(f"refusing to write outside {outdir}: {relative}")
    target.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    for n in range(1, 10_000):
        candidate = target if n == 1 else target.with_name(f"{target.stem}~{n}{target.suffix}")
        try:
            return os.open(candidate, flags, 0o644), candidate
        except FileExistsError:
            continue
    raise DftkError(f"too many files named {relative}")


def extract_volume(spec: EvidenceSpec, volume: Volume, options: ExtractOptions) -> Iterator[dict[str, Any] | Problem]:
    """Writes the selected files of one volume; yields one manifest row per file (runs in a child)."""
    outdir = Path(options.outdir)
    fs = open_volume(spec, volume)
    if isinstance(fs, Problem):
        yield fs
        return
    prefix = f"/p{volume.index}" if options.partitioned else ""
    for entry in fs.walk():
        if isinstance(entry, Problem):
            yield entry
        elif entry.readable and (options.deleted or not entry.deleted):
            original = f"{prefix}/{entry.path}"
            if options.pattern is None or fnmatch.fnmatchcase(original, options.pattern):
                yield _write(fs, entry, original, outdir)


def _write(fs: Any, entry: FsEntry, original: str, outdir: Path) -> dict[str, Any] | Problem:
    relative = safe_relative(original)
    fd, written = _create(outdir, relative)
    digest, size = hashlib.sha256(), 0
    try:
        for chunk in fs.content(entry.inode, entry.attribute, entry.size):
            os.write(fd, chunk)
            digest.update(chunk)
            size += len(chunk)
    except OSError as e:
        return Problem(original, f"content unreadable after {size} bytes; partial file kept at "
                                 f"{written.relative_to(outdir)}: {one_line(e, 120)}")
    finally:
        os.close(fd)
    if entry.times["mtime"]:
        stamp = entry.times["mtime"].timestamp()
        atime = entry.times["atime"].timestamp() if entry.times["atime"] else stamp
        os.utime(written, (atime, stamp), follow_symlinks=False)
    return {"path": original, "extracted": str(written.relative_to(outdir)), "size": size,
            "sha256": digest.hexdigest(), "inode": entry.inode, "deleted": entry.deleted,
            "volume_offset": entry.volume.offset, "mtime": entry.times["mtime"].isoformat()
            if entry.times["mtime"] else None}
