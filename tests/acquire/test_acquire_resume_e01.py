"""``dftk acquire --format e01 --resume``: an E01 acquisition stopped part-way (Ctrl-C, SIGINT or SIGKILL of
the process, a torn last segment) is continued and ends with the hashes of an uninterrupted run, an image
that ewfverify accepts and media equal to the source; a resume with another source or options is refused."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from dftk.acquire.acquisition import acquire
from dftk.acquire.options import Options
from dftk.acquire.sources import AcquisitionError
from dftk.evidence.opening import open_evidence
from dftk.ewf.sections import CaseFields
from helpers import dftk, require_tool

SECTOR = 512
SPLIT = 1 << 20

# Runs an acquisition in a child process that sends itself a signal once reading reaches a given byte.
KILLER = r"""
import os, sys
from pathlib import Path
from dftk.acquire.acquisition import acquire
from dftk.acquire.options import Options
from dftk.ewf.sections import CaseFields

class Source:
    def __init__(self, path, at, sig):
        self.path, self.data, self.at, self.sig = path, Path(path).read_bytes(), at, sig
        self.size, self.sector_size = len(self.data), 512
    def read(self, offset, length):
        if offset >= self.at:
            os.kill(os.getpid(), self.sig)
        return self.data[offset:offset + length]
    def close(self):
        pass

src, dest, at, sig, split = sys.argv[1:]
acquire(Source(src, int(at), int(sig)), Path(dest),
        Options(fmt="e01", block=64 << 10, workers=2, checkpoint=256 << 10, split=int(split) or None,
                algorithms=("md5", "sha256"), fields=CaseFields(examiner="E")))
"""


class Source:
    """A test double: ``bad`` sectors never read (EIO); Ctrl-C when reading reaches ``interrupt_at``."""

    def __init__(self, data: bytes, bad: frozenset[int] = frozenset(), interrupt_at: int | None = None) -> None:
        self.path, self.size, self.sector_size, self.data = "source", len(data), SECTOR, data
        self.bad, self.interrupt_at = bad, interrupt_at

    def read(self, offset: int, length: int) -> bytes:
        if self.interrupt_at is not None and offset >= self.interrupt_at:
            raise KeyboardInterrupt
        if any(offset <= s * SECTOR < offset + length for s in self.bad):
            raise OSError(errno.EIO, "Input/output error")
        return self.data[offset:offset + length]

    def close(self) -> None:
        pass


def _data(size: int) -> bytes:
    """Random, zeros and text: chunks stored raw, compressed and as the shared empty chunk."""
    text = b"".join(b"line %06d of a log file\n" % i for i in range(size // 20))
    return os.urandom(size // 2) + bytes(size // 4) + text[:size - size // 2 - size // 4]


def _options(**kw: object) -> Options:
    return Options(fmt="e01", block=64 << 10, workers=2, checkpoint=256 << 10,  # type: ignore[arg-type]
                   algorithms=("md5", "sha256"), fields=CaseFields(examiner="E"), **kw)


def _digests(data: bytes) -> dict[str, str]:
    return {a: hashlib.new(a, data).hexdigest() for a in ("md5", "sha1", "sha256")}


def _check_image(log: dict[str, object], media: bytes) -> None:
    """Hashes of the log and stored in the E01 are the media's; libewf reads the media back; ewfverify."""
    files = log["files"]
    assert isinstance(files, list)
    digests = _digests(media)
    assert log["hashes"] == digests and log["status"] in ("unverified", "qualified")
    with open_evidence(files[0], "e01") as ev:
        assert ev.stored_hashes == {"md5": digests["md5"], "sha1": digests["sha1"]}
        assert ev.read(0, ev.size) == media
    check = subprocess.run([require_tool("ewfverify"), "-q", files[0]], capture_output=True, text=True)
    assert check.returncode == 0 and "SUCCESS" in check.stdout and digests["md5"] in check.stdout


