"""Block devices as evidence, through a read-only loop device over a known image."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from dftk.evidence.opening import open_evidence
from helpers import dftk, shared_data


@pytest.fixture
def loop_device(tmp_path: Path) -> Iterator[tuple[str, bytes]]:
    image = tmp_path / "image.dd"
    shutil.copy(shared_data("sleuthkit/test/data/image.dd"), image)
    made = subprocess.run(["losetup", "--find", "--show", "--read-only", str(image)],
                          capture_output=True, text=True, check=False)
    if made.returncode != 0:
        pytest.skip(f"no loop device here (needs root and /dev/loop*): {made.stderr.strip()}")
    device = made.stdout.strip()
    try:
        yield device, image.read_bytes()
    finally:
        subprocess.run(["losetup", "--detach", device], check=False)


def test_block_device_reads_like_the_image(loop_device: tuple[str, bytes], tmp_path: Path) -> None:
    device, content = loop_device
    with open_evidence(device) as ev:
        assert (ev.format, ev.size, ev.sector_size) == ("device", len(content), 512)
        assert ev.read(0, ev.size) == content
    assert dftk("run", device, "--case", tmp_path / "case", "--plugin", "hashing").exit_code == 0
    out = dftk("case", "findings", tmp_path / "case", "--kind", "hash/evidence", "--json").output
    assert json.loads(out)["data"]["md5"] == hashlib.md5(content).hexdigest()
