"""Exit statuses that tell the truth: 4 whenever a command's output is incomplete, 3 when a check against a
recorded value fails, each with one line on stderr."""

from __future__ import annotations

import gzip
import hashlib
import shutil
from pathlib import Path

from dftk.ewf.sections import CaseFields
from dftk.ewf.writer import EwfWriter
from helpers import FIXTURES, dftk, shared_data


def test_run_is_incomplete_when_the_walk_records_a_problem(tmp_path: Path) -> None:
    image = tmp_path / "loop.img"
    with gzip.open(shared_data("fatcat/docs/images/directory-loop.img.gz")) as packed:
        image.write_bytes(packed.read())
    result = dftk("run", image, "--case", tmp_path / "case", "--plugin", "hashing")
    assert result.exit_code == 4, result.output
    assert "problem(s): the output is incomplete" in result.stderr
    assert "directory cycle" in dftk("case", "problems", tmp_path / "case").stdout


def test_run_exits_3_when_the_media_differs_from_the_hash_stored_in_the_e01(tmp_path: Path) -> None:
    media = (FIXTURES / "images" / "fat12.img").read_bytes()
    writer = EwfWriter(tmp_path / "wrong", len(media), 512, CaseFields(case_number="7"), workers=0)
    writer.write(media)
    writer.finish(hashlib.md5(b"something else").hexdigest(), hashlib.sha1(media).hexdigest())
    result = dftk("run", tmp_path / "wrong.E01", "--case", tmp_path / "case", "--plugin", "hashing")
    assert result.exit_code == 3, result.output
    assert "check(s) failed, first hash/stored-mismatch about evidence" in result.stderr
    assert '"algorithm":"md5"' in result.stderr.replace(" ", "")


def test_a_clean_run_exits_0(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "images" / "ext2.img", tmp_path / "ext2.img")
    assert dftk("run", tmp_path / "ext2.img", "--case", tmp_path / "case", "--plugin", "hashing").exit_code == 0


def test_meta_is_incomplete_when_a_file_could_not_be_read_fully(tmp_path: Path) -> None:
    good = shared_data("exif-py/jpg/gps/DSCN0010.jpg")
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8\xff\xe0broken")
    shutil.copy(good, tmp_path / "good.jpg")
    result = dftk("meta", tmp_path / "good.jpg", "--workers", "1")
    assert result.exit_code == 0, result.output
    result = dftk("meta", tmp_path, "--workers", "1")
    assert result.exit_code == 4 and "1 of 2 file(s) with problems: the output is incomplete" in result.stderr
