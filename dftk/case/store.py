"""The case store: one SQLite database (WAL) per case folder.

It holds the evidence items, their seals (hashes before and after each run), runs, plugin runs, findings,
problems, completion marks that make an interrupted run resumable, and the hash-chained custody log.
Only the main process writes to it; every unit of work is committed in one transaction with its
completion mark, so an interrupted run leaves a consistent store.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dftk.case.queries import Queries
from dftk.case.seal import Seal
from dftk.clock import record_time
from dftk.errors import CaseError
from dftk.records import Finding, Record, canonical_json, check_json

SCHEMA_VERSION = 2
STORE_NAME = "case.sqlite"
LOCK_NAME = "case.lock"

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE evidence (
    id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, format TEXT NOT NULL, size INTEGER NOT NULL,
    sector_size INTEGER NOT NULL, stored_hashes TEXT NOT NULL, metadata TEXT NOT NULL, added TEXT NOT NULL);
CREATE TABLE runs (
    id INTEGER PRIMARY KEY, evidence_id INTEGER NOT NULL REFERENCES evidence(id), started TEXT NOT NULL,
    finished TEXT, status TEXT NOT NULL, command TEXT NOT NULL, workers INTEGER NOT NULL,
    examiner TEXT NOT NULL);
CREATE TABLE seals (
    id INTEGER PRIMARY KEY, evidence_id INTEGER NOT NULL REFERENCES evidence(id),
    run_id INTEGER REFERENCES runs(id), phase TEXT NOT NULL CHECK (phase IN ('before', 'after')),
    time TEXT NOT NULL, sha256 TEXT NOT NULL, detail TEXT NOT NULL);
CREATE TABLE plugin_runs (
    id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES runs(id), plugin TEXT NOT NULL,
    version TEXT NOT NULL, options TEXT NOT NULL, outcome TEXT NOT NULL, started TEXT NOT NULL,
    finished TEXT, seconds REAL, findings INTEGER NOT NULL DEFAULT 0, problems INTEGER NOT NULL DEFAULT 0);
CREATE TABLE findings (
    id INTEGER PRIMARY KEY, evidence_id INTEGER NOT NULL, run_id INTEGER NOT NULL, plugin TEXT NOT NULL,
    kind TEXT NOT NULL, subject TEXT NOT NULL, data TEXT NOT NULL, digest TEXT NOT NULL,
    UNIQUE (evidence_id, digest));
CREATE TABLE problems (
    id INTEGER PRIMARY KEY, evidence_id INTEGER NOT NULL, run_id INTEGER NOT NULL, plugin TEXT NOT NULL,
    subject TEXT NOT NULL, message TEXT NOT NULL, digest TEXT NOT NULL, UNIQUE (evidence_id, digest));
CREATE TABLE done (
    evidence_id INTEGER NOT NULL, unit TEXT NOT NULL, subject TEXT NOT NULL,
    PRIMARY KEY (evidence_id, unit, subject)) WITHOUT ROWID;
CREATE TABLE custody (
    seq INTEGER PRIMARY KEY, time TEXT NOT NULL, examiner TEXT NOT NULL, tool_version TEXT NOT NULL,
    action TEXT NOT NULL, command_line TEXT NOT NULL, evidence_sha256 TEXT, details TEXT NOT NULL,
    prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
CREATE TRIGGER custody_no_update BEFORE UPDATE ON custody
    BEGIN SELECT RAISE(ABORT, 'the custody log is append-only'); END;
CREATE TRIGGER custody_no_delete BEFORE DELETE ON custody
    BEGIN SELECT RAISE(ABORT, 'the custody log is append-only'); END;
CREATE INDEX findings_kind ON findings (kind, subject);
"""
# Version 2: every sealed file with its block digests (version 1 kept only a seal's summary).
_SEAL_SOURCES = """
CREATE TABLE IF NOT EXISTS seal_sources (
    seal_id INTEGER NOT NULL REFERENCES seals(id), path TEXT NOT NULL, size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL, sha256 TEXT NOT NULL, block_size INTEGER NOT NULL, blocks TEXT NOT NULL, sm3 TEXT);
"""


def digest(*parts: str) -> str:
    return hashlib.sha256(canonical_json(list(parts)).encode()).hexdigest()


