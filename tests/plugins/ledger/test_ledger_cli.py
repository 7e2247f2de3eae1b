"""``dftk ledger`` on folders, files and disk images, and the ledger plugin inside ``dftk run``: a FAT image
holding the generated ledgers, one of them deleted, reported under the accounting discipline."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ledger_model import ACCOUNTS, Built
from ledgers import build

from helpers import dftk, dftk_process, require_tool

MTOOLS = {"MTOOLS_SKIP_CHECK": "1", "PATH": "/usr/bin:/bin"}
CYCLE = [ACCOUNTS["甲"], ACCOUNTS["乙"], ACCOUNTS["丙"]]


@pytest.fixture(scope="module")
def evidence(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Built]:
    folder = tmp_path_factory.mktemp("seized")
    built = build(folder / "ledgers")
    (folder / "notes.txt").write_text("Meeting at the harbour.\nBring the invoices.\n")
    (folder / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(2000))
    return folder, built


def _lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines()]


def test_ledger_command_reports_each_ledger_and_the_flow_graph(evidence: tuple[Path, Built]) -> None:
    folder, built = evidence
    result = dftk("ledger", folder, "--json", "--workers", "1")
    assert result.exit_code == 0, result.output
    *files, graph = _lines(result.stdout)
    assert sorted(Path(r["path"]).name for r in files) == sorted(built.files)  # no record for other files
    assert all(r["deleted"] is False and r["problems"] == [] for r in files)
    assert graph["kind"] == "ledger/flow-graph" and graph["cycle_search_complete"]
    assert graph["cycles"] == [{"accounts": CYCLE, "via": [[], [], []]}]
    between = [e for e in graph["edges"] if e["source"] in CYCLE and e["target"] in CYCLE]
    assert sorted((e["source"], e["target"], e["payer_total"], e["corroborated"]) for e in between) == [
        (ACCOUNTS["甲"], ACCOUNTS["乙"], "123456.78", True), (ACCOUNTS["乙"], ACCOUNTS["丙"], "110000.25", True),
        (ACCOUNTS["丙"], ACCOUNTS["甲"], "98765.43", True)]


def test_two_ledgers_alone_show_the_cycle_through_the_third_account(evidence: tuple[Path, Built]) -> None:
    _, built = evidence
    result = dftk("ledger", built.files["books.xlsx"], built.files["ledger.sqlite"], "--json")
    graph = _lines(result.stdout)[-1]
    assert graph["cycles"] == [{"accounts": CYCLE[1:], "via": [[], [ACCOUNTS["甲"]]]}]


def test_text_output_and_options(evidence: tuple[Path, Built]) -> None:
    _, built = evidence
    result = dftk("ledger", built.files["books.xlsx"], "--ledger-split-count", "4")
    assert result.exit_code == 0 and "ledger/below-threshold [日记账]" in result.stdout
    assert "ledger/split" not in result.stdout and "flow graph:" in result.stdout
    assert dftk("ledger", built.files["books.xlsx"], "--ledger-night", "late").exit_code == 2


def test_with_a_case_the_access_is_logged(tmp_path: Path, evidence: tuple[Path, Built]) -> None:
    _, built = evidence
    assert dftk("ledger", built.files["control.ods"], "--case", tmp_path / "case").exit_code == 0
    log = dftk("case", "log", tmp_path / "case").stdout
    assert log.count("evidence.access") == 1


def test_output_is_the_same_for_any_worker_count(evidence: tuple[Path, Built]) -> None:
    folder, _ = evidence
    one = dftk_process("ledger", folder, "--json", "--workers", "1")
    two = dftk_process("ledger", folder, "--json", "--workers", "2")
    assert one.returncode == two.returncode == 0, one.stderr
    assert one.stdout == two.stdout and one.stdout.count("\n") == 6


def test_an_unreadable_ledger_makes_the_output_incomplete(tmp_path: Path, evidence: tuple[Path, Built]) -> None:
    _, built = evidence
    data = built.files["books.xlsx"].read_bytes()
    (tmp_path / "cut.xlsx").write_bytes(data[: len(data) // 2] + data[-200:])
    result = dftk("ledger", tmp_path, "--json")
    assert result.exit_code == 4 and "1 file(s) with problems" in result.stderr
    [record, _] = _lines(result.stdout)
    assert record["findings"] == [] and record["problems"][0].startswith("ledger: xlsx")


def _fat_image(tmp_path: Path, built: Built) -> Path:
    """A FAT16 image holding the ledgers, books.xlsx deleted after (mtools, nothing mounted)."""
    mkfs, mcopy, mdel = require_tool("mkfs.fat"), require_tool("mcopy"), require_tool("mdel")
    image = tmp_path / "ledgers.img"
    with image.open("wb") as out:
        out.truncate(16 << 20)
    subprocess.run([mkfs, "-F", "16", str(image)], check=True, capture_output=True)
    for name, path in sorted(built.files.items()):
        subprocess.run([mcopy, "-i", str(image), str(path), f"::/{name}"], check=True, capture_output=True,
                       env=MTOOLS)
    subprocess.run([mdel, "-i", str(image), "::/books.xlsx"], check=True, capture_output=True, env=MTOOLS)
    return image


def test_run_reports_ledgers_in_a_fat_image_with_one_deleted(tmp_path: Path, evidence: tuple[Path, Built]) -> None:
    _, built = evidence
    image, case, out = _fat_image(tmp_path, built), tmp_path / "case", tmp_path / "report"
    before = image.read_bytes()
    assert dftk("run", image, "--case", case, "--plugin", "ledger").exit_code == 0
    found = _lines(dftk("case", "findings", case, "--kind", "ledger", "--json").stdout)
    tables = {f["subject"]: f["data"] for f in found if f["kind"] == "ledger/table"}
    assert sorted(tables) == sorted(f"/{name}" for name in built.files)
    assert [s for s, t in tables.items() if t["deleted"]] == ["/books.xlsx"]
    for planted in built.planted:
        assert any(f["kind"] == planted.kind and f["subject"] == f"/{planted.file}" and
                   (not planted.rows or f["data"]["rows"] == planted.rows) for f in found), planted
    assert dftk("report", case, "-o", out, "--format", "json,html").exit_code == 0
    page = (out / "report.html").read_text()
    assert "Discipline: accounting" in page and "ledger/split (1)" in page and "ledger/off-day (2)" in page
    assert "<th>@times</th>" not in page
    events = _lines(dftk("timeline", image, "--format", "jsonl", "--case", case).stdout)
    assert {e["time"] for e in events if e["source"] == "ledger/night:time"} == {
        "2023-03-08T23:40:00", "2023-11-15T02:15:00", "2023-11-21T22:30:00"}
    shown = _lines(dftk("ledger", image, "--json").stdout)
    assert [(r["path"], r["deleted"]) for r in shown if r.get("deleted")] == [(f"{image}:/books.xlsx", True)]
    assert image.read_bytes() == before


def test_a_deleted_ledger_carved_from_unallocated_space(tmp_path: Path, evidence: tuple[Path, Built]) -> None:
    _, built = evidence
    image = _fat_image(tmp_path, built)
    assert dftk("carve", image, tmp_path / "carved", "--types", "zip", "--scope", "unallocated").exit_code == 0
    [record, graph] = _lines(dftk("ledger", tmp_path / "carved", "--json").stdout)
    assert record["path"].endswith(".xlsx") and graph["kind"] == "ledger/flow-graph"
    [split] = [f for f in record["findings"] if f["kind"] == "ledger/split"]
    assert split["rows"] == next(p.rows for p in built.planted if p.kind == "ledger/split")
