"""Evidence: every format behind one read-only interface, and bad evidence as one clean line."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from dftk.errors import EvidenceError
from dftk.evidence.base import Evidence
from dftk.evidence.files import EvidenceFile
from dftk.evidence.logical import LogicalEvidence
from dftk.evidence.opening import open_evidence
from dftk.evidence.raw import split_segments
from dftk.fs.walk import content, files
from helpers import dftk_process, expected_ewf_md5, shared_data


def md5_of(evidence: Evidence) -> str:
    h = hashlib.md5()
    for _, data in evidence.chunks(size=1 << 16):
        h.update(data)
    return h.hexdigest()


def test_from_bytes_reads_within_bounds() -> None:
    ev = Evidence.from_bytes(bytes(range(256)) * 4)
    assert ev.size == 1024 and ev.format == "bytes"
    assert ev.read(250, 10) == bytes(range(250, 256)) + bytes(range(4))
    assert ev.read(1020, 100) == bytes(range(252, 256))
    assert ev.read(5000, 10) == b""
    assert b"".join(d for _, d in ev.chunks(size=100)) == bytes(range(256)) * 4
    with pytest.raises(EvidenceError):
        ev.read(-1, 4)


def test_raw_image_reads_the_file() -> None:
    path = shared_data("sleuthkit/test/data/image.dd")
    with open_evidence(path) as ev:
        assert (ev.format, ev.size, ev.sector_size) == ("raw", 102400, 512)
        assert ev.read(0, ev.size) == path.read_bytes()


@pytest.mark.parametrize("given", ["ext2.splitraw.000", "ext2.splitraw.001"])
def test_numbered_split_raw_is_one_stream(given: str) -> None:
    first = shared_data("dfvfs/ext2.splitraw.000")
    whole = first.read_bytes() + shared_data("dfvfs/ext2.splitraw.001").read_bytes()
    with open_evidence(first.parent / given) as ev:
        assert ev.format == "split" and len(ev.sources) == 2
        assert ev.size == len(whole)
        # a read that straddles the segment boundary
        assert ev.read(len(first.read_bytes()) - 100, 200) == whole[len(first.read_bytes()) - 100 :][:200]
        assert md5_of(ev) == hashlib.md5(whole).hexdigest()


def test_a_range_of_an_image_file_is_mapped_as_read(tmp_path: Path) -> None:
    data = shared_data("sleuthkit/test/data/image.dd").read_bytes()
    for i, start in enumerate(range(0, len(data), 40000)):
        (tmp_path / f"image.a{'abc'[i]}").write_bytes(data[start : start + 40000])
    with open_evidence(tmp_path / "image.aa") as ev:
        for offset, length in [(0, 4096), (40000, 40000), (40001, 39999), (80000 + 777, len(data) - 80777)]:
            view = ev.mapped(offset, length)
            assert view is not None and bytes(view) == data[offset : offset + length] == ev.read(offset, length)
        assert ev.mapped(39000, 2000) is None  # across two segment files: read it
        assert ev.mapped(len(data) - 10, 20) is None  # past the end
    assert Evidence.from_bytes(data).mapped(0, 100) is None


def test_lettered_split_raw(tmp_path: Path) -> None:
    data = shared_data("sleuthkit/test/data/image.dd").read_bytes()
    for i, start in enumerate(range(0, len(data), 40000)):
        (tmp_path / f"image.a{'abc'[i]}").write_bytes(data[start : start + 40000])
    assert [p.name for p in split_segments(tmp_path / "image.aa") or []] == ["image.aa", "image.ab", "image.ac"]
    with open_evidence(tmp_path / "image.aa") as ev:
        assert ev.format == "split" and ev.read(0, ev.size) == data


@pytest.mark.parametrize("name", ["dfvfs/ext2.E01", "dfvfs/ext2.split.E01", "plaso/image.E01",
                                  "sleuthkit/test/data/imageformat_mmls_1.E01"])
def test_e01_media_hash_and_stored_hash(name: str) -> None:
    expected = expected_ewf_md5()[name.replace("sleuthkit/test/data", "sleuthkit/test/data")]
    with open_evidence(shared_data(name)) as ev:
        assert ev.format == "e01"
        assert ev.stored_hashes["md5"] == expected
        assert md5_of(ev) == expected


def test_split_e01_lists_its_segments() -> None:
    with open_evidence(shared_data("dfvfs/ext2.split.E01")) as ev:
        assert [p.name for p in ev.sources] == ["ext2.split.E01", "ext2.split.E02"]
        assert ev.size == 4194304 and ev.metadata["case_number"] == "case"


def test_logical_walk_is_sorted_and_does_not_follow_links(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "2.txt").write_bytes(b"two")
    (tmp_path / "a.txt").write_bytes(b"one")
    (tmp_path / "证据.txt").write_bytes("三".encode())
    (tmp_path / "loop").symlink_to(tmp_path)
    (tmp_path / os.fsdecode(b"bad\xffname")).write_bytes(b"x")
    ev = open_evidence(tmp_path)
    assert isinstance(ev, LogicalEvidence) and not ev.has_media
    files = [f for f in ev.walk() if isinstance(f, EvidenceFile)]
    assert [f.path for f in files] == ["/a.txt", "/bad\\xffname", "/证据.txt", "/b/2.txt"]
    assert ev.size == 3 + 1 + 3 + 3
    assert ev.open_file(files[2]) == "三".encode()
    assert all(f.mtime is not None and f.mtime.utcoffset().total_seconds() == 0 for f in files)  # type: ignore[union-attr]


def test_big_files_are_mapped_read_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("dftk.evidence.logical.MAP_THRESHOLD", 10)
    (tmp_path / "big.bin").write_bytes(b"0123456789" * 100)
    ev = open_evidence(tmp_path)
    [file] = [f for f in ev.walk() if isinstance(f, EvidenceFile)]
    data = ev.open_file(file)
    assert not isinstance(data, bytes) and bytes(data[:10]) == b"0123456789"
    with pytest.raises(TypeError):
        data[0] = 1  # type: ignore[index]
    data.close()  # type: ignore[union-attr]


def test_opening_uses_no_write_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    real_open = os.open

    def spy(path: object, flags: int, *args: object, **kwargs: object) -> int:
        seen.append(flags)
        return real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", spy)
    (tmp_path / "f").write_bytes(b"abc")
    for path in (shared_data("sleuthkit/test/data/image.dd"), shared_data("dfvfs/ext2.splitraw.000"), tmp_path):
        with open_evidence(path) as ev:
            for item in files(ev):
                if isinstance(item, EvidenceFile):
                    content(ev, item)
    assert seen and all(f & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND) == 0 for f in seen)


def _bad_cases(tmp_path: Path) -> dict[str, Path]:
    empty = tmp_path / "empty.dd"
    empty.touch()
    truncated = tmp_path / "truncated.E01"
    truncated.write_bytes(shared_data("dfvfs/ext2.E01").read_bytes()[:6000])
    text = tmp_path / "notes.txt"
    text.write_text("not an image\n")
    fake_e01 = tmp_path / "fake.E01"
    fake_e01.write_bytes(b"hello, not EWF" * 100)
    return {
        "missing": tmp_path / "missing.dd",
        "empty": empty,
        "bogus-e01": shared_data("sleuthkit/test/data/bogus.E01"),
        "bogus-001": shared_data("dfvfs/bogus.001"),
        "truncated-e01": truncated,
        "not-an-image": text,
        "fake-e01": fake_e01,
    }


@pytest.mark.parametrize("case", ["missing", "empty", "bogus-e01", "bogus-001", "truncated-e01", "not-an-image",
                                  "fake-e01"])
@pytest.mark.parametrize("command", ["run", "evidence info"])
def test_bad_evidence_is_one_line_and_exit_1(tmp_path: Path, case: str, command: str) -> None:
    path = _bad_cases(tmp_path)[case]
    args = [*command.split(), str(path)] + (["--case", str(tmp_path / "case")] if command == "run" else [])
    result = dftk_process(*args)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and path.name in lines[0], result.stderr
    assert result.stdout == ""
    assert not (tmp_path / "case").exists()


def test_raw_format_accepts_arbitrary_bytes() -> None:
    with open_evidence(shared_data("dfvfs/bogus.001"), "raw") as ev:
        assert ev.size == 51200
