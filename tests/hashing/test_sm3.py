"""SM3 (GB/T 32905-2016) wherever dftk offers a hash: the standard's vectors, openssl, a recorded run."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from dftk.case.store import CaseStore
from dftk.hashing.algorithms import ALGORITHMS, digest_all, new_hasher, parse_algorithms
from dftk.hashing.multihash import MultiHasher, hasher_pool
from helpers import dftk, require_tool

# GB/T 32905-2016, appendix A: example 1 ("abc") and example 2 ("abcd" sixteen times).
VECTORS = {
    b"abc": "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0",
    b"abcd" * 16: "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732",
}


@pytest.mark.parametrize("message", list(VECTORS))
def test_the_standards_vectors(message: bytes) -> None:
    assert "sm3" in ALGORITHMS and parse_algorithms("MD5, sm3") == ("md5", "sm3")
    hasher = new_hasher("sm3")
    for i in range(len(message)):  # byte by byte: the state carries across updates
        hasher.update(message[i:i + 1])
    assert hasher.hexdigest() == VECTORS[message]
    assert digest_all([message[:5], message[5:]], ("sm3", "md5")) == (
        {"sm3": VECTORS[message], "md5": hashlib.md5(message).hexdigest()}, len(message))


def test_threaded_lanes_and_pieces() -> None:
    data = os.urandom(3 << 20) + b"abc"
    with hasher_pool(("sm3", "sha256")) as pool:
        hasher = MultiHasher(("sm3", "sha256"), piece=1 << 20, pool=pool)
        for start in range(0, len(data), 1 << 19):
            hasher.update(data[start:start + (1 << 19)])
        hashes, pieces = hasher.result()
    assert hashes == {"sm3": hashlib.new("sm3", data).hexdigest(), "sha256": hashlib.sha256(data).hexdigest()}
    assert pieces[-1].hashes["sm3"] == VECTORS[b"abc"]


def test_dftk_hash_equals_openssl_dgst(tmp_path: Path) -> None:
    openssl = require_tool("openssl")
    target = tmp_path / "evidence.bin"
    target.write_bytes(os.urandom(1 << 20) + b"abcd" * 16)
    result = dftk("hash", "-a", "sm3,sha256", target, "--json")
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    out = subprocess.run([openssl, "dgst", "-sm3", str(target)], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("= " + record["sm3"])
    assert record["sha256"] == hashlib.sha256(target.read_bytes()).hexdigest()


def test_dftk_hash_refuses_an_unknown_algorithm(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"abc")
    result = dftk("hash", "-a", "sm4", tmp_path / "f")
    assert result.exit_code == 2 and "sm3" in result.output  # the choices named include sm3


def test_a_recorded_run_stores_sm3_in_file_findings(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "abc.txt").write_bytes(b"abc")
    (tree / "abcd.txt").write_bytes(b"abcd" * 16)
    result = dftk("run", tree, "--case", tmp_path / "case", "--plugin", "hashing",
                  "--hashing-algorithms", "md5,sm3")
    assert result.exit_code == 0, result.output
    with CaseStore.open(tmp_path / "case", create=False) as store:
        found = {f["subject"]: f["data"] for f in store.parsed_findings("hash/file")}
    assert {subject: data["sm3"] for subject, data in found.items()} == {
        "/abc.txt": VECTORS[b"abc"], "/abcd.txt": VECTORS[b"abcd" * 16]}
    assert found["/abc.txt"]["md5"] == hashlib.md5(b"abc").hexdigest() and "sha256" not in found["/abc.txt"]


def test_sm3_in_the_acquisition_log_and_the_seals(tmp_path: Path) -> None:
    openssl = require_tool("openssl")
    source = tmp_path / "src.bin"
    source.write_bytes(bytes(range(256)) * 4096)
    expected = subprocess.run([openssl, "dgst", "-sm3", str(source)], capture_output=True, text=True,
                              check=True).stdout.split("= ")[1].strip()
    assert dftk("acquire", source, tmp_path / "img", "--format", "raw", "-a", "md5,sm3").exit_code == 0
    log = json.loads((tmp_path / "img.acquire.json").read_text())
    assert log["hashes"]["sm3"] == expected
    assert "ok sm3" in dftk("verify", tmp_path / "img").output
    (tmp_path / "folder").mkdir()
    shutil.copy(source, tmp_path / "folder" / "src.bin")
    assert dftk("run", tmp_path / "folder", "--case", tmp_path / "case", "--plugin", "hashing",
                "--seal-sm3").exit_code == 0
    report = tmp_path / "out"
    assert dftk("report", tmp_path / "case", "-o", report, "--format", "json").exit_code == 0
    [item] = json.loads((report / "report.json").read_text())["evidence"]
    assert {s["sources"][0]["sm3"] for s in (seal["detail"] for seal in item["seals"])} == {expected}
    listed = json.loads((report / "report.manifest.json").read_text())["files"]
    assert all(len(entry["sm3"]) == 64 for entry in listed)  # every report file's SM3 too