class CaseStore(Queries):
    """The SQLite store of one case folder; a context manager that closes it."""

    def __init__(self, folder: Path, db: sqlite3.Connection) -> None:
        self.folder = folder
        self.db = db

    @classmethod
    def open(cls, folder: str | Path, create: bool = True) -> CaseStore:
        """Opens (and with ``create``, creates) the case store in ``folder``.

        Raises:
            CaseError: the folder or database cannot be used, or its schema is newer than this dftk.
        """
        path = Path(folder)
        store_path = path / STORE_NAME
        if not create and not store_path.is_file():
            raise CaseError(f"{path}: not a dftk case folder (no {STORE_NAME})")
        try:
            path.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(store_path, isolation_level=None, timeout=30)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            store = cls(path, db)
            store._migrate()
        except (OSError, sqlite3.Error) as e:
            raise CaseError(f"{store_path}: cannot open the case store: {e}") from e
        return store

    def _migrate(self) -> None:
        tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "meta" not in tables:
            # executescript cannot take parameters; both values are ours, not the user's.
            self.db.executescript(
                f"BEGIN IMMEDIATE; {_SCHEMA} {_SEAL_SOURCES} INSERT INTO meta VALUES ('schema_version', "
                f"'{SCHEMA_VERSION}'), ('created', '{record_time()}'); COMMIT;"
            )
            return
        version = int(self.meta("schema_version") or 0)
        if version > SCHEMA_VERSION:
            raise CaseError(f"{self.folder}: case store schema {version} is newer than this dftk ({SCHEMA_VERSION})")
        if version < SCHEMA_VERSION:
            self.db.executescript(f"BEGIN IMMEDIATE; {_SEAL_SOURCES} UPDATE meta SET value = '{SCHEMA_VERSION}' "
                                  "WHERE key = 'schema_version'; COMMIT;")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic unit of work: all of it lands, or none of it."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Holds the case for one writing command: a second one is refused while it runs, and a run left
        ``running`` by a process that died is known to be dead when the lock is free.

        Raises:
            CaseError: another dftk command is writing this case.
        """
        fd = os.open(self.folder / LOCK_NAME, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as e:
                raise CaseError(f"{self.folder}: another dftk command is writing this case") from e
            yield
        finally:
            os.close(fd)

    def rollback_open_transaction(self) -> None:
        """Ends a transaction an interrupt left open (between its BEGIN and the block that owns it)."""
        if self.db.in_transaction:
            self.db.execute("ROLLBACK")

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> CaseStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # evidence and seals

    def add_evidence(self, info: dict[str, Any]) -> int:
        """Registers an evidence item (once per path) and returns its id."""
        row = self.db.execute("SELECT id FROM evidence WHERE path = ?", (info["path"],)).fetchone()
        if row:
            return int(row[0])
        cur = self.db.execute(
            "INSERT INTO evidence (path, format, size, sector_size, stored_hashes, metadata, added) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (info["path"], info["format"], info["size"], info["sector_size"],
             canonical_json(info["stored_hashes"]), canonical_json(info["metadata"]), record_time()),
        )
        return int(cur.lastrowid or 0)

    def record_seal(self, evidence_id: int, run_id: int | None, phase: str, seal: Seal) -> None:
        cur = self.db.execute(
            "INSERT INTO seals (evidence_id, run_id, phase, time, sha256, detail) VALUES (?, ?, ?, ?, ?, ?)",
            (evidence_id, run_id, phase, record_time(), seal.sha256, canonical_json(seal.summary())),
        )
        self.db.executemany("INSERT INTO seal_sources VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                            ((cur.lastrowid, s.path, s.size, s.mtime_ns, s.sha256, s.block_size, " ".join(s.blocks),
                              s.sm3) for s in seal.sources))

    def last_seal(self, evidence_id: int) -> tuple[str, list[dict[str, Any]], int] | None:
        """The evidence item's latest seal: its digest, its sources (with block digests where recorded) and
        how many files it covered."""
        row = self.db.execute("SELECT id, sha256, detail FROM seals WHERE evidence_id = ? ORDER BY id DESC LIMIT 1",
                              (evidence_id,)).fetchone()
        if row is None:
            return None
        sources = [{**dict(r), "blocks": r["blocks"].split()} for r in self.db.execute(
            "SELECT path, size, mtime_ns, sha256, block_size, blocks, sm3 FROM seal_sources WHERE seal_id = ?",
            (row["id"],))]
        detail = json.loads(row["detail"])
        return str(row["sha256"]), sources or detail["sources"], int(detail["files"])

    # runs

    def begin_run(self, evidence_id: int, command: str, workers: int, examiner: str) -> int:
        cur = self.db.execute(
            "INSERT INTO runs (evidence_id, started, status, command, workers, examiner) "
            "VALUES (?, ?, 'running', ?, ?, ?)",
            (evidence_id, record_time(), command, workers, examiner),
        )
        return int(cur.lastrowid or 0)

    def end_run(self, run_id: int, status: str) -> None:
        self.db.execute("UPDATE runs SET finished = ?, status = ? WHERE id = ?", (record_time(), status, run_id))

    def begin_plugin(self, run_id: int, name: str, version: str, options: dict[str, Any]) -> int:
        cur = self.db.execute(
            "INSERT INTO plugin_runs (run_id, plugin, version, options, outcome, started) "
            "VALUES (?, ?, ?, ?, 'running', ?)",
            (run_id, name, version, canonical_json(options), record_time()),
        )
        return int(cur.lastrowid or 0)

    def end_plugin(self, plugin_run_id: int, outcome: str, seconds: float) -> None:
        self.db.execute(
            "UPDATE plugin_runs SET outcome = ?, finished = ?, seconds = ? WHERE id = ?",
            (outcome, record_time(), round(seconds, 6), plugin_run_id),
        )

    # findings, problems and completion marks

    def write(self, evidence_id: int, run_id: int, plugin: str, records: Iterable[Record],
              plugin_run_id: int | None = None) -> tuple[int, int]:
        """Stores records, ignoring any already stored; returns (new findings, new problems)."""
        found = problems = 0
        for rec in records:
            if isinstance(rec, Finding):
                data = check_json(rec.data, plugin)
                cur = self.db.execute(
                    "INSERT OR IGNORE INTO findings (evidence_id, run_id, plugin, kind, subject, data, digest) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (evidence_id, run_id, plugin, rec.kind, rec.subject, data,
                     digest(plugin, rec.kind, rec.subject, data)),
                )
                found += cur.rowcount
            else:
                cur = self.db.execute(
                    "INSERT OR IGNORE INTO problems (evidence_id, run_id, plugin, subject, message, digest) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (evidence_id, run_id, plugin, rec.subject, rec.message,
                     digest(plugin, rec.subject, rec.message)),
                )
                problems += cur.rowcount
        if plugin_run_id is not None and (found or problems):
            self.db.execute("UPDATE plugin_runs SET findings = findings + ?, problems = problems + ? WHERE id = ?",
                            (found, problems, plugin_run_id))
        return found, problems

    def mark_done(self, evidence_id: int, unit: str, subjects: Iterable[str]) -> None:
        self.db.executemany("INSERT OR IGNORE INTO done VALUES (?, ?, ?)",
                            ((evidence_id, unit, s) for s in subjects))

    def done_among(self, evidence_id: int, unit: str, subjects: list[str]) -> set[str]:
        """Which of ``subjects`` a unit has already completed for this evidence."""
        done: set[str] = set()
        for i in range(0, len(subjects), 500):
            part = subjects[i : i + 500]
            marks = ",".join("?" * len(part))
            rows = self.db.execute(
                f"SELECT subject FROM done WHERE evidence_id = ? AND unit = ? AND subject IN ({marks})",
                (evidence_id, unit, *part),
            )
            done.update(str(r[0]) for r in rows)
        return done

    # custody events (the chain's rules are in custody.py)

    def last_event(self) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self.db.execute("SELECT seq, hash FROM custody ORDER BY seq DESC LIMIT 1").fetchone()
        return row

    def add_event(self, event: dict[str, Any]) -> None:
        self.db.execute(f"INSERT INTO custody ({', '.join(event)}) VALUES ({', '.join('?' * len(event))})",
                        tuple(event.values()))
