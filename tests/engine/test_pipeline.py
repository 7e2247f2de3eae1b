"""The single-pass pipeline: streaming into the store, resuming after an interrupt, identical results
for any number of workers."""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from dftk.case.run import Pipeline
from dftk.case.store import CaseStore
from dftk.engine.contract import Plugin
from dftk.engine.engine import Settings
from dftk.engine.registry import LoadedPlugin, installed
from dftk.evidence.files import Buffer, EvidenceFile
from dftk.evidence.opening import open_evidence
from dftk.records import Record
from helpers import dftk, make_tree


def findings(case: Path) -> list[tuple[str, str, str, str]]:
    store = CaseStore.open(case, create=False)
    try:
        return [(f["plugin"], f["kind"], f["subject"], f["data"]) for f in store.findings()]
    finally:
        store.close()


def test_every_file_is_hashed_once(tree: Path, tmp_path: Path) -> None:
    result = dftk("run", tree, "--case", tmp_path / "case", "--plugin", "hashing", "--json")
    assert result.exit_code == 0, result.output
    rows = findings(tmp_path / "case")
    assert len(rows) == 300 and len({r[2] for r in rows}) == 300
    for _, kind, subject, data in rows[:20]:
        content = (tree / subject.lstrip("/")).read_bytes()
        assert kind == "hash/file" and hashlib.sha256(content).hexdigest() in data


def test_workers_give_identical_findings(tree: Path, tmp_path: Path) -> None:
    one = dftk("run", tree, "--case", tmp_path / "one", "--workers", "1")
    two = dftk("run", tree, "--case", tmp_path / "two", "--workers", "2")
    assert one.exit_code == two.exit_code == 0, two.output
    assert findings(tmp_path / "one") == findings(tmp_path / "two")
    assert len(findings(tmp_path / "one")) >= 300


class StopAfter(Plugin):
    """Stands in for an examiner's Ctrl-C: interrupts the run at the 120th file."""

    name: ClassVar[str] = "hashing"
    discipline: ClassVar[str] = "digital"
    version: ClassVar[str] = installed()["hashing"].cls.version
    seen = 0

    def analyze(self, file: EvidenceFile, data: Buffer, **opts: Any) -> Iterator[Record]:
        StopAfter.seen += 1
        if StopAfter.seen == 120:
            raise KeyboardInterrupt
        yield from installed()["hashing"].cls().analyze(file, data, **opts)


def test_interrupted_run_resumes_without_duplicates(tree: Path, tmp_path: Path) -> None:
    case = tmp_path / "case"
    store = CaseStore.open(case)
    with open_evidence(tree) as ev, pytest.raises(KeyboardInterrupt):
        Pipeline(ev, store, [LoadedPlugin(StopAfter, "test")], {}, Settings(progress=False)).run()
    partial = store.db.execute("SELECT count(*) FROM findings").fetchone()[0]
    done = store.db.execute("SELECT count(*) FROM done").fetchone()[0]
    assert 0 < partial < 300 and partial == done  # each file's findings land with its completion mark
    assert store.db.execute("SELECT status FROM runs").fetchone()[0] == "interrupted"
    store.close()
    result = dftk("run", tree, "--case", case, "--plugin", "hashing")
    assert result.exit_code == 0, result.output
    rows = findings(case)
    assert len(rows) == 300 and len(set(rows)) == 300


def test_rerun_of_a_complete_run_adds_nothing(tree: Path, tmp_path: Path) -> None:
    for _ in range(2):
        assert dftk("run", tree, "--case", tmp_path / "case", "--plugin", "hashing").exit_code == 0
    assert len(findings(tmp_path / "case")) == 300


def test_changed_evidence_is_refused_and_logged(tree: Path, tmp_path: Path) -> None:
    assert dftk("run", tree, "--case", tmp_path / "case").exit_code == 0
    (tree / "d00" / "e0" / "file00000.txt").write_bytes(b"tampered")
    result = dftk("run", tree, "--case", tmp_path / "case")
    assert result.exit_code == 1 and "evidence changed since the last run" in result.stderr
    log = dftk("case", "log", tmp_path / "case")
    assert "evidence.changed" in log.output


