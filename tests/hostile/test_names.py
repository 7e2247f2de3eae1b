"""Hostile names and strings from the evidence: every output escapes them for its destination (dftk/text.py).

An ext4 image holds files whose names carry a bodyfile record of their own, terminal escape sequences (clear
the screen, set the window title, ring the bell), CR and LF, and a right-to-left override."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from helpers import dftk, require_tool

FORGED = "x|0|0|0|0|0|0|0|0|0\n0|FORGED_launch_codes.docx|0|r-rrwxrwxrwx|0|0|0|1|1|1|1"
NAMES = [FORGED, "clear\x1b[2J\x1b[Hscreen.txt", "title\x1b]0;pwned\x07.txt", "cr\rlf\nname.txt",
         "\u202etxt.exe", "ok.txt"]
RAW = ("\x1b", "\x07", "\r", "\u202e")


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    mkfs = require_tool("mkfs.ext4")
    root = tmp_path_factory.mktemp("hostile")
    files = root / "files"
    files.mkdir()
    for n, name in enumerate(NAMES):
        (files / name).write_text(f"file {n}: mail eve@example.com\n")
    image = root / "hostile.img"
    subprocess.run([mkfs, "-q", "-F", "-d", str(files), str(image), "4M"], check=True, capture_output=True)
    return image


def test_the_bodyfile_has_one_line_per_entry_and_mactime_sees_no_forged_event(image: Path, tmp_path: Path) -> None:
    mactime = require_tool("mactime")
    body = dftk("timeline", image).stdout
    names = [line.split("|")[1] for line in body.splitlines()]
    assert all(len(line.split("|")) == 11 for line in body.splitlines())
    assert not any(name.startswith("FORGED") for name in names)
    assert any("^0^FORGED_launch_codes.docx^0^" in name for name in names)  # shown, in its own record
    (tmp_path / "dftk.body").write_text(body)
    events = subprocess.run([mactime, "-b", str(tmp_path / "dftk.body"), "-z", "UTC", "-d"], capture_output=True,
                            text=True, check=True).stdout
    assert not any(line.split(",")[-1].startswith("FORGED") for line in events.splitlines())


def test_text_outputs_never_carry_control_or_direction_characters(image: Path, tmp_path: Path) -> None:
    assert dftk("run", image, "--case", tmp_path / "case", "--plugin", "hashing", "--plugin", "indicators",
                "--plugin", "image").exit_code == 0
    rules = tmp_path / "r.yar"
    rules.write_text('rule mail { strings: $a = "example.com" condition: $a }\n')
    outputs = {
        "fs ls": dftk("fs", "ls", image), "case findings": dftk("case", "findings", tmp_path / "case"),
        "case problems": dftk("case", "problems", tmp_path / "case"), "meta": dftk("meta", image, "--workers", "1"),
        "scan": dftk("scan", image, "--rules", rules, "--workers", "1"),
        "timeline csv": dftk("timeline", image, "--format", "csv"),
    }
    for what, result in outputs.items():
        for raw in RAW:
            assert raw not in result.stdout + result.stderr, (what, raw)
    assert "clear\\x1b[2J\\x1b[Hscreen.txt" in outputs["fs ls"].stdout
    assert "\\u202etxt.exe" in outputs["fs ls"].stdout
    assert "\\x1b]0;pwned\\x07" in outputs["scan"].stdout


def test_json_outputs_keep_the_exact_names_escaped(image: Path) -> None:
    result = dftk("fs", "ls", image, "--json")
    assert not any(raw in result.stdout for raw in RAW)
    names = {json.loads(line)["path"].lstrip("/") for line in result.stdout.splitlines()}
    assert set(NAMES) <= names


def test_extracted_names_are_safe_and_the_manifest_keeps_the_original(image: Path, tmp_path: Path) -> None:
    assert dftk("fs", "extract", image, tmp_path / "out").exit_code == 0
    written = [p.name for p in (tmp_path / "out").rglob("*") if p.is_file() and p.name != "manifest.jsonl"]
    assert not any(any(raw in name or "\n" in name for raw in RAW) for name in written)
    assert "%u202Etxt.exe" in written
    originals = {json.loads(line)["path"] for line in (tmp_path / "out" / "manifest.jsonl").read_text().splitlines()}
    assert "/\u202etxt.exe" in originals


def test_the_report_page_shows_direction_characters_visibly(image: Path, tmp_path: Path) -> None:
    assert dftk("run", image, "--case", tmp_path / "case", "--plugin", "hashing").exit_code == 0
    assert dftk("report", tmp_path / "case", "-o", tmp_path / "out", "--format", "json,html").exit_code == 0
    page = (tmp_path / "out" / "report.html").read_text()
    assert "\u202e" not in page and "\x1b" not in page and "\\u202etxt.exe" in page


def test_an_e01_description_cannot_drive_the_terminal(tmp_path: Path) -> None:
    source = tmp_path / "src.bin"
    source.write_bytes(bytes(512 * 64))
    result = dftk("acquire", source, tmp_path / "disk", "--format", "e01", "--description",
                  "\x1b]0;pwned\x07\x1b[2Jwiped")
    assert result.exit_code == 0, result.output
    info = dftk("evidence", "info", tmp_path / "disk.E01", "--evidence-format", "e01")
    assert info.exit_code == 0 and "\x1b" not in info.stdout and "\\x1b]0;pwned\\x07" in info.stdout
