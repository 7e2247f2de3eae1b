"""``dftk hash``: equals md5sum/sha256sum and hashdeep, E01 media hashes, piecewise, audit."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

from dftk.hashing.multihash import MultiHasher, hash_fd, hasher_pool
from helpers import TESTDATA, dftk, expected_ewf_md5, require_tool, shared_data


def _records(output: str) -> dict[str, dict[str, object]]:
    return {r["path"]: r for r in map(json.loads, output.splitlines())}


def _sums(tool: str, files: list[Path]) -> dict[str, str]:
    out = subprocess.run([tool, "--", *map(str, files)], capture_output=True, text=True, check=True).stdout
    return {os.path.abspath(line[line.index(" ") + 2:]): line.split()[0] for line in out.splitlines()}


def test_equals_md5sum_and_sha256sum_for_every_shared_file() -> None:
    shared_data("INDEX.md")
    files = sorted(p for p in TESTDATA.rglob("*") if p.is_file() and not p.is_symlink() and "\n" not in p.name)
    result = dftk("hash", "-r", "--container", "-a", "md5,sha256", TESTDATA)
    assert result.exit_code == 0, result.output
    got = _records(result.output)
    assert len(got) == len(files)
    md5, sha256 = _sums(require_tool("md5sum"), files), _sums(require_tool("sha256sum"), files)
    for path, record in got.items():
        assert (record["md5"], record["sha256"]) == (md5[path], sha256[path]), path


def test_e01_media_hash_equals_ewfverify() -> None:
    for name, md5 in expected_ewf_md5().items():
        record = json.loads(dftk("hash", "-a", "md5", shared_data(name)).output)
        assert (record["kind"], record["md5"]) == ("e01-media", md5), name


def test_split_e01_media_equals_split_raw() -> None:
    e01 = json.loads(dftk("hash", "-a", "sha1", shared_data("dfvfs/ext2.split.E01")).output)
    raw = json.loads(dftk("hash", "-a", "sha1", shared_data("dfvfs/ext2.E01")).output)
    assert e01["sha1"] == raw["sha1"] and e01["size"] == raw["size"]


def test_threaded_multihash_and_pieces_equal_hashlib() -> None:
    data = os.urandom(3 << 20) + bytes(5 << 20) + b"tail"
    algorithms = ("md5", "sha1", "sha256", "sha512", "blake2b")
    with hasher_pool(algorithms) as pool:
        hasher = MultiHasher(algorithms, piece=3_000_000, pool=pool)
        for start in range(0, len(data), 1 << 21):
            hasher.update(data[start:start + (1 << 21)])
        hashes, pieces = hasher.result()
    assert hashes == {a: hashlib.new(a, data).hexdigest() for a in algorithms}
    assert [p.offset for p in pieces] == list(range(0, len(data), 3_000_000))
    for p in pieces:
        assert p.hashes["sha256"] == hashlib.sha256(data[p.offset:p.offset + p.length]).hexdigest()


def test_hash_fd_reused_buffers_and_split_lanes_equal_hashlib(tmp_path: Path) -> None:
    """Blocks read into reused buffers, the algorithms spread over the pool's threads (md5 alone, sha1
    and sha256 together on two cores), several blocks in flight: the same digests and pieces as hashlib in one go."""
    data = os.urandom(5 << 20) + bytes(3 << 20) + b"tail" * 1000
    (tmp_path / "f").write_bytes(data)
    algorithms = ("md5", "sha1", "sha256", "blake2b")
    for block in (1 << 20, 3 << 20):
        with hasher_pool(algorithms) as pool:
            hasher = MultiHasher(algorithms, piece=1_000_000, pool=pool)
            seen: list[int] = []
            fd = os.open(tmp_path / "f", os.O_RDONLY)
            try:
                hashes, pieces = hash_fd(fd, hasher, seen.append, block=block)
            finally:
                os.close(fd)
        assert hashes == {a: hashlib.new(a, data).hexdigest() for a in algorithms}
        assert sum(seen) == len(data) == hasher.size
        assert [p.offset for p in pieces] == list(range(0, len(data), 1_000_000))
        assert pieces[-1].hashes["md5"] == hashlib.md5(data[pieces[-1].offset:]).hexdigest()
    with hasher_pool(("md5", "sha1", "sha256")) as pool:
        groups = [[lane.algorithm for lane in g] for g in MultiHasher(("md5", "sha1", "sha256"), None, pool)._groups]
    assert groups == ([["md5"], ["sha1", "sha256"]] if pool.width > 1 else [["md5", "sha1", "sha256"]])


def test_hashdeep_format_and_piecewise_equal_hashdeep(tmp_path: Path) -> None:
    hashdeep = require_tool("hashdeep")
    (tmp_path / "f").write_bytes(os.urandom(10_000))
    ours = dftk("hash", "-a", "md5,sha256", "--piecewise", "4K", "--format", "hashdeep", tmp_path / "f").output
    theirs = subprocess.run([hashdeep, "-c", "md5,sha256", "-p", "4096", str(tmp_path / "f")],
                            capture_output=True, text=True, check=True).stdout
    body = [line for line in theirs.splitlines() if not line.startswith(("%", "#"))]
    assert [line for line in ours.splitlines() if not line.startswith(("%", "#"))] == body
    assert ours.splitlines()[1] == theirs.splitlines()[1]


def _prepare_audit(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "ev"
    root.mkdir()
    for name in ("same", "to_move", "to_delete"):
        (root / name).write_text(f"content of {name}\n")
    known = tmp_path / "known.txt"
    result = dftk("hash", "-r", "-a", "md5,sha1", "--format", "hashdeep", root)
    known.write_text(result.output)
    (root / "to_move").rename(root / "moved")
    (root / "to_delete").unlink()
    (root / "new").write_text("never seen\n")
    return root, known


def test_audit_classifies_matched_moved_new_missing(tmp_path: Path) -> None:
    root, known = _prepare_audit(tmp_path)
    result = dftk("hash", "-r", "-a", "md5,sha1", "--audit", known, root)
    assert result.exit_code == 3
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    verdicts = {(Path(r["path"]).name if r["path"] else None, r["audit"]) for r in lines if "path" in r}
    assert verdicts == {("same", "matched"), ("moved", "moved"), ("new", "new"), (None, "missing")}
    assert lines[-1] == {"audit": "failed", "matched": 1, "moved": 1, "partial": 0, "new": 1, "missing": 1}
    assert "audit failed" in result.stderr


def test_audit_passes_only_when_all_match_and_hashdeep_reads_our_file(tmp_path: Path) -> None:
    root = tmp_path / "ev"
    root.mkdir()
    (root / "a").write_bytes(b"a" * 5000)
    known = tmp_path / "known.txt"
    known.write_text(dftk("hash", "-r", "-a", "md5,sha256", "--format", "hashdeep", root).output)
    assert dftk("hash", "-r", "--audit", known, root).exit_code == 0
    hashdeep = require_tool("hashdeep")
    check = subprocess.run([hashdeep, "-r", "-a", "-k", str(known), str(root)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_problems_exit_4_and_directories_need_r(tmp_path: Path) -> None:
    (tmp_path / "ok").write_bytes(b"x")
    result = dftk("hash", tmp_path, tmp_path / "ok", tmp_path / "absent")
    assert result.exit_code == 4
    assert "is a directory (use -r)" in result.stderr and "no such file" in result.stderr
    assert len(result.stdout.splitlines()) == 1


def test_bad_known_set_is_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "known.txt").write_text("not hashdeep\n")
    result = dftk("hash", tmp_path, "-r", "--audit", tmp_path / "known.txt")
    assert result.exit_code == 1 and "not a hashdeep file" in result.stderr


def test_blake3_matches_the_reference_vectors_whole_and_piecewise(tmp_path: Path) -> None:
    """The BLAKE3 paper's / reference implementation's digests of "" and "abc"; threaded lanes and pieces
    agree with the one-shot digest."""
    from blake3 import blake3

    (tmp_path / "abc").write_bytes(b"abc")
    (tmp_path / "empty").write_bytes(b"")
    rows = {Path(r["path"]).name: r for r in map(json.loads, dftk("hash", "-a", "blake3,md5", tmp_path / "abc",
                                                                   tmp_path / "empty").stdout.splitlines())}
    assert rows["abc"]["blake3"] == "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"
    assert rows["empty"]["blake3"] == "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
    data = os.urandom(5 << 20)
    with hasher_pool(("blake3", "sha256")) as pool:
        hasher = MultiHasher(("blake3", "sha256"), piece=1 << 20, pool=pool)
        for start in range(0, len(data), 3 << 19):
            hasher.update(data[start:start + (3 << 19)])
        hashes, pieces = hasher.result()
    assert hashes["blake3"] == blake3(data).hexdigest()
    assert [p.hashes["blake3"] for p in pieces] == [blake3(data[i:i + (1 << 20)]).hexdigest()
                                                    for i in range(0, len(data), 1 << 20)]
