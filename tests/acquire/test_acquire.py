"""``dftk acquire``: bad sectors through a fault-injecting source, resume, errors, E01 interop, verify."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from dftk.acquire.acquisition import acquire
from dftk.acquire.options import Options
from dftk.acquire.sources import AcquisitionError, FileSource
from dftk.acquire.verify import verify_image
from dftk.case import custody
from dftk.case.store import CaseStore
from dftk.errors import SignatureError
from dftk.evidence.opening import open_evidence
from dftk.ewf.compression import pack_chunks
from dftk.ewf.sections import CaseFields
from helpers import dftk, require_tool, shared_data

SECTOR = 512


class FaultySource:
    """A test double: ``always`` sectors never read, ``once`` sectors fail on their first read only,
    ``gone_at`` makes the device vanish, ``interrupt_at`` simulates Ctrl-C at that byte."""

    def __init__(self, data: bytes, always: set[int] = frozenset(), once: set[int] = frozenset(),  # type: ignore[assignment]
                 gone_at: int | None = None, interrupt_at: int | None = None) -> None:
        self.path, self.size, self.sector_size, self.data = "faulty", len(data), SECTOR, data
        self.always, self.once, self.failed = set(always), set(once), set()
        self.gone_at, self.interrupt_at = gone_at, interrupt_at

    def read(self, offset: int, length: int) -> bytes:
        if self.interrupt_at is not None and offset >= self.interrupt_at:
            raise KeyboardInterrupt
        if self.gone_at is not None and offset + length > self.gone_at:
            raise OSError(errno.ENODEV, "No such device")
        sectors = set(range(offset // SECTOR, -(-(offset + length) // SECTOR)))
        fresh = (sectors & self.once) - self.failed
        self.failed |= fresh
        if sectors & self.always or fresh:
            raise OSError(errno.EIO, "Input/output error")
        return self.data[offset:offset + length]

    def close(self) -> None:
        pass


class FaultyIntoSource(FaultySource):
    """The same faults through ``readinto`` (the reused-buffer path :class:`FileSource` takes)."""

    def readinto(self, offset: int, view: memoryview) -> int:
        data = self.read(offset, len(view))
        view[:len(data)] = data
        return len(data)


def _data(size: int) -> bytes:
    return os.urandom(size // 2) + bytes(size // 4) + os.urandom(size - size // 2 - size // 4)


def _options(**kw: object) -> Options:
    return Options(block=64 << 10, workers=2, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("source", [FaultySource, FaultyIntoSource])
def test_bad_sectors_zeroed_exactly_logged_and_qualified(tmp_path: Path, source: type[FaultySource]) -> None:
    data = _data(1 << 20)
    always = {5, 6, 7, 300, 2047}
    once = {8, 900, 901, 1500}
    log = acquire(source(data, always, once), tmp_path / "img.raw", _options(verify=True, retries=1))
    expected = bytearray(data)
    for s in always:
        expected[s * SECTOR:(s + 1) * SECTOR] = bytes(SECTOR)
    assert (tmp_path / "img.raw").read_bytes() == bytes(expected)
    assert [(b["start"], b["count"]) for b in log["bad_sectors"]] == [(5, 3), (300, 1), (2047, 1)]
    assert log["status"] == "qualified" and log["verification"]["outcome"] == "match"
    saved = json.loads((tmp_path / "img.raw.acquire.json").read_text())
    assert saved["status"] == "qualified" and saved["bad_sectors"] == log["bad_sectors"]
    assert "sectors 5-7 (3): Input/output error" in (tmp_path / "img.raw.acquire.txt").read_text()


def test_bad_sectors_in_e01_error2_section(tmp_path: Path) -> None:
    data = _data(1 << 20)
    log = acquire(FaultySource(data, {100, 101}), tmp_path / "img", _options(fmt="e01", verify=True))
    assert log["status"] == "qualified"
    ewfinfo = subprocess.run([require_tool("ewfinfo"), str(tmp_path / "img.E01")], capture_output=True, text=True)
    assert "at sector(s): 100 - 101 number: 2" in ewfinfo.stdout


@pytest.mark.parametrize("source", [FaultySource, FaultyIntoSource])
def test_vanished_source_is_an_error_not_a_bad_sector(tmp_path: Path, source: type[FaultySource]) -> None:
    with pytest.raises(AcquisitionError, match="vanished"):
        acquire(source(_data(1 << 20), gone_at=300_000), tmp_path / "img.raw", _options())


def test_destination_full_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(fd: int, data: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("dftk.acquire.sinks.os.write", full)
    with pytest.raises(AcquisitionError, match="destination full"):
        acquire(FaultySource(_data(1 << 20)), tmp_path / "img.raw", _options())


def test_unwritable_destination_and_existing_image_exit_1(tmp_path: Path) -> None:
    (tmp_path / "src").write_bytes(b"x" * 4096)
    result = dftk("acquire", tmp_path / "src", tmp_path / "no" / "such" / "dir" / "img.raw")
    assert result.exit_code == 1 and len(result.stderr.splitlines()) == 1
    (tmp_path / "img.raw").write_bytes(b"old")
    result = dftk("acquire", tmp_path / "src", tmp_path / "img.raw")
    assert result.exit_code == 1 and "never overwrites" in result.stderr


@pytest.mark.parametrize("split", [None, 200_000])
def test_resume_ends_with_the_same_hashes(tmp_path: Path, split: int | None) -> None:
    data = _data(1 << 20)
    whole = acquire(FaultySource(data, {9}), tmp_path / "whole.raw", _options(split=split))
    with pytest.raises(KeyboardInterrupt):
        acquire(FaultySource(data, {9}, interrupt_at=600_000), tmp_path / "part.raw", _options(split=split))
    assert json.loads((tmp_path / "part.raw.acquire.json").read_text())["status"] == "incomplete"
    resumed = acquire(FaultySource(data, {9}), tmp_path / "part.raw", _options(split=split, resume=True))
    assert resumed["hashes"] == whole["hashes"] and resumed["bad_sectors"] == whole["bad_sectors"]
    assert resumed["resumed"][0]["from_byte"] == 655_360


def test_split_raw_round_trip_and_verify_image(tmp_path: Path) -> None:
    data = _data(1 << 20)
    (tmp_path / "src").write_bytes(data)
    result = dftk("acquire", tmp_path / "src", tmp_path / "img.raw", "--split", "300K", "-a", "sha256")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.glob("img.raw.0*")) == ["img.raw.001", "img.raw.002", "img.raw.003",
                                                                  "img.raw.004"]
    with open_evidence(tmp_path / "img.raw.001", "split") as ev:
        assert ev.read(0, ev.size) == data
    assert [line.split()[:2] for line in verify_image(tmp_path / "img.raw.001")][0][0] == "ok"
    with open(tmp_path / "img.raw.002", "r+b") as f:
        f.write(b"tampered")
    with pytest.raises(SignatureError, match="sha256 mismatch"):
        list(verify_image(tmp_path / "img.raw.001"))


@pytest.fixture(scope="module")
def ext2_raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    raw = tmp_path_factory.mktemp("ext2") / "ext2.raw"
    with open_evidence(shared_data("dfvfs/ext2.E01"), "e01") as ev:
        raw.write_bytes(ev.read(0, ev.size))
    return raw


@pytest.mark.parametrize("split", [None, "1M"])
def test_e01_interop_ewfverify_ewfinfo_fls_and_hash(ext2_raw: Path, tmp_path: Path, split: str | None) -> None:
    args = ["acquire", ext2_raw, tmp_path / "ev", "--format", "e01", "--case-number", "2026-042",
            "--evidence-number", "EV-7", "--examiner", "Dana Scully", "--description", "ext2 test disk",
            "--notes", "seized 2026-11-27", "--verify", *(["--split", split, "--compression", "none"] if split else [])]
    result = dftk(*args)
    assert result.exit_code == 0, result.output + result.stderr
    assert "status       verified" in result.output
    segments = sorted(tmp_path.glob("ev.E0*"))
    assert (len(segments) > 1) == bool(split)
    check = subprocess.run([require_tool("ewfverify"), "-q", str(segments[0])], capture_output=True, text=True)
    assert check.returncode == 0 and "SUCCESS" in check.stdout
    info = subprocess.run([require_tool("ewfinfo"), str(segments[0])], capture_output=True, text=True).stdout
    for value in ("2026-042", "EV-7", "Dana Scully", "ext2 test disk", "seized 2026-11-27"):
        assert value in info
    fls = require_tool("fls")
    ours = subprocess.run([fls, "-r", "-p", *map(str, segments)], capture_output=True, text=True, check=True)
    theirs = subprocess.run([fls, "-r", "-p", str(ext2_raw)], capture_output=True, text=True, check=True)
    assert ours.stdout == theirs.stdout and ours.stdout
    hashed = [json.loads(line) for line in dftk("hash", "-a", "sha256", ext2_raw, segments[0]).output.splitlines()]
    assert hashed[0]["sha256"] == hashed[1]["sha256"] and hashed[1]["kind"] == "e01-media"


def test_file_source_raw_and_e01_with_and_without_shared_memory(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A file source (read into reused buffers), blocks of several batches and a last partial chunk: raw
    equals the source; E01 through shared memory and through the fallback (no room in /dev/shm) passes
    ewfverify with the source's hashes, and the random chunks are stored raw, the rest compressed."""
    data = _data(3 << 20) + b"text line\n" * 51_200 + os.urandom(7 * SECTOR)
    (tmp_path / "src").write_bytes(data)
    md5 = hashlib.md5(data).hexdigest()
    src = FileSource(tmp_path / "src")
    try:
        raw = acquire(src, tmp_path / "img.raw", Options(block=1 << 20, algorithms=("md5",)))
        assert (tmp_path / "img.raw").read_bytes() == data and raw["hashes"]["md5"] == md5
        shared = acquire(src, tmp_path / "shared", Options(fmt="e01", block=5 << 20, workers=2))
        monkeypatch.setattr("dftk.ewf.compression.os.statvfs", lambda path: os.statvfs_result((4096,) * 2 + (0,) * 8))
        fallback = acquire(src, tmp_path / "fallback", Options(fmt="e01", block=5 << 20, workers=2))
    finally:
        src.close()
    for log in (shared, fallback):
        assert log["hashes"]["md5"] == md5
        check = subprocess.run([require_tool("ewfverify"), "-q", log["files"][0]], capture_output=True, text=True)
        assert check.returncode == 0 and md5 in check.stdout
    assert len(data) // 2 < os.path.getsize(shared["files"][0]) < len(data)


