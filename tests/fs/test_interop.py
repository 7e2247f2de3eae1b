"""Peer tools as oracles: ewfinfo/ewfverify for E01 reading, mmls/fsstat for layout detection."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from dftk.evidence.opening import open_evidence
from dftk.fs.volumes import detect_layout
from helpers import dftk, require_tool, shared_data

pytestmark = pytest.mark.interop

E01S = ["dfvfs/ext2.E01", "dfvfs/ext2.split.E01", "plaso/image.E01", "sleuthkit/test/data/imageformat_mmls_1.E01"]


def _tool(*args: str | Path) -> str:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, check=False, timeout=120).stdout


@pytest.mark.parametrize("name", E01S)
def test_e01_reading_agrees_with_ewfinfo_and_ewfverify(name: str, tmp_path: Path) -> None:
    path = shared_data(name)
    info = _tool(require_tool("ewfinfo"), path)
    verify = _tool(require_tool("ewfverify"), "-q", path)
    media_size = int(re.search(r"Media size:.*\((\d+) bytes\)", info).group(1))  # type: ignore[union-attr]
    calculated = re.search(r"MD5 hash calculated over data:\s+([0-9a-f]{32})", verify).group(1)  # type: ignore[union-attr]
    with open_evidence(path) as ev:
        assert ev.size == media_size
        stored = re.search(r"MD5:\s+([0-9a-f]{32})", info)
        assert stored is not None and ev.stored_hashes["md5"] == stored.group(1)
    assert dftk("run", path, "--case", tmp_path / "c", "--plugin", "hashing").exit_code == 0
    out = dftk("case", "findings", tmp_path / "c", "--kind", "hash/evidence").output
    assert calculated in out


@pytest.mark.parametrize("name, tool, pattern", [
    ("plaso/tsk_volume_system.raw", "mmls", "DOS Partition Table"),
    ("sleuthkit/test/data/image.dd", "fsstat", "File System Type: Ext2"),
    ("sleuthkit/test/data/fat_dst_test.dd", "fsstat", "File System Type: FAT12"),
    ("dfvfs/iso9660.raw", "fsstat", "File System Type: ISO9660"),
])
def test_layout_detection_agrees_with_tsk_tools(name: str, tool: str, pattern: str) -> None:
    path = shared_data(name)
    assert pattern in _tool(require_tool(tool), path)
    with open_evidence(path, "raw") as ev:
        layout = detect_layout(ev)
    assert layout is not None
    expected_word = pattern.split(":")[-1].split()[0].lower()
    assert expected_word in layout
