"""The yara plugin and `dftk scan`: parity with the yara CLI, raw media offsets, and limits as Problems."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from dftk.evidence.base import Evidence
from dftk.evidence.files import EvidenceFile
from dftk.records import Finding, Problem, Record
from dftk_plugins.scanning.yara_rules import YaraPlugin
from helpers import dftk, require_tool, shared_data

# (rule file, needs --allow-include, why it is special)
RULE_SETS = [
    ("plaso/rules.yara", False, "PE header rules with `at` and uint32()"),
    ("yara/data/baz.yar", False, "condition-only rule: matches every file, empty ones included"),
    ("yara/data/foo.yar", True, "include of include/bar.yar, which includes ../baz.yar"),
    ("yara/data/include/bar.yar", True, "include with a relative parent path"),
]
OPTS: dict[str, Any] = {"yara_allow_include": False, "yara_timeout": 10, "yara_max_size": 1 << 30,
                        "yara_max_strings": 100, "yara_raw": True}


def yara_cli(rules: Path, target: Path) -> set[tuple[str, str]]:
    out = subprocess.run([require_tool("yara"), "-r", str(rules), str(target)], capture_output=True, text=True,
                         check=True).stdout
    return {(line.split(" ", 1)[0], str(Path(line.split(" ", 1)[1]).relative_to(target))) for line in out.splitlines()}


def dftk_scan(evidence: Path, *args: str) -> tuple[list[dict[str, Any]], Any]:
    result = dftk("scan", evidence, *args, "--json", "--no-raw", "--max-strings", "100000")
    return [json.loads(line) for line in result.stdout.splitlines()], result


@pytest.mark.interop
@pytest.mark.parametrize("rules,include,why", RULE_SETS, ids=[r[0] for r in RULE_SETS])
@pytest.mark.parametrize("folder", ["plaso", "yara/data"])
def test_parity_with_yara_cli_on_loose_files(rules: str, include: bool, why: str, folder: str) -> None:
    target = shared_data(folder)
    found, result = dftk_scan(target, "--rules", shared_data(rules), *(["--allow-include"] if include else []))
    assert result.exit_code == 0, result.output
    ours = {(f["rule"], f["subject"].lstrip("/")) for f in found}
    assert ours == yara_cli(shared_data(rules), target) and ours, why


@pytest.mark.interop
@pytest.mark.parametrize("rules,include,why", RULE_SETS, ids=[r[0] for r in RULE_SETS])
def test_parity_with_yara_cli_on_files_extracted_from_an_image(rules: str, include: bool, why: str,
                                                               tmp_path: Path) -> None:
    image = shared_data("plaso/image.E01")
    assert dftk("fs", "extract", image, tmp_path / "x", "--deleted").exit_code == 0
    manifest = [json.loads(line) for line in (tmp_path / "x" / "manifest.jsonl").read_text().splitlines()]
    where = {row["path"]: row["extracted"] for row in manifest}
    (tmp_path / "x" / "manifest.jsonl").unlink()
    found, result = dftk_scan(image, "--rules", shared_data(rules), *(["--allow-include"] if include else []))
    assert result.exit_code == 0, result.output
    ours = {(f["rule"], where[f["subject"]]) for f in found}
    assert ours == yara_cli(shared_data(rules), tmp_path / "x"), why


def test_json_lines_carry_rule_namespace_strings_and_file_context(tmp_path: Path) -> None:
    (tmp_path / "ev").mkdir()
    (tmp_path / "ev" / "a.txt").write_bytes(b"xx secret yy secret")
    rules = tmp_path / "r.yar"
    rules.write_text('rule s : tag1 { meta: author = "x" strings: $a = "secret" '
                     'condition: $a and filename == "a.txt" and extension == "txt" }')
    [row], result = dftk_scan(tmp_path / "ev", "--rules", rules)
    assert result.exit_code == 0
    assert (row["rule"], row["namespace"], row["tags"], row["meta"], row["subject"]) == \
        ("s", "r.yar", ["tag1"], {"author": "x"}, "/a.txt")
    assert [(s["identifier"], s["offset"]) for s in row["strings"]] == [("$a", 3), ("$a", 13)]


def _records(plugin: YaraPlugin, data: bytes, **opts: Any) -> list[Record]:
    return list(plugin.analyze(EvidenceFile("/f.bin", len(data)), data, **{**OPTS, **opts}))


def test_timeout_is_a_problem(tmp_path: Path) -> None:
    rules = tmp_path / "slow.yar"
    rules.write_text("rule slow { condition: for all i in (0..filesize) : "
                     "(for all j in (0..filesize) : (uint8(i) != uint8(j) or i >= 0)) }")
    records = _records(YaraPlugin(), b"\x01" * 200_000, yara_rules=(str(rules),), yara_timeout=1)
    assert [r.message for r in records if isinstance(r, Problem)] == ["YARA scan abandoned after --yara-timeout 1 s"]


def test_file_over_the_size_limit_is_a_problem(tmp_path: Path) -> None:
    rules = tmp_path / "r.yar"
    rules.write_text("rule all_files { condition: true }")
    [problem] = _records(YaraPlugin(), b"x" * 100, yara_rules=(str(rules),), yara_max_size=99)
    assert isinstance(problem, Problem) and "over --yara-max-size 99" in problem.message


def test_include_is_refused_unless_allowed_and_the_other_rules_still_run(tmp_path: Path) -> None:
    foo, pe = shared_data("yara/data/foo.yar"), shared_data("plaso/rules.yara")
    result = dftk("scan", shared_data("plaso"), "--rules", foo, "--rules", pe, "--json", "--no-raw")
    assert result.exit_code == 4  # incomplete, not failed
    assert "--yara-allow-include" in result.stderr and str(foo.resolve()) in result.stderr
    assert {json.loads(line)["rule"] for line in result.stdout.splitlines()} == {"PEfile", "PEfileBasic"}


def test_too_many_string_matches_are_capped_with_a_problem(tmp_path: Path) -> None:
    rules = tmp_path / "r.yar"
    rules.write_text('rule a { strings: $a = "ab" condition: $a }')
    finding, problem = _records(YaraPlugin(), b"ab" * 50, yara_rules=(str(rules),), yara_max_strings=5)
    assert isinstance(finding, Finding) and len(finding.data["strings"]) == 5 and finding.data["string_matches"] == 50
    assert isinstance(problem, Problem) and "50 string matches, only 5 reported" in problem.message


def test_no_usable_rules_is_an_error(tmp_path: Path) -> None:
    result = dftk("scan", tmp_path, "--rules", shared_data("plaso/unsupported_rules.yara"))
    assert result.exit_code == 1 and "no usable YARA rules" in result.stderr and "number_of_streams" in result.stderr


def test_raw_media_match_straddling_chunks_is_reported_once_at_its_image_offset(tmp_path: Path) -> None:
    rules = tmp_path / "r.yar"
    rules.write_text('rule m { strings: $a = "NEEDLE-IN-THE-MEDIA" condition: $a }')
    data = bytearray(3 << 20)
    spots = [(1 << 20) - 7, (2 << 20) + 100]  # the first straddles the 1 MiB chunk boundary
    for at in spots:
        data[at:at + 19] = b"NEEDLE-IN-THE-MEDIA"
    ev = Evidence.from_bytes(bytes(data))
    consumer = YaraPlugin().media(ev, **{**OPTS, "yara_rules": (str(rules),)})
    records = [r for offset, chunk in ev.chunks(1 << 20) for r in consumer.feed(offset, chunk)]
    records += list(consumer.close())
    offsets = [s["offset"] for r in records if isinstance(r, Finding) for s in r.data["strings"]]
    assert offsets == spots
    assert all(isinstance(r, Finding) and r.data["scope"] == "raw" for r in records)


def test_scan_of_an_image_reports_files_and_raw_media(tmp_path: Path) -> None:
    rules = tmp_path / "r.yar"
    rules.write_text('rule pw { strings: $a = "password" nocase condition: $a }')
    result = dftk("scan", shared_data("plaso/image.E01"), "--rules", rules, "--json")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert {r["scope"] for r in rows} == {"file", "raw"}, result.output
    raw = [r for r in rows if r["scope"] == "raw"]
    assert all(r["subject"] == f"offset:0x{r['offset']:x}" and isinstance(r["unallocated"], bool) for r in raw)


def test_scan_into_a_case_records_like_dftk_run(tmp_path: Path) -> None:
    rules = tmp_path / "r.yar"
    rules.write_text('rule pw { strings: $a = "password" nocase condition: $a }')
    args = ("scan", shared_data("plaso/image.E01"), "--rules", rules, "--json", "--case", tmp_path / "c")
    first = dftk(*args)
    assert first.exit_code in (0, 4) and first.stdout
    assert dftk(*args).stdout == first.stdout  # a rerun resumes: nothing new, the same output
    stored = dftk("case", "findings", tmp_path / "c", "--kind", "yara/match", "--json").output.splitlines()
    assert len(stored) == len(first.stdout.splitlines())


def test_an_edited_rule_file_under_the_same_path_is_new_work(tmp_path: Path) -> None:
    rules = tmp_path / "r.yar"
    rules.write_text('rule pw { strings: $a = "password" nocase condition: $a }')
    args = ("scan", shared_data("plaso/image.E01"), "--rules", rules, "--json", "--case", tmp_path / "c")
    dftk(*args)
    rules.write_text('rule pw2 { strings: $a = "password" nocase condition: $a }')
    second = dftk(*args)
    assert second.exit_code in (0, 4) and second.stdout
    assert "pw2" in {json.loads(line)["rule"] for line in second.stdout.splitlines()}  # scanned again
    stored = dftk("case", "findings", tmp_path / "c", "--kind", "yara/match", "--json").output.splitlines()
    assert {json.loads(line)["data"]["rule"] for line in stored} == {"pw", "pw2"}


def test_carved_files_are_scanned_with_image_offsets(tmp_path: Path) -> None:
    import os
    import random

    pdf = next(p for p in sorted(shared_data("py-pdf-sample-files").rglob("*.pdf")) if "005" not in p.name)
    content = pdf.read_bytes()
    planted = 512 * 1000
    filler = random.Random(3).randbytes(planted)
    image = tmp_path / "raw.img"
    image.write_bytes(filler + content + os.urandom(512 * 200))
    rules = tmp_path / "r.yar"
    rules.write_text('rule pdf_header { strings: $h = "%PDF-" condition: $h at 0 }')
    assert dftk("carve", image, tmp_path / "carved", "--scope", "all", "--evidence-format", "raw").exit_code in (0, 4)
    result = dftk("scan", image, "--rules", rules, "--carved", tmp_path / "carved", "--no-raw",
                  "--evidence-format", "raw", "--json")
    matches = [json.loads(line) for line in result.stdout.splitlines()]
    carved = [m for m in matches if m.get("scope") == "carved" and m["rule"] == "pdf_header"]
    assert carved and carved[0]["carved"]["offset"] == planted
    assert carved[0]["strings"][0]["image_offset"] == planted