@pytest.mark.parametrize("tail", [SECTOR, 33 * SECTOR])
def test_e01_with_a_short_random_last_chunk_passes_ewfverify(tmp_path: Path, tail: int) -> None:
    """Several shared buffers, the last one partly filled: a short last chunk stored raw holds only the media
    bytes (not the stale rest of the buffer), so libewf finds its checksum."""
    data = os.urandom((9 << 20) + tail)
    (tmp_path / "src").write_bytes(data)
    src = FileSource(tmp_path / "src")
    try:
        log = acquire(src, tmp_path / "img", Options(fmt="e01", workers=2))
    finally:
        src.close()
    check = subprocess.run([require_tool("ewfverify"), "-q", log["files"][0]], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert hashlib.md5(data).hexdigest() in check.stdout


def test_incompressible_chunks_are_stored_raw_without_compressing(monkeypatch: pytest.MonkeyPatch) -> None:
    chunk = 64 * SECTOR
    mixed = os.urandom(chunk // 2) + bytes(chunk // 2)
    batch = os.urandom(chunk) + bytes(chunk) + mixed + b"abc" * (chunk // 3) + b"ab"
    compressed = []
    real = zlib.compress
    monkeypatch.setattr("dftk.ewf.compression.zlib.compress",
                        lambda data, level=-1: compressed.append(len(data)) or real(data, level))
    packed = pack_chunks(batch, chunk, 1)
    assert [c for _, c in packed] == [False, True, True, True]
    assert packed[0][0] == struct.pack("<I", zlib.adler32(batch[:chunk]))
    assert compressed[0] == 4 * 512  # the random chunk: only its four samples were tried
    assert [zlib.decompress(d) for d, c in packed if c] == [batch[chunk:2 * chunk], mixed, batch[3 * chunk:]]
    assert [c for _, c in pack_chunks(batch, chunk, 9)] == [False, True, True, True]


def test_verify_image_e01_ok_and_damaged(tmp_path: Path) -> None:
    log = acquire(FaultySource(_data(1 << 20)), tmp_path / "img", _options(fmt="e01", fields=CaseFields("c")))
    first = Path(log["files"][0])
    assert [line.split()[1] for line in verify_image(first)] == ["md5", "sha1"]
    damaged = bytearray(first.read_bytes())
    middle = len(damaged) // 2
    damaged[middle:middle + 16] = bytes(b ^ 0xFF for b in damaged[middle:middle + 16])
    (tmp_path / "bad.E01").write_bytes(bytes(damaged))
    with pytest.raises(SignatureError):
        list(verify_image(tmp_path / "bad.E01"))


def test_case_records_a_custody_event(tmp_path: Path) -> None:
    (tmp_path / "src").write_bytes(os.urandom(10_000))
    result = dftk("acquire", tmp_path / "src", tmp_path / "img.raw", "--case", tmp_path / "case", "--examiner", "E")
    assert result.exit_code == 0, result.output + result.stderr
    store = CaseStore.open(tmp_path / "case", create=False)
    try:
        events = [e for e in custody.events(store) if e["action"] == "evidence.acquire"]
        custody.verify(store)
    finally:
        store.close()
    assert len(events) == 1 and events[0]["examiner"] == "E"
    assert json.loads(events[0]["details"])["status"] == "unverified"


def test_dftk_verify_dispatches_images(tmp_path: Path) -> None:
    from helpers import dftk, shared_data

    good = dftk("verify", shared_data("dfvfs/ext2.E01"))
    assert good.exit_code == 0 and "matches the hash stored in the image" in good.output
    damaged = tmp_path / "damaged.E01"
    stored = bytes.fromhex("196066add11fb71c4c49cf1bb50d6d24")  # the MD5 in its hash and digest sections
    data = shared_data("dfvfs/ext2.E01").read_bytes()
    assert stored in data
    damaged.write_bytes(data.replace(stored, bytes(b ^ 1 for b in stored)))
    bad = dftk("verify", damaged)
    assert bad.exit_code == 3 and "Traceback" not in bad.stderr
