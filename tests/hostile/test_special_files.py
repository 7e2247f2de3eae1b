"""Only regular files (and block devices named as evidence) are read: a FIFO, socket, character device or link
is listed as what it is and skipped, never read (a FIFO without a writer blocks, /dev/zero has no end)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from dftk.evidence.files import EvidenceFile
from dftk.evidence.logical import LogicalEvidence, open_regular
from dftk.records import Problem
from helpers import dftk_process


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    ev = tmp_path / "ev"
    ev.mkdir()
    (ev / "a.txt").write_text("an ordinary file\n")
    os.symlink("/etc/passwd", ev / "link")
    os.mkfifo(ev / "pipe")
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(ev / "sock"))
    try:
        os.mknod(ev / "zero", 0o644 | 0o020000, os.makedev(1, 5))  # the /dev/zero device
    except PermissionError:
        pass  # not root: the FIFO and the socket still show the rule
    return ev


def test_the_folder_walk_lists_every_entry_that_is_not_a_regular_file(folder: Path) -> None:
    items = list(LogicalEvidence(folder).walk())
    files = [i.path for i in items if isinstance(i, EvidenceFile)]
    problems = {i.subject: i.message for i in items if isinstance(i, Problem)}
    assert files == ["/a.txt"]
    assert problems["/link"] == "symbolic link to /etc/passwd: listed, not followed"
    assert problems["/pipe"] == "named pipe (FIFO): listed, content not read"
    assert problems["/sock"] == "socket: listed, content not read"
    if (folder / "zero").exists():
        assert problems["/zero"] == "character device: listed, content not read"


def test_a_regular_file_replaced_by_a_fifo_after_the_walk_is_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(OSError, match="named pipe"):
        open_regular(tmp_path / "pipe")


def test_a_file_that_grew_after_the_walk_is_read_only_up_to_the_listed_size(tmp_path: Path) -> None:
    (tmp_path / "log.txt").write_bytes(b"x" * 100)
    evidence = LogicalEvidence(tmp_path)
    [file] = [i for i in evidence.walk() if isinstance(i, EvidenceFile)]
    (tmp_path / "log.txt").write_bytes(b"x" * 1000)
    assert len(evidence.open_file(file)) == 100


@pytest.mark.parametrize("command", ["meta", "hash"])
def test_meta_and_hash_refuse_a_character_device_and_a_fifo_at_once(tmp_path: Path, command: str) -> None:
    os.mkfifo(tmp_path / "fifo")
    for target, kind in (("/dev/zero", "character device"), (str(tmp_path / "fifo"), "named pipe (FIFO)")):
        result = dftk_process(command, target, timeout=60)
        assert result.returncode == 4, result.stderr
        assert f"{kind}: listed, content not read" in result.stdout + result.stderr
        assert "Traceback" not in result.stderr


def test_meta_on_a_folder_lists_the_special_entries_and_reads_the_file(folder: Path) -> None:
    result = dftk_process("meta", str(folder), "--json", timeout=60)
    assert result.returncode == 4
    assert '"path": "' + str(folder / "a.txt") in result.stdout
    for name in ("link", "pipe", "sock"):
        assert '"path": "' + str(folder / name) in result.stdout
    assert "file(s) with problems: the output is incomplete" in result.stderr


def test_hash_r_lists_what_it_skips(folder: Path) -> None:
    result = dftk_process("hash", "-r", str(folder), timeout=60)
    assert result.returncode == 4
    assert "a.txt" in result.stdout
    assert "link: symbolic link: listed, not followed" in result.stderr
    assert "pipe: named pipe (FIFO): listed, content not read" in result.stderr


def test_run_on_a_folder_records_the_special_entries_as_problems(folder: Path, tmp_path: Path) -> None:
    result = dftk_process("run", str(folder), "--case", str(tmp_path / "case"), "--plugin", "hashing", timeout=120)
    assert result.returncode == 4, result.stderr
    problems = dftk_process("case", "problems", str(tmp_path / "case")).stdout
    assert "named pipe (FIFO): listed, content not read" in problems
