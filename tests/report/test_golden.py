"""The golden report: a fixture case built and reported with a fixed clock gives a byte-identical report.json."""

from __future__ import annotations

import os
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dftk import clock
from helpers import FIXTURES, REPO, dftk

GOLDEN = REPO / "tests" / "golden" / "report.json"
GOLDEN_DIR = Path("/tmp/dftk-golden-case")  # fixed: paths are part of the record
FIXED = datetime.fromtimestamp(1_700_000_000, tz=UTC)
HOST = {"timezone": "UTC", "utc_offset": "0:00:00", "clock_source": "tsc", "synchronized": True,
        "clock": "clock_gettime(CLOCK_REALTIME)"}


def _golden_report(root: Path, monkeypatch: pytest.MonkeyPatch) -> bytes:
    """The clock is fixed by replacing dftk.clock.utc inside this process: nothing a user can set outside a test
    freezes a custody time (SOURCE_DATE_EPOCH decides only the report's own rendering time)."""
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    image = root / "ext2.img"
    shutil.copy(FIXTURES / "images" / "ext2.img", image)
    os.utime(image, (1_700_000_000, 1_700_000_000))
    monkeypatch.setattr(clock, "utc", lambda: FIXED)
    monkeypatch.setattr(clock, "host_clock", lambda: HOST)
    monkeypatch.setenv("DFTK_EXAMINER", "Golden Examiner")
    for args in (["run", str(image), "--case", str(root / "case"), "--plugin", "hashing"],
                 ["report", str(root / "case"), "-o", str(root / "out"), "--format", "json", "--deterministic"]):
        monkeypatch.setattr(sys, "argv", ["dftk", *args])  # the command line is part of the custody record
        result = dftk(*args)
        assert result.exit_code == 0, result.output
    return (root / "out" / "report.json").read_bytes()


def test_golden_report_is_byte_identical(monkeypatch: pytest.MonkeyPatch) -> None:
    produced = _golden_report(GOLDEN_DIR, monkeypatch)
    if os.environ.get("DFTK_UPDATE_GOLDEN"):
        GOLDEN.write_bytes(produced)
    assert produced == GOLDEN.read_bytes(), "set DFTK_UPDATE_GOLDEN=1 to accept a deliberate change"
    assert _golden_report(GOLDEN_DIR, monkeypatch) == produced
