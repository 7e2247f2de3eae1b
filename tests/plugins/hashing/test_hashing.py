"""The hashing plugin: media hashes against ewfinfo's record, file hashes against hashlib."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any, ClassVar

import pytest

from dftk.case.run import Pipeline
from dftk.case.store import CaseStore
from dftk.engine.contract import Plugin
from dftk.engine.engine import Settings
from dftk.engine.registry import LoadedPlugin, installed
from dftk.evidence.base import Evidence
from dftk.evidence.files import EvidenceFile
from dftk.hashing.algorithms import ALGORITHMS
from dftk.records import Finding, Problem, Record
from dftk_plugins.hashing import HashingPlugin, parse_algorithms
from helpers import dftk, expected_ewf_md5, shared_data


def evidence_hashes(case: Path) -> dict[str, object]:
    out = dftk("case", "findings", case, "--kind", "hash/evidence", "--json").output
    [row] = [json.loads(line) for line in out.splitlines()]
    return dict(row["data"])


def test_acceptance_ext2_e01_md5_matches_ewfinfo(tmp_path: Path) -> None:
    result = dftk("run", shared_data("dfvfs/ext2.E01"), "--case", tmp_path / "c")
    assert result.exit_code == 0, result.output
    assert evidence_hashes(tmp_path / "c")["md5"] == expected_ewf_md5()["dfvfs/ext2.E01"]


@pytest.mark.parametrize("name", ["dfvfs/ext2.split.E01", "plaso/image.E01", "plaso/image-split.E01",
                                  "sleuthkit/test/data/image.E01"])
def test_every_verified_e01_hashes_as_ewfverify_did(name: str, tmp_path: Path) -> None:
    expected = expected_ewf_md5()
    if name not in expected:
        pytest.skip(f"{name} has no ewfverify record")
    result = dftk("run", shared_data(name), "--case", tmp_path / "c")
    assert result.exit_code in (0, 4), result.stderr  # 4: a volume TSK cannot open (plaso's image-split.E01)
    assert evidence_hashes(tmp_path / "c")["md5"] == expected[name]
    kinds = dftk("case", "findings", tmp_path / "c", "--kind", "hash/stored-match").output
    assert '"algorithm": "md5"' in kinds.replace('"algorithm":"md5"', '"algorithm": "md5"')


def _media_records(ev: Evidence, **opts: object) -> list[object]:
    consumer = HashingPlugin().media(ev, **opts)
    records: list[object] = []
    for offset, data in ev.chunks(1 << 16):
        records.extend(consumer.feed(offset, data))
    return records + list(consumer.close())


def test_all_algorithms_from_the_shared_media_pass() -> None:
    data = bytes(range(256)) * 5000
    algorithms = parse_algorithms("md5,sha1,sha256,sha512,blake2b")
    [finding] = _media_records(Evidence.from_bytes(data), hashing_algorithms=algorithms)
    assert isinstance(finding, Finding) and finding.data["size"] == len(data)
    for name in algorithms:
        assert finding.data[name] == hashlib.new(name, data).hexdigest()


class Tally(Plugin):
    """Counts bytes in the media pass (a second media-scope plugin)."""

    name: ClassVar[str] = "tally"
    discipline: ClassVar[str] = "test"
    version: ClassVar[str] = "1"

    def media(self, evidence: Evidence, **opts: Any) -> Any:
        return _Tally()


class _Tally:
    def __init__(self) -> None:
        self.n = 0

    def feed(self, offset: int, data: bytes) -> list[Record]:
        self.n += len(data)
        return []

    def close(self) -> list[Record]:
        return [Finding("test/tally", "evidence", {"bytes": self.n})]


def test_media_is_read_once_for_all_media_plugins(tmp_path: Path) -> None:
    data = bytes(range(256)) * 80000  # 20 MB: several chunks
    ev = Evidence.from_bytes(data)
    reads: list[int] = []
    ev.observer = reads.append
    store = CaseStore.open(tmp_path / "case")
    Pipeline(ev, store, [installed()["hashing"], LoadedPlugin(Tally, "test")], {}, Settings(progress=False)).run()
    # the media pass reads in 8 MiB chunks; the smaller reads are TSK probing for a file system to walk
    assert sum(n for n in reads if n >= 1 << 20) == len(data)
    kinds = {f["kind"]: json.loads(f["data"]) for f in store.findings()}
    assert kinds["test/tally"]["bytes"] == len(data) and kinds["hash/evidence"]["size"] == len(data)


def test_stored_hash_mismatch_is_a_finding_and_a_problem() -> None:
    ev = Evidence.from_bytes(b"evidence bytes")
    ev.stored_hashes = {"md5": "0" * 32}
    records = _media_records(ev)
    assert any(isinstance(r, Finding) and r.kind == "hash/stored-mismatch" for r in records)
    assert any(isinstance(r, Problem) and "differs" in r.message for r in records)


def test_file_hash_with_context() -> None:
    file = EvidenceFile("/a/报告.txt", 5, inode=12)
    [finding] = HashingPlugin().analyze(file, b"hello", hashing_algorithms=("sha256",))
    assert isinstance(finding, Finding) and finding.subject == "/a/报告.txt"
    assert finding.data["sha256"] == hashlib.sha256(b"hello").hexdigest() and finding.data["inode"] == 12


# --- known-good and known-bad sets ----------------------------------------------------------------

RDS_V3_FILE = ("CREATE TABLE FILE (sha256 VARCHAR NOT NULL, sha1 VARCHAR NOT NULL, md5 VARCHAR NOT NULL, "
               "crc32 VARCHAR NOT NULL, file_name VARCHAR NOT NULL, file_size INTEGER NOT NULL, "
               "package_id INTEGER NOT NULL, CONSTRAINT PK_FILE__FILE PRIMARY KEY (sha256, sha1, md5, file_name, "
               "file_size, package_id))")


def _known_records(data: bytes, **opts: object) -> list[Record]:
    return list(HashingPlugin().analyze(EvidenceFile("/x/f.bin", len(data)), data, **opts))


def test_known_good_hashdeep_and_known_bad_sha1sum_lines(tmp_path: Path) -> None:
    good, bad, other = b"good file\n", b"bad file\n", b"neither\n"
    for name, data in (("good", good), ("bad", bad), ("other", other)):
        (tmp_path / name).write_bytes(data)
    (tmp_path / "nsrl.txt").write_text(dftk("hash", "-a", "md5,sha256", "--format", "hashdeep",
                                            tmp_path / "good").output)
    (tmp_path / "bad.sha1").write_text(f"# lab malware\n{hashlib.sha1(bad).hexdigest().upper()} *dropper.exe\n")
    opts = {"hashing_algorithms": ("md5",), "hashing_known_good": (str(tmp_path / "nsrl.txt"),),
            "hashing_known_bad": (str(tmp_path / "bad.sha1"),)}
    hit = _known_records(good, **opts)
    assert [r.kind for r in hit if isinstance(r, Finding)] == ["hash/file", "hash/known"]
    known = hit[1]
    assert isinstance(known, Finding) and known.data == {
        "set": "nsrl.txt", "algorithm": "md5", "hash": hashlib.md5(good).hexdigest(),
        "known_name": str(tmp_path / "good")}
    notable = _known_records(bad, **opts)
    assert isinstance(notable[1], Finding) and notable[1].kind == "hash/notable"
    assert notable[1].data["set"] == "bad.sha1" and notable[1].data["known_name"] == "dropper.exe"
    assert set(notable[0].data) & set(ALGORITHMS) == {"md5"}  # sha1 computed for matching, not reported
    assert [r.kind for r in _known_records(other, **opts) if isinstance(r, Finding)] == ["hash/file"]


def test_known_good_nsrl_rds_v3_sqlite(tmp_path: Path) -> None:
    data = b"a system dll"
    db = sqlite3.connect(tmp_path / "RDS_2024.03.1_modern_minimal.db")
    db.execute(RDS_V3_FILE)
    db.execute("INSERT INTO FILE VALUES (?, ?, ?, 'ABCD1234', 'kernel32.dll', ?, 7)",
               (hashlib.sha256(data).hexdigest().upper(), hashlib.sha1(data).hexdigest().upper(),
                hashlib.md5(data).hexdigest().upper(), len(data)))
    db.commit()
    db.close()
    opts = {"hashing_algorithms": ("md5",), "hashing_known_good": (str(tmp_path / "RDS_2024.03.1_modern_minimal.db"),)}
    records = _known_records(data, **opts)
    assert isinstance(records[1], Finding) and records[1].kind == "hash/known"
    assert records[1].data["known_name"] == "kernel32.dll" and records[1].data["algorithm"] == "sha256"
    assert len(_known_records(b"something else", **opts)) == 1


def test_known_sets_through_dftk_run_and_bad_set_is_usage_error(tmp_path: Path) -> None:
    seized = tmp_path / "seized"
    seized.mkdir()
    (seized / "tool.exe").write_bytes(b"MZ evil payload")
    (seized / "notes.txt").write_bytes(b"shopping list")
    (tmp_path / "bad.txt").write_text(f"{hashlib.sha256(b'MZ evil payload').hexdigest()}  evil.exe\n")
    result = dftk("run", seized, "--case", tmp_path / "c", "--plugin", "hashing",
                  "--hashing-known-bad", tmp_path / "bad.txt")
    assert result.exit_code == 0, result.output + result.stderr
    out = dftk("case", "findings", tmp_path / "c", "--kind", "hash/notable", "--json").output
    rows = [json.loads(line) for line in out.splitlines()]
    assert [(Path(r["subject"]).name, r["data"]["known_name"]) for r in rows] == [("tool.exe", "evil.exe")]
    (tmp_path / "broken.txt").write_text("not a hash\n")
    bad = dftk("run", seized, "--case", tmp_path / "c2", "--hashing-known-good", tmp_path / "broken.txt")
    assert bad.exit_code == 2 and "line 1" in bad.stderr


def test_an_updated_known_set_is_new_work(tmp_path: Path) -> None:
    from dftk_plugins.hashing import HashingPlugin

    known = tmp_path / "known.txt"
    known.write_text(f"{hashlib.md5(b'a').hexdigest()}  a\n")
    opts: dict[str, Any] = {"hashing_algorithms": ("md5",), "hashing_known_good": (str(known),),
                            "hashing_known_bad": ()}
    before = HashingPlugin.work_identity(opts)
    known.write_text(f"{hashlib.md5(b'b').hexdigest()}  b\n")
    assert HashingPlugin.work_identity(opts) != before
    plain = {"hashing_algorithms": ("md5",), "hashing_known_good": (), "hashing_known_bad": ()}
    assert HashingPlugin.work_identity(plain) == plain  # no set named: the options alone, as before
