"""fs extract, fs unalloc, timeline and DFXML against TSK's and fiwalk's own output; hostile names."""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from dftk.fs.extract import safe_component, safe_relative
from helpers import FIXTURES, dftk, dftk_process, require_tool, shared_data

pytestmark = pytest.mark.interop

PLACEHOLDER = "PLACEHOLDER-{:02d}-" + "x" * 27  # 40 characters
HOSTILE = [
    "../../../../../../../../tmp/escape.txt",
    "/etc/dftk-absolute-path-attack.txt",
    "ctrl\x01\x1b[31mred\x07bell\r\nnewline.txt",
    "back\\..\\..\\windows\\system32\\evil.dll",
    "..",
]


def _tool(*args: object) -> bytes:
    return subprocess.run([str(a) for a in args], capture_output=True, check=True, timeout=120).stdout


def _gunzip(name: str, tmp_path: Path) -> Path:
    target = tmp_path / name.removesuffix(".gz")
    with gzip.open(FIXTURES / "images" / name) as src, target.open("wb") as dst:
        shutil.copyfileobj(src, dst)
    return target


@pytest.fixture
def hostile_image(tmp_path: Path) -> Path:
    """An ext2 image whose directory entries were patched to hold path-traversal and control names."""
    mke2fs = require_tool("mke2fs")
    source = tmp_path / "src"
    (source / "sub").mkdir(parents=True)
    for i in range(len(HOSTILE)):
        (source / "sub" / PLACEHOLDER.format(i)).write_text(f"hostile {i}\n")
    (source / "CON.txt").write_text("reserved name\n")
    (source / ("L" * 250 + ".txt")).write_text("long name\n")
    (source / "same").write_text("first\n")
    image = tmp_path / "hostile.img"
    subprocess.run([mke2fs, "-q", "-t", "ext2", "-b", "1024", "-d", str(source), str(image), "2048"],
                   check=True, env={**os.environ, "E2FSPROGS_FAKE_TIME": "1700000000"})
    data = image.read_bytes()
    for i, name in enumerate(HOSTILE):
        old = PLACEHOLDER.format(i).encode()
        new = name.encode().ljust(len(old), b"\0") if name != ".." else b"..".ljust(len(old), b"/")
        assert data.count(old) == 1
        data = data.replace(old, new[: len(old)])
    image.write_bytes(data)
    return image


def test_extraction_of_hostile_names_stays_inside_outdir(hostile_image: Path, tmp_path: Path) -> None:
    before = set(Path("/tmp").iterdir())
    out = tmp_path / "out"
    result = dftk("fs", "extract", hostile_image, out)
    assert result.exit_code == 0, result.output + result.stderr
    written = [p for p in out.rglob("*") if p.is_file()]
    resolved_out = out.resolve()
    assert all(p.resolve().is_relative_to(resolved_out) for p in written)
    assert set(Path("/tmp").iterdir()) - before <= {p for p in Path("/tmp").iterdir() if p.name.startswith("pytest")}
    assert not Path("/etc/dftk-absolute-path-attack.txt").exists()
    for p in written:
        assert all(ord(c) >= 32 for c in p.name) and "\\" not in p.name and len(p.name.encode()) <= 255
    manifest = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    contents = {row["path"]: (out / row["extracted"]).read_text() for row in manifest}
    assert sorted(v for v in contents.values() if v.startswith("hostile")) == [f"hostile {i}\n" for i in range(5)]
    assert any("CON" in row["extracted"] and row["extracted"].startswith("_CON") for row in manifest)


def test_extraction_never_overwrites(tmp_path: Path) -> None:
    out = tmp_path / "out"
    for _ in range(2):
        assert dftk("fs", "extract", FIXTURES / "images" / "ext2.img", out).exit_code == 0
    assert (out / "hello.txt").read_text() == (out / "hello~2.txt").read_text()
    rows = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert len({r["extracted"] for r in rows}) == len(rows)


