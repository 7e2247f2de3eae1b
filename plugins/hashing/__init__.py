"""The hashing discipline: the media hash of the whole evidence and a hash of every file, in one read;
files found in known-good sets are flagged ``hash/known``, those in known-bad sets ``hash/notable``."""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote

import click

from dftk.api import (
    ALGORITHMS,
    CHECK,
    HASHDEEP_MAGIC,
    Buffer,
    DftkError,
    Evidence,
    EvidenceFile,
    Finding,
    Plugin,
    Problem,
    Record,
    content_digests,
    digest_all,
    new_hasher,
    parse_algorithms,
    read_hashdeep,
)

DEFAULT = ("md5", "sha1", "sha256")


def _algorithms_option(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, ...]:
    try:
        return parse_algorithms(value)
    except ValueError as e:
        raise click.BadParameter(str(e)) from e


def _known_sets_option(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> tuple[str, ...]:
    """Loads (and so checks) every known set when the command line is parsed: a bad file is a usage error."""
    for path in value:
        try:
            known_set(path)
        except DftkError as e:
            raise click.BadParameter(str(e)) from e
    return value


class HashingPlugin(Plugin):
    """Hash the whole evidence (media hash, checked against the one stored in an E01) and every file."""

    name: ClassVar[str] = "hashing"
    discipline: ClassVar[str] = "digital"
    version: ClassVar[str] = "1.1.0"
    options: ClassVar[tuple[click.Option, ...]] = (
        click.Option(["--hashing-algorithms"], default=",".join(DEFAULT), show_default=True,
                     callback=_algorithms_option,
                     help=f"Comma-separated hash algorithms ({', '.join(ALGORITHMS)})."),
        click.Option(["--hashing-known-good"], multiple=True, metavar="PATH", callback=_known_sets_option,
                     type=click.Path(exists=True, dir_okay=False),
                     help="Known-good set (hashdeep file, 'hash  path' lines as md5sum/sha1sum/sha256sum write, "
                          "or an NSRL RDS v3 SQLite database): matching files get a hash/known finding. "
                          "Repeatable."),
        click.Option(["--hashing-known-bad"], multiple=True, metavar="PATH", callback=_known_sets_option,
                     type=click.Path(exists=True, dir_okay=False),
                     help="Known-bad set (same formats): matching files get a hash/notable finding. Repeatable."),
    )

    @classmethod
    def work_identity(cls, options: dict[str, Any]) -> dict[str, Any]:
        """The options and each known set's digest: an updated set means the files are checked again."""
        sets = [*(options.get("hashing_known_good") or ()), *(options.get("hashing_known_bad") or ())]
        return {**options, "set_digests": content_digests(sets)} if sets else options

    def media(self, evidence: Evidence, **opts: Any) -> MediaHashes:
        return MediaHashes(_algorithms(opts), dict(evidence.stored_hashes))

    def analyze(self, file: EvidenceFile, data: Buffer, **opts: Any) -> Iterator[Record]:
        algorithms = _algorithms(opts)
        sets = [("hash/known", known_set(p)) for p in opts.get("hashing_known_good") or ()]
        sets += [("hash/notable", known_set(p)) for p in opts.get("hashing_known_bad") or ()]
        # a set's algorithms are computed too (for matching only) when they were not asked for
        extra = tuple(dict.fromkeys(a for _, ks in sets for a in ks.algorithms if a not in algorithms))
        hashes, size = digest_all(_slices(data), algorithms + extra)
        yield Finding("hash/file", file.path, {"size": size, **{a: hashes[a] for a in algorithms},
                                               **_context(file)})
        for kind, ks in sets:
            try:
                hit = ks.lookup(hashes)
            except sqlite3.Error as e:
                yield Problem(file.path, f"known set {ks.name}: lookup failed: {e}")
                continue
            if hit is not None:
                algorithm, known_name = hit
                yield Finding(kind, file.path, {"set": ks.name, "algorithm": algorithm, "hash": hashes[algorithm],
                                                "known_name": known_name})


class MediaHashes:
    """Every requested hash of the media, fed by the shared media pass; compared with the stored hashes."""

    def __init__(self, algorithms: tuple[str, ...], stored: dict[str, str]) -> None:
        self.hashers = {a: new_hasher(a) for a in algorithms}
        self.stored = stored
        self.size = 0

    def feed(self, offset: int, data: bytes) -> Iterator[Record]:
        self.size += len(data)
        for hasher in self.hashers.values():
            hasher.update(data)
        return iter(())

    def close(self) -> Iterator[Record]:
        hashes = {a: h.hexdigest() for a, h in self.hashers.items()}
        yield Finding("hash/evidence", "evidence", {"size": self.size, **hashes})
        yield from _compare_stored(self.stored, hashes)


def _algorithms(opts: dict[str, Any]) -> tuple[str, ...]:
    value = opts.get("hashing_algorithms") or DEFAULT
    return parse_algorithms(value)


def _slices(data: Buffer, size: int = 4 << 20) -> Iterator[Buffer]:
    view = memoryview(data)
    try:
        for start in range(0, len(view), size):
            yield view[start : start + size]  # type: ignore[misc]
    finally:
        view.release()


def _context(file: EvidenceFile) -> dict[str, Any]:
    return {"inode": file.inode, "deleted": file.deleted,
            "mtime": file.mtime.isoformat() if file.mtime else None}


def _compare_stored(stored: dict[str, str] | Any, computed: dict[str, str]) -> Iterator[Record]:
    for algorithm, value in sorted(stored.items()):
        if algorithm not in computed:
            continue
        verdict = "match" if computed[algorithm] == value else "mismatch"
        yield Finding(f"hash/stored-{verdict}", "evidence",
                      {"algorithm": algorithm, "stored": value, "computed": computed[algorithm],
                       CHECK: "passed" if verdict == "match" else "failed"})
        if verdict == "mismatch":
            yield Problem("evidence", f"{algorithm} of the media data differs from the hash stored in the image")


# --- known sets -----------------------------------------------------------------------------------

_BY_LENGTH = {32: "md5", 40: "sha1", 64: "sha256", 128: "sha512"}
_LINE = re.compile(r"([0-9a-fA-F]{32}|[0-9a-fA-F]{40}|[0-9a-fA-F]{64}|[0-9a-fA-F]{128})(?:\s+\*?(.*))?")
_SQLITE = b"SQLite format 3\x00"
_NSRL_ALGORITHMS = ("sha256", "sha1", "md5")  # RDS v3's FILE table; sha256 leads its primary key (indexed)
_loaded: dict[tuple[str, int, float], KnownSet] = {}


class KnownSet:
    """A set of known hashes: ``lookup`` returns ``(algorithm, known file name)`` for a file's hashes."""

    def __init__(self, path: Path, algorithms: tuple[str, ...]) -> None:
        self.path = path
        self.name = path.name
        self.algorithms = algorithms

    def lookup(self, hashes: dict[str, str]) -> tuple[str, str] | None:
        raise NotImplementedError


class _ListSet(KnownSet):
    """A hashdeep file or ``hash  path`` lines, held in memory (hash -> name, per algorithm)."""

    def __init__(self, path: Path, entries: dict[str, dict[str, str]]) -> None:
        super().__init__(path, tuple(a for a in ALGORITHMS if entries.get(a)))
        self.entries = entries

    def lookup(self, hashes: dict[str, str]) -> tuple[str, str] | None:
        for algorithm in self.algorithms:
            name = self.entries[algorithm].get(hashes.get(algorithm, ""))
            if name is not None:
                return algorithm, name
        return None


class _NsrlSet(KnownSet):
    """An NSRL RDS v3 SQLite database (table FILE: sha256, sha1, md5 as upper-case hex, file_name),
    queried by SHA-256 (its primary key's first column); opened read-only once per process."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, ("sha256",))
        self._db: sqlite3.Connection | None = None
        self._pid = -1
        columns = {row[1].lower() for row in self._connection().execute("PRAGMA table_info(FILE)")}
        if not {"sha256", "file_name"} <= columns:
            raise DftkError(f"{path}: an SQLite database without NSRL RDS v3's FILE table (sha256, file_name)")

    def _connection(self) -> sqlite3.Connection:
        if self._db is None or self._pid != os.getpid():  # never share a connection across fork
            try:
                self._db = sqlite3.connect(f"file:{quote(str(self.path.resolve()))}?mode=ro", uri=True,
                                           check_same_thread=False)
            except sqlite3.Error as e:
                raise DftkError(f"{self.path}: cannot open the NSRL database: {e}") from e
            self._pid = os.getpid()
        return self._db

    def lookup(self, hashes: dict[str, str]) -> tuple[str, str] | None:
        row = self._connection().execute("SELECT file_name FROM FILE WHERE sha256 = ? LIMIT 1",
                                         (hashes["sha256"].upper(),)).fetchone()
        return ("sha256", str(row[0])) if row else None


def known_set(path: str | Path) -> KnownSet:
    """Loads a known set once per process (reloaded when the file changes).

    Raises:
        DftkError: unreadable, or in no format dftk knows, naming the file and line.
    """
    p = Path(path)
    try:
        st = p.stat()
        with p.open("rb") as f:
            head = f.read(len(_SQLITE))
    except OSError as e:
        raise DftkError(f"{p}: cannot read known set: {e.strerror or e}") from e
    key = (str(p.resolve()), st.st_size, st.st_mtime)
    if key not in _loaded:
        if head == _SQLITE:
            _loaded[key] = _NsrlSet(p)
        elif head.startswith(HASHDEEP_MAGIC.encode()[:10]):
            algorithms, known = read_hashdeep(p)
            entries: dict[str, dict[str, str]] = {a: {} for a in algorithms if a in ALGORITHMS}
            for k in known:
                for algorithm, value in k.hashes.items():
                    if algorithm in entries:
                        entries[algorithm].setdefault(value, k.name)
            _loaded[key] = _ListSet(p, entries)
        else:
            _loaded[key] = _ListSet(p, _read_hash_lines(p))
    return _loaded[key]


def _read_hash_lines(path: Path) -> dict[str, dict[str, str]]:
    """``HASH  NAME`` (md5sum/sha1sum/sha256sum/sha512sum output, ``*NAME`` too) or a bare hash per line;
    the algorithm is told by the length; blank lines and ``#`` comments are skipped."""
    entries: dict[str, dict[str, str]] = {}
    text = path.read_text(encoding="utf-8", errors="surrogateescape")
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = _LINE.fullmatch(line)
        if m is None:
            raise DftkError(f"{path}: line {number}: expected a hash (md5, sha1, sha256 or sha512 hex) and "
                            "optionally a name, or a hashdeep file or NSRL RDS v3 database")
        value = m.group(1).lower()
        entries.setdefault(_BY_LENGTH[len(value)], {}).setdefault(value, m.group(2) or "")
    if not entries:
        raise DftkError(f"{path}: known set has no hashes")
    return entries
