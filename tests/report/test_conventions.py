"""Findings reach the report and the timeline by the conventions in their data, never by plugin name: the
outside example plugin (tests/outside_plugin, installed by `make test`) gets a timeline entry and a report
section exactly as a built-in plugin does."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from dftk.records import IMAGE, POSITION, TIMES
from dftk.report import conventions
from helpers import dftk, require_tool

NOTE = "Date: 2026-03-04T10:20:30+00:00\nMeeting at the harbour.\nBring the invoices.\n"


def _fat_image(tmp_path: Path) -> Path:
    """A FAT16 image holding one text file that states its date (built with mtools, nothing mounted)."""
    mkfs, mcopy = require_tool("mkfs.fat"), require_tool("mcopy")
    (tmp_path / "note.txt").write_text(NOTE)
    image = tmp_path / "notes.img"
    with image.open("wb") as out:
        out.truncate(16 << 20)
    subprocess.run([mkfs, "-F", "16", str(image)], check=True, capture_output=True)
    subprocess.run([mcopy, "-i", str(image), str(tmp_path / "note.txt"), "::/note.txt"], check=True,
                   capture_output=True, env={"MTOOLS_SKIP_CHECK": "1", "PATH": "/usr/bin:/bin"})
    return image


def test_outside_plugin_reaches_timeline_and_report(tmp_path: Path) -> None:
    image, case, out = _fat_image(tmp_path), tmp_path / "case", tmp_path / "report"
    assert dftk("run", image, "--case", case, "--plugin", "linecount", "--plugin", "hashing").exit_code == 0

    timeline = dftk("timeline", image, "--format", "jsonl", "--case", case)
    events = [json.loads(line) for line in timeline.stdout.splitlines()]
    [written] = [e for e in events if e["source"] == "text/lines:date"]
    assert written["time"] == "2026-03-04T10:20:30+00:00" and written["path"] == "/note.txt"
    assert written["meaning"] == "date written in the text"

    assert dftk("report", case, "-o", out, "--format", "json,html").exit_code == 0
    page = (out / "report.html").read_text()
    assert "Discipline: text" in page and "text/lines (1)" in page
    assert "2026-03: 1" in page  # the marked date in the activity chart
    assert "<th>@times</th>" not in page  # hints are not table columns


def test_conventions_read_marked_fields_only() -> None:
    data = {"taken": "2020-01-02T03:04:05", "other": "2021-01-01T00:00:00+00:00", TIMES: {"taken": "taken"},
            "lat": 31.2, "lon": 121.5, POSITION: ["lat", "lon"], "pic": "/9j/AAAA", IMAGE: "pic"}
    assert list(conventions.marked_times(data)) == [("taken", "taken", "2020-01-02T03:04:05")]
    assert conventions.position(data) == (31.2, 121.5)
    assert conventions.picture(data) == "/9j/AAAA"
    [event] = conventions.finding_events([{"kind": "x/y", "subject": "/a", "data": data}])
    assert event["timezone"] == "unknown (as recorded, no offset)" and event["source"] == "x/y:taken"
    assert conventions.position({"lat": 99.0, "lon": 0.0, POSITION: ["lat", "lon"]}) is None
    assert conventions.picture({"pic": "<script>", IMAGE: "pic"}) is None