def _kill_part_way(src: Path, dest: Path, at: int, sig: signal.Signals, split: int | None) -> None:
    """Returns once the child and its compression processes are gone (these end by themselves when the
    child is killed: the output pipes close only then); stragglers are ended in any case."""
    child = subprocess.Popen([sys.executable, "-c", KILLER, str(src), str(dest), str(at), str(int(sig)),
                              str(split or 0)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             start_new_session=True)
    try:
        _, stderr = child.communicate(timeout=30)
    finally:
        try:
            os.killpg(child.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    assert child.returncode == -sig if sig == signal.SIGKILL else child.returncode != 0, stderr
    assert json.loads(Path(f"{dest}.acquire.json").read_text())["status"] == "incomplete"


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
@pytest.mark.parametrize("split", [None, SPLIT])
def test_killed_or_interrupted_process_resumes_to_the_same_image(tmp_path: Path, sig: signal.Signals,
                                                                 split: int | None) -> None:
    """Split: random data (segments fill evenly), stopped while writing the second segment."""
    data = os.urandom(3 << 20) if split else _data(4 << 20)
    (tmp_path / "src").write_bytes(data)
    split_args = ["--split", str(split)] if split else []
    whole = dftk("acquire", tmp_path / "src", tmp_path / "whole", "--format", "e01", "--examiner", "E",
                 *split_args)
    assert whole.exit_code == 0, whole.output + whole.stderr
    _kill_part_way(tmp_path / "src", tmp_path / "part", (2 << 20) if split else (5 << 19), sig, split)
    if split:
        assert (tmp_path / "part.E02").exists() and not (tmp_path / "part.E03").exists()
    if sig == signal.SIGKILL:  # the last segment ends inside a sectors section: no table, no done
        assert b"done" not in sorted(tmp_path.glob("part.E0*"))[-1].read_bytes()[-76:]
    result = dftk("acquire", tmp_path / "src", tmp_path / "part", "--format", "e01", "--examiner", "E",
                  "--resume", *split_args)
    assert result.exit_code == 0, result.output + result.stderr
    log = json.loads((tmp_path / "part.acquire.json").read_text())
    uninterrupted = json.loads((tmp_path / "whole.acquire.json").read_text())
    assert log["hashes"] == uninterrupted["hashes"] and len(log["files"]) == len(uninterrupted["files"])
    from_byte = log["resumed"][0]["from_byte"]
    assert (1 << 20) < from_byte < len(data) if split else 0 < from_byte < len(data)
    assert from_byte % (32 << 10) == 0
    _check_image(log, data)


@pytest.mark.parametrize("compression", ["fast", "none"])
def test_ctrl_c_resume_keeps_bad_sectors_and_hashes(tmp_path: Path, compression: str) -> None:
    """Ctrl-C ends the open sectors section with its table; without compression (no worker processes) the
    chunks are stored a batch (4 MiB) at a time."""
    data = _data(8 << 20)
    bad = frozenset({3, 4, 2000, 15000})  # before and after the interruption
    whole = acquire(Source(data, bad), tmp_path / "whole", _options(compression=compression))
    with pytest.raises(KeyboardInterrupt):
        acquire(Source(data, bad, interrupt_at=6 << 20), tmp_path / "part", _options(compression=compression))
    log = acquire(Source(data, bad), tmp_path / "part", _options(compression=compression, resume=True))
    assert log["hashes"] == whole["hashes"] and log["bad_sectors"] == whole["bad_sectors"]
    assert log["status"] == "qualified" and 4 << 20 <= log["resumed"][0]["from_byte"] < 6 << 20, log["resumed"]
    media = bytearray(data)
    for s in bad:
        media[s * SECTOR:(s + 1) * SECTOR] = bytes(SECTOR)
    _check_image(log, bytes(media))
    info = subprocess.run([require_tool("ewfinfo"), log["files"][0]], capture_output=True, text=True).stdout
    assert "at sector(s): 15000 - 15000 number: 1" in info and "at sector(s): 3 - 4 number: 2" in info


def _torn_copies(part: Path, out: Path) -> list[tuple[str, Path]]:
    """Copies of a partial split image whose last segment is cut at telling places."""
    last = part.with_name(part.name + ".E02")
    body = last.read_bytes()
    table, table2 = body.rfind(b"table\0"), body.rfind(b"table2")
    cuts = {"in its file header": ("E02", 9), "after its data section": ("E02", 13 + 76 + 1052),
            "inside a table": ("E02", table + 100), "inside a table2 descriptor": ("E02", table2 + 30),
            "at its end minus one byte": ("E02", len(body) - 1), "first segment torn": ("E01", 200)}
    copies = []
    for name, (segment, cut) in cuts.items():
        folder = out / name.replace(" ", "-")
        folder.mkdir()
        for f in part.parent.glob(f"{part.name}.*"):
            shutil.copy(f, folder / f.name)
        os.truncate(folder / f"{part.name}.{segment}", cut)
        copies.append((name, folder / part.name))
    return copies


def test_torn_last_segment_resumes_from_the_last_whole_checkpoint(tmp_path: Path) -> None:
    """As after a crash or power loss: whatever the cut, the resume goes back to a table whose checksums
    hold (into the first segment, or starting over, when needed) and the image is whole again."""
    data = os.urandom(3 << 20)
    (tmp_path / "parts").mkdir()
    part = tmp_path / "parts" / "img"
    with pytest.raises(KeyboardInterrupt):
        acquire(Source(data, interrupt_at=2 << 20), part, _options(split=SPLIT))
    for name, dest in _torn_copies(part, tmp_path):
        log = acquire(Source(data), dest, _options(split=SPLIT, resume=True))
        assert log["resumed"][0]["from_byte"] < 2 << 20, name
        _check_image(log, data)


def test_resume_refused_when_source_or_options_differ(tmp_path: Path) -> None:
    data = _data(2 << 20)
    (tmp_path / "src").write_bytes(data)
    (tmp_path / "other").write_bytes(data + bytes(SECTOR))
    with pytest.raises(KeyboardInterrupt):
        acquire(Source(data, interrupt_at=1 << 20), tmp_path / "part", _options(split=SPLIT))
    base = ["acquire", tmp_path / "src", tmp_path / "part", "--format", "e01", "--examiner", "E", "--resume"]
    for args, named in ((["--split", "1M", "--compression", "best"], "--compression"),
                        (["--split", "2M"], "--split"), (["--split", "1M", "--case-number", "7"], "--case-number"),
                        (["--split", "1M", "--examiner", "F"], "--examiner"), (["--split", "1M", "--format", "raw"],
                                                                              "--format")):
        result = dftk(*base, *args)
        assert result.exit_code == 1 and named in result.stderr, result.stderr
        assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
    other = dftk("acquire", tmp_path / "other", tmp_path / "part", "--format", "e01", "--examiner", "E", "--resume",
                 "--split", "1M")
    assert other.exit_code == 1 and "source size" in other.stderr and len(other.stderr.splitlines()) == 1
    with pytest.raises(AcquisitionError, match="source size"):
        acquire(Source(data[:-SECTOR]), tmp_path / "part", _options(split=SPLIT, resume=True))
    done = dftk(*base, "--split", "1M")
    assert done.exit_code == 0, done.output + done.stderr
    again = dftk(*base, "--split", "1M")
    assert again.exit_code == 1 and "nothing to resume" in again.stderr
