"""A split raw image with a segment missing or cut short is refused, never read with later bytes shifted."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from helpers import FIXTURES, dftk

SEGMENT = 1 << 20


@pytest.fixture
def split(tmp_path: Path) -> Path:
    """The FAT16 fixture (3 MiB) cut into 1 MiB segments img.001..img.003, plus zeros to 8 segments."""
    data = (FIXTURES / "images" / "fat16.img").read_bytes().ljust(8 * SEGMENT, b"\0")
    for n in range(8):
        (tmp_path / f"img.{n + 1:03d}").write_bytes(data[n * SEGMENT:(n + 1) * SEGMENT])
    return tmp_path / "img.001"


def test_a_complete_set_opens_whole(split: Path) -> None:
    result = dftk("evidence", "info", split, "--json")
    assert result.exit_code == 0 and '"size": 8388608' in result.stdout


@pytest.mark.parametrize("command", [("evidence", "info", "{ev}"), ("fs", "ls", "{ev}"),
                                     ("run", "{ev}", "--case", "{case}")])
def test_a_missing_middle_segment_is_refused(split: Path, command: tuple[str, ...]) -> None:
    (split.parent / "img.004").unlink()
    result = dftk(*(a.format(ev=split, case=split.parent / "case") for a in command))
    assert result.exit_code == 1, result.output
    assert "img.004: segment missing from the split image (4 later segment(s) exist, up to img.008)" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_short_middle_segment_is_refused(split: Path) -> None:
    with (split.parent / "img.003").open("r+b") as f:
        f.truncate(SEGMENT - 512)
    result = dftk("evidence", "info", split)
    assert result.exit_code == 1 and "img.003: holds 1048064 bytes, the segments before it 1048576" in result.stderr


def test_a_short_last_segment_is_normal(split: Path) -> None:
    with (split.parent / "img.008").open("r+b") as f:
        f.truncate(1000)
    assert dftk("evidence", "info", split).exit_code == 0


def test_verify_of_a_split_image_with_a_gap_fails(split: Path, tmp_path: Path) -> None:
    shutil.copy(split, tmp_path / "copy.001")  # a lone .001 with nothing after it is a raw image, not a gap
    (split.parent / "img.006").unlink()
    assert dftk("verify", split).exit_code in (1, 3)