def test_process_pool_executor_used_directly(tmp_path: Path) -> None:
    make_tree(tmp_path / "ev", 10)
    store = CaseStore.open(tmp_path / "case")
    with open_evidence(tmp_path / "ev") as ev:
        summary = Pipeline(ev, store, [installed()["hashing"]], {}, Settings(workers=2, progress=False)).run()
    assert summary.files == 10 and summary.plugins[0]["outcome"].startswith("ok")
    assert summary.plugins[0]["findings"] == 10


@pytest.mark.slow
def test_ctrl_c_halfway_through_5000_files_then_resume(tmp_path: Path) -> None:
    """Acceptance: interrupt a run of 5,000 files halfway, run again: it completes, nothing duplicated."""
    evidence, case = tmp_path / "ev", tmp_path / "case"
    make_tree(evidence, 5000)
    slow = ["--plugin", "linecount", "--plugin", "hashing", "--linecount-delay-ms", "1"]
    proc = subprocess.Popen([sys.executable, "-m", "dftk", "run", str(evidence), "--case", str(case), *slow],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and _count(case, "done") < 5000:  # halfway: 2,500 files x 2 plugins
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "run the same command again to resume" in err
    assert 0 < _count(case, "findings") < 10000
    resumed = subprocess.run([sys.executable, "-m", "dftk", "run", str(evidence), "--case", str(case), *slow],
                             capture_output=True, text=True, timeout=300, check=False)
    assert resumed.returncode == 0, resumed.stderr
    rows = findings(case)
    assert len(rows) == len(set(rows)) == 10000
    assert {r[1] for r in rows} == {"hash/file", "text/lines"}


def _count(case: Path, table: str) -> int:
    if not (case / "case.sqlite").exists():
        return 0
    try:
        db = sqlite3.connect(f"file:{case / 'case.sqlite'}?mode=ro", uri=True, timeout=5)
        try:
            return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
        finally:
            db.close()
    except sqlite3.OperationalError:
        return 0


def test_custody_log_records_each_run(tree: Path, tmp_path: Path) -> None:
    os.environ["DFTK_EXAMINER"] = "Li Wei"
    try:
        assert dftk("run", tree, "--case", tmp_path / "case").exit_code == 0
    finally:
        del os.environ["DFTK_EXAMINER"]
    log = dftk("case", "log", tmp_path / "case", "--json")
    actions = [line for line in log.output.splitlines() if line.startswith("{")]
    assert len(actions) == 2 and '"run.start"' in actions[0] and '"run.completed"' in actions[1]
    assert '"examiner": "Li Wei"' in actions[0]


def test_run_over_a_partitioned_image_walks_every_file_system(tmp_path: Path) -> None:
    """The pipeline's file walk over an image: every readable file of every partition, deleted ones
    included, read once; hashes equal those `dftk fs ls --hash` (checked against icat) reports."""
    import gzip
    import json
    import shutil

    from helpers import FIXTURES, dftk_process

    image = tmp_path / "gpt-disk.img"
    with gzip.open(FIXTURES / "images" / "gpt-disk.img.gz") as src, image.open("wb") as dst:
        shutil.copyfileobj(src, dst)
    result = dftk("run", image, "--case", tmp_path / "case", "--plugin", "hashing", "--json")
    assert result.exit_code == 0, result.output
    listing = dftk_process("fs", "ls", image, "--json", "--hash", "sha256").stdout
    listed = [json.loads(line) for line in listing.splitlines()]
    readable = {(f"/p{r['volume_index']}{r['path']}", r["sha256"]) for r in listed if r.get("sha256")}
    hashed = {(f[2], json.loads(f[3])["sha256"]) for f in findings(tmp_path / "case") if f[1] == "hash/file"}
    assert hashed == readable and len(hashed) > 40
    assert any("/已删除.txt" in path for path, _ in hashed)