def test_extract_deleted_and_by_pattern(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = dftk("fs", "extract", FIXTURES / "images" / "fat16.img", out, "--deleted", "--path", "*/证据/*")
    assert result.exit_code == 0
    rows = {r["path"]: r for r in map(json.loads, (out / "manifest.jsonl").read_text().splitlines())}
    assert set(rows) == {"/证据/报告.txt", "/证据/已删除.txt"} and rows["/证据/已删除.txt"]["deleted"]
    planted = json.loads((FIXTURES / "expected" / "fat16.json").read_text())["partitions"][0]["files"]
    sha = {f["path"]: f["sha256"] for f in planted}
    assert rows["/证据/已删除.txt"]["sha256"] == sha["证据/已删除.txt"]


@pytest.mark.parametrize("name, expected", [
    ("..", "_.."), (".", "_."), ("a/b", "a/b"), ("nul", "_nul"), ("COM1.txt", "_COM1.txt"),
    ("a:b", "a%3Ab"), ("x\x00y", "x%00y"), ("100%", "100%25"), ("trailing.", "_trailing."),
])
def test_safe_names(name: str, expected: str) -> None:
    assert (safe_component(name) if "/" not in name else str(safe_relative(name))) == expected


def test_unallocated_space_equals_blkls(tmp_path: Path) -> None:
    blkls = require_tool("blkls")
    image = _gunzip("mbr-disk.img.gz", tmp_path)
    out = tmp_path / "unalloc"
    assert dftk("fs", "unalloc", image, out).exit_code == 0
    runs = [json.loads(line) for line in (out / "map.jsonl").read_text().splitlines()]
    for name in {r["file"] for r in runs if r["file"].startswith("vol")}:
        offset = next(r["volume_offset"] for r in runs if r["file"] == name)
        assert (out / name).read_bytes() == _tool(blkls, "-o", offset // 512, image), name
    content = image.read_bytes()
    for run in runs:  # the map leads back to the same bytes in the image
        piece = (out / run["file"]).read_bytes()[run["file_offset"]: run["file_offset"] + run["length"]]
        assert piece == content[run["image_offset"]: run["image_offset"] + run["length"]]


@pytest.mark.parametrize("name", ["ext2", "ext4", "fat12", "fat16", "exfat", "ntfs"])
def test_bodyfile_equals_fls_m(name: str) -> None:
    body = dftk_process("timeline", FIXTURES / "images" / f"{name}.img")
    assert body.returncode == 0, body.stderr
    expected = (FIXTURES / "expected" / f"{name}.body.txt").read_text(encoding="utf-8").splitlines()
    mine = body.stdout.splitlines()
    if name == "ntfs":
        # pytsk3's newer TSK reads no $STANDARD_INFORMATION times for MFT entry 0 here, where TSK 4.11.1
        # prints a 2076 date left by the build; every other line is identical.
        expected = [line for line in expected if not line.startswith("0|/$MFT|")]
        mine = [line for line in mine if not line.startswith("0|/$MFT|")]
    assert sorted(mine) == sorted(expected)


def test_bodyfile_equals_fls_m_live_and_round_trips_through_mactime(tmp_path: Path) -> None:
    fls, mactime = require_tool("fls"), require_tool("mactime")
    image = shared_data("sleuthkit/test/data/image.dd")
    body = dftk_process("timeline", image).stdout
    assert sorted(body.splitlines()) == sorted(_tool(fls, "-r", "-m", "/", image).decode().splitlines())
    (tmp_path / "dftk.body").write_text(body)
    (tmp_path / "fls.body").write_bytes(_tool(fls, "-r", "-m", "/", image))
    ours = _tool(mactime, "-b", tmp_path / "dftk.body", "-z", "UTC", "-d")
    theirs = _tool(mactime, "-b", tmp_path / "fls.body", "-z", "UTC", "-d")
    assert ours.count(b"\n") > 5 and sorted(ours.splitlines()) == sorted(theirs.splitlines())


def test_timeline_events_are_sorted_utc(tmp_path: Path) -> None:
    out = dftk_process("timeline", FIXTURES / "images" / "ext4.img", "--format", "jsonl").stdout
    events = [json.loads(line) for line in out.splitlines()]
    times = [e["time"] for e in events]
    assert times == sorted(times) and all(t.endswith("+00:00") for t in times)
    hello = [e for e in events if e["path"] == "/hello.txt"]
    assert any(e["time"] == "2021-03-04T05:06:08+00:00" and e["macb"].startswith("ma") for e in hello)
    csv_out = dftk_process("timeline", FIXTURES / "images" / "ext4.img", "--format", "csv").stdout
    assert csv_out.splitlines()[0].startswith("time,macb,path") and len(csv_out.splitlines()) == len(events) + 1


def test_dfxml_lists_the_same_files_as_fiwalk(tmp_path: Path) -> None:
    fiwalk = require_tool("fiwalk")
    image = shared_data("sleuthkit/test/data/image.dd")
    _tool(fiwalk, "-X", tmp_path / "fiwalk.xml", image)
    theirs = (tmp_path / "fiwalk.xml").read_text()
    ours = dftk_process("fs", "ls", image, "--format", "dfxml").stdout

    def files(xml: str) -> set[tuple[str, str]]:
        found = set()
        for block in re.findall(r"<fileobject>(.*?)</fileobject>", xml, re.S):
            name = re.search(r"<filename>([^<]*)</filename>", block).group(1)  # type: ignore[union-attr]
            block = re.sub(r"<parent_object>.*?</parent_object>", "", block, flags=re.S)
            inode = re.search(r"<inode>(\d+)</inode>", block)
            if name.rsplit("/", 1)[-1] not in (".", ".."):  # fiwalk also lists every directory's . and ..
                found.add((name, inode.group(1) if inode else "0"))  # fiwalk omits inode 0
        return found

    assert files(ours) and files(ours) == files(theirs)


def test_timeline_merges_times_found_inside_files(tmp_path: Path) -> None:
    mke2fs = require_tool("mke2fs")
    source = tmp_path / "src"
    source.mkdir()
    shutil.copy(shared_data("exif-py/jpg/Canon_40D.jpg"), source / "photo.jpg")
    image = tmp_path / "disk.img"
    subprocess.run([mke2fs, "-q", "-t", "ext2", "-d", str(source), str(image), "1024"], check=True)
    assert dftk("run", image, "--case", tmp_path / "case", "--plugin", "image").exit_code == 0
    out = dftk_process("timeline", image, "--format", "jsonl", "--case", tmp_path / "case").stdout
    events = [json.loads(line) for line in out.splitlines()]
    embedded = [e for e in events if e["source"] == "media/image:datetime_original"]
    assert embedded and embedded[0]["path"] == "/photo.jpg" and embedded[0]["time"].startswith("2008-05-30T15:56:01")
    assert events.index(embedded[0]) < next(i for i, e in enumerate(events) if e["source"] == "fs")
