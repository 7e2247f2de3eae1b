"""What a reviewer for the defence would try on a case, each now detected and named (issue: tamper-evident
end to end). Report-side rows (a signed manifest, signers) are in tests/report/test_manifest.py."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from dftk.case import custody
from dftk.case.store import CaseStore
from helpers import FIXTURES, dftk


@pytest.fixture
def case(tmp_path: Path) -> Path:
    image = tmp_path / "ext2.img"
    shutil.copy(FIXTURES / "images" / "ext2.img", image)
    result = dftk("run", image, "--case", tmp_path / "case", "--plugin", "hashing")
    assert result.exit_code == 0, result.output
    return tmp_path / "case"


def _sql(case: Path, sql: str) -> None:
    db = sqlite3.connect(case / "case.sqlite")
    db.executescript(sql)
    db.close()


def _refused(case: Path, message: str) -> None:
    """case log, report and a new run all refuse the case (exit 3), naming what does not hold."""
    for args in (("case", "log", case), ("report", case, "-o", case.parent / "out", "--format", "json"),
                 ("run", case.parent / "ext2.img", "--case", case, "--plugin", "hashing")):
        result = dftk(*args)
        assert result.exit_code == 3, (args, result.output)
        assert message in result.stderr, (args, result.stderr)


def test_an_intact_case_verifies_with_its_runs(case: Path) -> None:
    result = dftk("case", "log", case)
    assert result.exit_code == 0 and "of 1 run(s) as their closing events recorded" in result.output


@pytest.mark.parametrize(("sql", "message"), [
    ("DELETE FROM findings WHERE id = (SELECT max(id) FROM findings);", "run 1: 15 findings recorded, 14 now"),
    ("UPDATE findings SET data = replace(data, substr(data, instr(data, '\"md5\":\"') + 7, 32), "
     "'00000000000000000000000000000000') WHERE id = 3;", "run 1: its findings or problems were altered"),
    ("INSERT INTO findings (evidence_id, run_id, plugin, kind, subject, data, digest) "
     "VALUES (1, 1, 'hashing', 'hash/file', '/planted', '{}', 'x');", "run 1: 15 findings recorded, 16 now"),
    ("INSERT INTO problems (evidence_id, run_id, plugin, subject, message, digest) "
     "VALUES (1, 1, 'dftk', '/x', 'hidden', 'y');", "run 1: 0 problems recorded, 1 now"),
    ("UPDATE runs SET examiner = 'someone else';", "run 1: its run, plugin, seal or evidence rows were altered"),
    ("UPDATE seals SET sha256 = '00' WHERE phase = 'after';", "run 1: its run, plugin, seal or evidence rows"),
    ("UPDATE plugin_runs SET outcome = 'ok (nothing)';", "run 1: its run, plugin, seal or evidence rows"),
    ("UPDATE evidence SET path = '/elsewhere.img';", "run 1: its run, plugin, seal or evidence rows"),
    ("INSERT INTO runs (evidence_id, started, status, command, workers, examiner) "
     "VALUES (1, '2026-01-01', 'completed', 'dftk run', 1, 'x');", "run 2: no closing event"),
    ("INSERT INTO findings (evidence_id, run_id, plugin, kind, subject, data, digest) "
     "VALUES (1, 99, 'hashing', 'hash/file', '/planted', '{}', 'z');", "run 99: findings, problems or seals"),
])
def test_any_edited_row_is_named_and_refused(case: Path, sql: str, message: str) -> None:
    _sql(case, sql)
    _refused(case, message)


def test_a_broken_custody_row_is_refused_by_run_too(case: Path) -> None:
    _sql(case, "DROP TRIGGER custody_no_update; UPDATE custody SET examiner = 'x' WHERE seq = 1; "
               "CREATE TRIGGER custody_no_update BEFORE UPDATE ON custody BEGIN SELECT RAISE(ABORT, 'no'); END;")
    _refused(case, "event 1 (run.start) was altered")


def test_a_log_rewritten_around_dropped_triggers_is_refused(case: Path) -> None:
    """Re-chained after an edit: the chain holds, but the triggers that make it append-only are gone."""
    with CaseStore.open(case, create=False) as store:
        events = list(custody.events(store))
    _sql(case, "DROP TRIGGER custody_no_update; DROP TRIGGER custody_no_delete;")
    db = sqlite3.connect(case / "case.sqlite")
    prev = custody.GENESIS
    for event in events:
        event["examiner"], event["prev_hash"] = "forger", prev
        event["hash"] = prev = custody.event_hash(event)
        db.execute("UPDATE custody SET examiner = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                   (event["examiner"], event["prev_hash"], event["hash"], event["seq"]))
    db.commit()
    db.close()
    _refused(case, "append-only triggers were removed")


def test_source_date_epoch_never_reaches_the_custody_log(case: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")  # 2026-01-01
    assert dftk("report", case, "-o", case.parent / "out", "--format", "json").exit_code == 0
    with CaseStore.open(case, create=False) as store:
        last = list(custody.events(store))[-1]
    assert last["action"] == "report.create" and not last["time"].startswith("2026-01-01")
    report = json.loads((case.parent / "out" / "report.json").read_text())
    assert report["generated"].startswith("2026-01-01")  # the report's own rendering time alone


def test_each_run_records_the_host_clock(case: Path) -> None:
    with CaseStore.open(case, create=False) as store:
        start = next(e for e in custody.events(store) if e["action"] == "run.start")
    clock = json.loads(start["details"])["host_clock"]
    assert {"timezone", "utc_offset", "clock_source", "synchronized"} <= set(clock)


def test_an_event_dated_before_its_predecessor_is_noted(case: Path) -> None:
    with CaseStore.open(case, create=False) as store:
        event = list(custody.events(store))[-1]
    _sql(case, "DROP TRIGGER custody_no_update;")
    event["time"] = "2000-01-01T00:00:00.000000+00:00"
    event["hash"] = custody.event_hash(event)  # the last event: nothing chains to it yet
    _sql(case, f"UPDATE custody SET time = '{event['time']}', hash = '{event['hash']}' WHERE seq = {event['seq']}; "
               "CREATE TRIGGER custody_no_update BEFORE UPDATE ON custody BEGIN SELECT RAISE(ABORT, 'no'); END;")
    result = dftk("case", "log", case)
    assert result.exit_code == 0 and "the host's clock went back" in result.stderr


def test_a_run_whose_process_died_is_closed_by_the_next_writer(case: Path) -> None:
    _sql(case, "INSERT INTO runs (evidence_id, started, status, command, workers, examiner) "
               "VALUES (1, '2026-01-01T00:00:00+00:00', 'running', 'dftk run', 1, 'x');")
    assert dftk("case", "log", case).exit_code == 3  # not covered by the chain yet
    result = dftk("run", case.parent / "ext2.img", "--case", case, "--plugin", "hashing")
    assert result.exit_code == 0, result.output
    with CaseStore.open(case, create=False) as store:
        actions = [e["action"] for e in custody.events(store)]
    assert "run.abandoned" in actions
    assert dftk("case", "log", case).exit_code == 0


def test_a_touched_evidence_file_is_a_note_a_changed_one_is_named(case: Path) -> None:
    image = case.parent / "ext2.img"
    os.utime(image, (1_600_000_000, 1_600_000_000))
    result = dftk("run", image, "--case", case, "--plugin", "hashing")
    assert result.exit_code == 0 and "timestamps changed, content identical" in result.output
    with image.open("r+b") as f:
        f.seek(700_000)
        f.write(b"X")
    result = dftk("run", image, "--case", case, "--plugin", "hashing")
    assert result.exit_code == 1
    assert f"{image}: content changed, first in bytes 0-1048575 (block 0)" in result.stderr


def test_commands_outside_a_run_record_their_access_and_exports(case: Path) -> None:
    image, out = case.parent / "ext2.img", case.parent / "extracted"
    assert dftk("fs", "extract", image, out, "--case", case).exit_code == 0
    assert dftk("timeline", image, "--case", case).exit_code == 0
    assert dftk("hash", image, "-a", "sha256", "--case", case).exit_code == 0
    assert dftk("carve", image, case.parent / "carved", "--workers", "1", "--case", case).exit_code == 0
    assert dftk("meta", image, "--case", case, "--workers", "1").exit_code == 0
    with CaseStore.open(case, create=False) as store:
        events = [(e["action"], json.loads(e["details"])) for e in custody.events(store)]
    accessed = [d["command"] for a, d in events if a == "evidence.access"]
    assert accessed == ["fs extract", "timeline", "hash", "carve", "meta"]
    exports = [d for a, d in events if a == "export.create"]
    assert [e["manifest"] for e in exports] == ["manifest.jsonl", "manifest.jsonl"]
    assert exports[0]["manifest_sha256"] == hashlib.sha256((out / "manifest.jsonl").read_bytes()).hexdigest()
    assert any(a == "hash.results" for a, _ in events)
    assert dftk("case", "log", case).exit_code == 0
