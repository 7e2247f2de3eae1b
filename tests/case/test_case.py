"""The case store and its custody log: schema, append-only rows, tamper detection."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from dftk.case import custody
from dftk.case.store import SCHEMA_VERSION, CaseStore
from dftk.errors import CaseError, SignatureError
from helpers import dftk


@pytest.fixture
def case(tree: Path, tmp_path: Path) -> Path:
    for _ in range(2):
        assert dftk("run", tree, "--case", tmp_path / "case", "--plugin", "hashing").exit_code == 0
    return tmp_path / "case"


def _tamper(case: Path, sql: str) -> None:
    db = sqlite3.connect(case / "case.sqlite")
    db.executescript("DROP TRIGGER custody_no_update; DROP TRIGGER custody_no_delete;" + sql)
    db.close()


def test_store_records_schema_and_uses_wal(case: Path) -> None:
    store = CaseStore.open(case, create=False)
    assert store.meta("schema_version") == str(SCHEMA_VERSION)
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    seals = store.db.execute("SELECT phase FROM seals ORDER BY id").fetchall()
    assert [s[0] for s in seals] == ["before", "after", "before", "after"]
    store.close()


def test_newer_schema_is_refused(case: Path) -> None:
    db = sqlite3.connect(case / "case.sqlite")
    db.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    with pytest.raises(CaseError, match="newer"):
        CaseStore.open(case)


def test_intact_log_verifies(case: Path) -> None:
    result = dftk("case", "log", case)
    assert result.exit_code == 0
    assert "custody chain intact: 4 events" in result.output


def test_custody_rows_cannot_be_updated_through_sqlite(case: Path) -> None:
    db = sqlite3.connect(case / "case.sqlite")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("UPDATE custody SET examiner = 'someone else' WHERE seq = 2")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("DELETE FROM custody WHERE seq = 4")
    db.close()


@pytest.mark.parametrize("sql, message", [
    ("UPDATE custody SET examiner = 'someone else' WHERE seq = 2;", "event 2 (run.completed) was altered"),
    ("UPDATE custody SET time = '2020-01-01T00:00:00+00:00' WHERE seq = 1;", "event 1 (run.start) was altered"),
    ("UPDATE custody SET details = '{}' WHERE seq = 3;", "event 3"),
    ("DELETE FROM custody WHERE seq = 2;", "event 2 is missing"),
    ("UPDATE custody SET seq = 9 WHERE seq = 4;", "event 4 is missing"),
])
def test_any_modified_custody_row_is_detected(case: Path, sql: str, message: str) -> None:
    _tamper(case, sql)
    result = dftk("case", "log", case)
    assert result.exit_code == 3
    assert message in result.stderr and "Traceback" not in result.stderr


def test_rehashed_row_still_breaks_the_chain(case: Path) -> None:
    """Recomputing an edited event's own hash is not enough: the next event chains to the old one."""
    store = CaseStore.open(case, create=False)
    event = next(e for e in custody.events(store) if e["seq"] == 2)
    store.close()
    event["examiner"] = "forger"
    _tamper(case, f"UPDATE custody SET examiner = 'forger', hash = '{custody.event_hash(event)}' WHERE seq = 2;")
    store = CaseStore.open(case, create=False)
    with pytest.raises(SignatureError, match="event 3 does not chain to event 2"):
        custody.verify(store)
    store.close()


def test_case_commands_refuse_a_folder_that_is_not_a_case(tmp_path: Path) -> None:
    result = dftk("case", "log", tmp_path)
    assert result.exit_code == 1 and "not a dftk case folder" in result.stderr
    assert not (tmp_path / "case.sqlite").exists()
