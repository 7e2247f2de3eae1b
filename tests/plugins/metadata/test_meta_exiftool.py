"""`dftk meta` against exiftool on the four metadata test sets (issue 6), through bench/compare_meta.py.

The script runs `exiftool -j -n -G -r` and `dftk meta --json` once per set and compares the core fields; every
disagreement must be listed with a reason in its ALLOWED table, and every ALLOWED entry must still be needed.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from helpers import REPO, TESTDATA, require_tool, shared_data


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("compare_meta", REPO / "bench" / "compare_meta.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["compare_meta"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


compare_meta = _script()


def test_dftk_meta_agrees_with_exiftool_on_the_four_sets() -> None:
    exiftool = require_tool("exiftool")
    for name in compare_meta.SETS:
        shared_data(name)
    results = compare_meta.compare(compare_meta.SETS, TESTDATA, exiftool)
    figures = {r.name: r.summary() for r in results}
    problems = [f"{c.file} {c.field}: exiftool={c.exiftool!r} dftk={c.dftk!r}" for r in results for c in r.unexpected]
    problems += [e for r in results for e in r.errors]
    assert not problems, f"unexpected disagreements with exiftool (add a fix or an ALLOWED reason): {problems}"
    stale = compare_meta.stale_entries(results)
    assert not stale, f"ALLOWED entries that match no disagreement any more: {stale}"
    assert figures["exif-py"]["compared"] > 200 and figures["tinytag"]["compared"] > 250
    assert figures["py-pdf-sample-files"]["compared"] > 60 and figures["oletools"]["compared"] > 100


def test_every_allowed_entry_has_a_reason_and_names_a_core_field() -> None:
    fields = {f for table in compare_meta.FIELDS.values() for f in table} | {"*"}
    for entry in compare_meta.ALLOWED:
        assert entry.reason.strip() and entry.field in fields, entry
        assert entry.file.split("/", 1)[0] in compare_meta.SETS, entry


def test_normalization() -> None:
    agree = compare_meta.agree
    assert agree("datetime_original", "2012:08:07 14:35:59", "2012-08-07T14:35:59.40+02:00")
    assert not agree("datetime_original", "2012:08:07 14:35:59", "2012-08-07T14:36:00")
    assert agree("gps_latitude", -33.865, -33.865009) and not agree("gps_latitude", -33.865, -33.86502)
    assert agree("duration_seconds", 9.1, 9.19) and not agree("duration_seconds", 9.0, 9.2)
    assert agree("pages", 3, "3") and agree("title", "another", "first; another")
    assert agree("artist", "a6/a7", "a1; a6; a7") and agree("artist", ["x", "y"], "x; y")
    assert compare_meta.present("  ") is None and compare_meta.present(["", " "]) is None
    exif: dict[str, Any] = {"ASF:Duration": 5.241, "ASF:Preroll": 3100, "Composite:Duration": 0}
    assert compare_meta.exiftool_values(exif, "duration_seconds", compare_meta.AUDIO_FIELDS["duration_seconds"]) \
        == [5.241 - 3.1]


def test_a_disagreement_not_listed_is_unexpected(tmp_path: Path) -> None:
    base = tmp_path.resolve()
    exif = {str(base / "s/a.pdf"): {"File:MIMEType": "application/pdf", "PDF:Author": "Ann", "PDF:PageCount": 2}}
    ours = {str(base / "s/a.pdf"): {"mime": "application/pdf", "fields": {"author": "Bob", "pages": 2}}}
    result = compare_meta.compare_set("s", exif, ours, base, allowed=())
    assert (result.compared, result.agreements, [c.field for c in result.unexpected]) == (2, 1, ["author"])
    allowed = (compare_meta.Allowed("s/*.pdf", "author", "test"),)
    result = compare_meta.compare_set("s", exif, ours, base, allowed=allowed)
    assert not result.unexpected and [c.reason for c in result.allowed] == ["test"]
