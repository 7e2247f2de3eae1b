"""``dftk hash``: several hashes of files, directories, block devices and E01 media in one read pass."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from dftk.cli.options import case_option
from dftk.errors import INCOMPLETE, DftkError, SignatureError, one_line
from dftk.evidence.base import open_read_only
from dftk.evidence.logical import special_kind
from dftk.evidence.opening import open_evidence
from dftk.hashing.algorithms import ALGORITHMS, parse_algorithms
from dftk.hashing.audit import Audit
from dftk.hashing.hashdeep import hashdeep_header, hashdeep_line, read_hashdeep
from dftk.hashing.multihash import HashPool, MultiHasher, Piece, hash_blocks, hash_fd, hasher_pool
from dftk.records import canonical_json
from dftk.text import json_text, terminal

if TYPE_CHECKING:
    from dftk.engine.progress import Progress

_EVF = b"EVF\x09\x0d\x0a\xff\x00\x01\x01\x00"  # signature and segment number 1


@dataclass(slots=True)
class Hashed:
    name: str
    kind: str
    size: int
    hashes: dict[str, str]
    pieces: list[Piece]


def _algorithms(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, ...]:
    try:
        return parse_algorithms(value)
    except ValueError as e:
        raise click.BadParameter(str(e)) from e


def parse_size(value: str) -> int:
    """``"1M"`` -> 1048576; suffixes K, M, G, T (powers of 1024), plain digits are bytes."""
    text = value.strip().upper().removesuffix("IB").removesuffix("B")
    scale = 1
    if text and text[-1] in "KMGT":
        scale = 1024 ** ("KMGT".index(text[-1]) + 1)
        text = text[:-1]
    if not text.isdigit() or int(text) == 0:
        raise ValueError(f"not a positive size: {value!r} (e.g. 512, 64K, 1M, 2G)")
    return int(text) * scale


def _size_option(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return parse_size(value)
    except ValueError as e:
        raise click.BadParameter(str(e)) from e


@click.command("hash")
@click.argument("targets", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-a", "--algorithms", default="md5,sha256", show_default=True, callback=_algorithms,
              help=f"Comma-separated algorithms, computed in one read pass ({', '.join(ALGORITHMS)}).")
@click.option("--piecewise", metavar="SIZE", callback=_size_option,
              help="Also hash every SIZE block (dcfldd hash windows), e.g. 1M.")
@click.option("-r", "--recursive", is_flag=True, help="Hash every file under directory targets.")
@click.option("--format", "fmt", type=click.Choice(["json", "hashdeep"]), default="json", show_default=True,
              help="JSON lines, or hashdeep's format (readable by hashdeep -k).")
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.option("--container", is_flag=True, help="Hash E01 files as stored bytes, not the media inside them.")
@click.option("--audit", "known", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Audit against a hashdeep-format known set: matched, moved, new, missing (exit 3 unless "
                   "every file matches).")
@case_option
def hash_command(targets: tuple[Path, ...], algorithms: tuple[str, ...], piecewise: int | None, recursive: bool,
                 fmt: str, as_json: bool, container: bool, known: Path | None, case_dir: str | None) -> None:
    """Hash files, directories, block devices and E01 media with several algorithms in one read pass.

    An E01 (first segment) is hashed by its media data, the bytes inside the container, unless
    --container is given. Unreadable targets are reported on stderr and the exit status is 4. With --case,
    the access to each target (with its seal) and the digest of the results are recorded in that case's
    custody log.

    \b
    Example:
      dftk hash disk.E01 -a md5,sha1,sha256
      dftk hash -r evidence/ --format hashdeep > known.txt
      dftk hash -r evidence/ --audit known.txt
    """
    fmt = "json" if as_json else fmt
    audit = _load_audit(known) if known else None
    if case_dir:
        _record_access(case_dir, targets)
    problems = 0
    results = hashlib.sha256()
    with hasher_pool(algorithms) as pool:
        if fmt == "hashdeep" and audit is None:
            from dftk.case.custody import command_line  # only here: it loads the case store

            for line in hashdeep_header(algorithms, command_line()):
                click.echo(line)
        for item in _walk(targets, recursive):
            if isinstance(item, str):
                problems += 1
                click.echo(f"dftk: problem: {terminal(item)}", err=True)
                continue
            try:
                hashed = hash_target(item, algorithms, piecewise, container, pool)
            except (OSError, DftkError) as e:
                problems += 1
                click.echo(f"dftk: problem: {terminal(str(item))}: {terminal(_reason(e))}", err=True)
                continue
            _emit(hashed, fmt, audit)
            results.update(canonical_json([hashed.name, hashed.size, hashed.hashes]).encode() + b"\n")
    if case_dir:
        _record_results(case_dir, algorithms, results.hexdigest(), problems)
    if audit is not None:
        _finish_audit(audit, fmt)
    if problems:
        raise SystemExit(INCOMPLETE)


def _record_access(case_dir: str, targets: tuple[Path, ...]) -> None:
    from dftk.case.access import record_access  # the case store only when a case is asked for

    for target in targets:
        with open_evidence(target) as evidence:
            record_access(case_dir, evidence, command="hash")


def _record_results(case_dir: str, algorithms: tuple[str, ...], digest: str, problems: int) -> None:
    """The digest of every (name, size, hashes) result in order: the printed hashes can be checked later."""
    from dftk.case import custody
    from dftk.case.store import CaseStore

    with CaseStore.open(case_dir) as store, store.lock():
        custody.append(store, "hash.results", custody.examiner_name(), None, algorithms=list(algorithms),
                       results_sha256=digest, problems=problems)


def _reason(error: BaseException) -> str:
    if isinstance(error, OSError):
        return error.strerror or str(error)
    return one_line(error)


def _load_audit(known: Path) -> Audit:
    algorithms, entries = read_hashdeep(known)
    return Audit(algorithms, entries)


def _walk(targets: tuple[Path, ...], recursive: bool) -> Iterator[Path | str]:
    """Files to hash, in a stable order; a string is a problem to report."""
    for target in targets:
        if target.is_dir():
            if not recursive:
                yield f"{target}: is a directory (use -r)"
                continue
            yield from _walk_dir(target)
        elif target.exists():
            yield target
        else:
            yield f"{target}: no such file or directory"


def _walk_dir(root: Path) -> Iterator[Path | str]:
    def onerror(e: OSError) -> None:
        problems.append(f"{e.filename}: {e.strerror}")

    problems: list[str] = []
    for folder, dirs, files in os.walk(root, onerror=onerror):
        dirs.sort()
        for name in sorted(files):
            path = Path(folder) / name
            try:
                mode = path.lstat().st_mode
            except OSError as e:
                yield f"{path}: cannot stat: {e.strerror or e}"
                continue
            if stat.S_ISREG(mode):
                yield path
            elif stat.S_ISLNK(mode):
                yield f"{path}: symbolic link: listed, not followed"
            else:
                yield f"{path}: {special_kind(mode)}: listed, content not read"
        yield from problems
        problems.clear()


def hash_target(path: Path, algorithms: tuple[str, ...], piecewise: int | None, container: bool,
                pool: HashPool | None = None) -> Hashed:
    """Hashes one file, block device or (unless ``container``) the media inside an E01."""
    name = os.path.abspath(path)
    hasher = MultiHasher(algorithms, piecewise, pool)
    fd = open_read_only(path, os.O_NONBLOCK)  # a FIFO must not block the open; it is refused below
    try:
        mode = os.fstat(fd).st_mode
        if not (stat.S_ISREG(mode) or stat.S_ISBLK(mode)):  # a FIFO or /dev/zero has no end to hash
            raise OSError(errno.EINVAL, f"{special_kind(mode)}: listed, content not read")
        kind = "device" if stat.S_ISBLK(mode) else "file"
        if not container and os.pread(fd, len(_EVF), 0) == _EVF:
            os.close(fd)
            fd = -1
            return _hash_e01(name, hasher)
        size = os.lseek(fd, 0, os.SEEK_END)
        progress = _progress(path.name, size)
        try:
            hashes, pieces = hash_fd(fd, hasher, progress.advance if progress else None)
        finally:
            if progress:
                progress.close()
    finally:
        if fd >= 0:
            os.close(fd)
    return Hashed(name, kind, hasher.size, hashes, pieces)


def _progress(label: str, size: int) -> Progress | None:
    """A progress bar when stderr is a terminal (tqdm is loaded only then: it is slow to import)."""
    if not sys.stderr.isatty():
        return None
    from dftk.engine.progress import Progress

    return Progress(label, size)


def _hash_e01(name: str, hasher: MultiHasher) -> Hashed:
    with open_evidence(name, "e01") as evidence:
        progress = _progress(Path(name).name, evidence.size)
        try:
            hashes, pieces = hash_blocks((data for _, data in evidence.chunks()), hasher,
                                         progress.advance if progress else None)
        finally:
            if progress:
                progress.close()
    return Hashed(name, "e01-media", hasher.size, hashes, pieces)


def _emit(hashed: Hashed, fmt: str, audit: Audit | None) -> None:
    if audit is not None:
        verdict, known_name = audit.classify(hashed.name, hashed.size, hashed.hashes)
        _emit_verdict(hashed.name, verdict, known_name, fmt)
    elif fmt == "hashdeep":
        _emit_hashdeep(hashed)
    else:
        record: dict[str, Any] = {"path": hashed.name, "kind": hashed.kind, "size": hashed.size, **hashed.hashes}
        if hashed.pieces:
            record["pieces"] = [{"offset": p.offset, "length": p.length, **p.hashes} for p in hashed.pieces]
        click.echo(json_text(record))


def _emit_hashdeep(hashed: Hashed) -> None:
    if not hashed.pieces:
        click.echo(hashdeep_line(hashed.size, hashed.hashes, terminal(hashed.name)))
    for p in hashed.pieces:
        name = f"{terminal(hashed.name)} offset {p.offset}-{p.offset + p.length - 1}"
        click.echo(hashdeep_line(p.length, p.hashes, name))


_TEXT = {"moved": "Moved from {known}", "partial": "Partial match with {known}", "new": "No match"}


def _emit_verdict(name: str, verdict: str, known_name: str | None, fmt: str) -> None:
    if fmt == "json":
        click.echo(json_text({"path": name, "audit": verdict, "known": known_name}))
    elif verdict != "matched":
        click.echo(terminal(f"{name}: {_TEXT[verdict].format(known=known_name)}"))


def _finish_audit(audit: Audit, fmt: str) -> None:
    for entry in audit.missing():
        if fmt == "json":
            click.echo(json_text({"path": None, "audit": "missing", "known": entry.name}))
        else:
            click.echo(f"{terminal(entry.name)}: Known file not used")
    counts = audit.counts
    if fmt == "json":
        click.echo(json.dumps({"audit": "passed" if audit.passed else "failed", **counts}))
    else:
        for key in ("matched", "moved", "partial", "new", "missing"):
            click.echo(f"{key:>8}: {counts[key]}")
    if not audit.passed:
        summary = ", ".join(f"{counts[k]} {k}" for k in ("moved", "partial", "new", "missing") if counts[k])
        raise SignatureError(f"audit failed: {summary} ({counts['matched']} matched)")
