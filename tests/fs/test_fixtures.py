"""The committed fixture images: intact, opened with the right layout, hashed as recorded."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
from pathlib import Path

import pytest

from dftk.evidence.opening import open_evidence
from dftk.fs.volumes import detect_layout
from helpers import FIXTURES, dftk

EXPECTED = sorted((FIXTURES / "expected").glob("*.json"))


def fixture_image(record: dict[str, object], tmp_path: Path) -> Path:
    """The uncompressed image of a fixture (decompressed into tmp_path when stored as .gz)."""
    stored = FIXTURES / "images" / str(record["stored_as"])
    if record["compression"] != "gzip":
        return stored
    target = tmp_path / stored.name.removesuffix(".gz")
    with gzip.open(stored) as src, target.open("wb") as dst:
        shutil.copyfileobj(src, dst)
    return target


def test_every_image_has_its_record() -> None:
    stored = {p.name for p in (FIXTURES / "images").iterdir() if p.name != "SHA256SUMS"}
    assert stored == {json.loads(p.read_text())["stored_as"] for p in EXPECTED}
    assert len(EXPECTED) == 9


@pytest.mark.parametrize("record_path", EXPECTED, ids=lambda p: p.stem)
def test_fixture_opens_with_its_layout_and_hashes_as_recorded(record_path: Path, tmp_path: Path) -> None:
    record = json.loads(record_path.read_text())
    image = fixture_image(record, tmp_path)
    assert hashlib.sha256(image.read_bytes()).hexdigest() == record["sha256"]
    with open_evidence(image) as ev:
        assert ev.size == record["size"]
        layout = detect_layout(ev)
    expected = record["partition_table"] or record["partitions"][0]["fs_type"]
    assert layout is not None and layout.startswith(expected)
    assert dftk("run", image, "--case", tmp_path / "case", "--plugin", "hashing").exit_code == 0
    out = dftk("case", "findings", tmp_path / "case", "--kind", "hash/evidence", "--json").output
    assert json.loads(out)["data"]["md5"] == record["md5"]
