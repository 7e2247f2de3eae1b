"""The carve's output folder: workers write the files they validate, and the folder ends holding exactly the
files the manifest lists, each with the listed hash, whatever the merge drops or cuts and whichever worker dies."""

from __future__ import annotations

import hashlib
import io
import os
import signal
import zipfile
from pathlib import Path

import pytest
from carving_kit import SECTOR, filler, splice
from PIL import Image

from dftk.evidence.base import Evidence
from dftk.evidence.opening import open_evidence
from dftk.records import Problem
from dftk_plugins.carving import recovery
from dftk_plugins.carving.engine import UNIT, Unit, carve_unit
from dftk_plugins.carving.recovery import Carved, carve, parse_types
from helpers import shared_data


def _png(seed: int) -> bytes:
    out = io.BytesIO()
    Image.frombytes("RGB", (40, 30), filler(40 * 30 * 3, seed)).save(out, "PNG")
    return out.getvalue()


def _folder(out: Path) -> set[str]:
    return {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and p.name != "manifest.jsonl"}


def _assert_folder_is_the_manifest(out: Path, rows: list[dict[str, object]]) -> None:
    assert _folder(out) == {str(r["path"]) for r in rows}
    for row in rows:
        data = (out / str(row["path"])).read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()) == (row["size"], row["sha256"])


def test_files_the_merge_drops_or_cuts_are_removed_or_rewritten(tmp_path: Path) -> None:
    pe = shared_data("yara/data/pe_imports").read_bytes()
    truncated_png = _png(1)[:300]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as z:
        z.writestr("broken.png", truncated_png)
    media, [pe_at, zip_at, png_at] = splice([pe[:len(pe) // 2], archive.getvalue(), _png(2)])
    out = tmp_path / "out"
    with Evidence.from_bytes(media) as ev:
        rows = [c.row for c in carve(ev, parse_types("pe,zip,png"), "all", 1, out) if isinstance(c, Carved)]
    by_offset = {r["offset"]: r for r in rows}
    # the PE's sections run past the media: partial, and cut where the next file starts
    assert by_offset[pe_at]["validation"] == "partial" and by_offset[pe_at]["size"] == zip_at - pe_at
    assert by_offset[zip_at]["type"] == "zip" and by_offset[png_at]["validation"] == "full"
    # the broken PNG inside the ZIP was validated (and written) by the worker, then dropped by the merge
    assert not any(r["type"] == "png" and r["validation"] == "partial" for r in rows)
    _assert_folder_is_the_manifest(out, rows)


def _dies_in_first_unit(unit: Unit) -> list[object]:
    hits = carve_unit(unit)  # its files are written: the worker dies after that
    if unit.start == 0:
        assert unit.outdir is not None
        (unit.outdir / "png").mkdir(exist_ok=True)
        (unit.outdir / "png" / f"{SECTOR * 3}.png").write_bytes(b"half-written")
        os.kill(os.getpid(), signal.SIGBUS)  # what an I/O error under the worker's mapping of the evidence does
    return list(hits)


def test_a_worker_killed_part_way_costs_its_range_and_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    media, offsets = splice([_png(3), _png(4)])
    second, _ = splice([_png(5), _png(6)], seed=2)
    padding = filler(UNIT + SECTOR * 64 - len(media), 7)
    media += padding + second
    image = tmp_path / "media.raw"
    image.write_bytes(media)
    monkeypatch.setattr(recovery, "carve_unit", _dies_in_first_unit)
    out = tmp_path / "out"
    with open_evidence(str(image), "raw") as ev:
        items = list(carve(ev, parse_types("png"), "all", 2, out))
    problems = [i for i in items if isinstance(i, Problem)]
    rows = [i.row for i in items if isinstance(i, Carved)]
    assert len(problems) == 1 and "range not carved" in problems[0].message
    assert rows and all(r["offset"] >= UNIT for r in rows)  # only the second range's files
    assert not any(int(p.split("/")[1].split(".")[0]) in offsets for p in _folder(out))
    _assert_folder_is_the_manifest(out, rows)


def test_a_carve_stopped_part_way_leaves_only_the_files_it_listed(tmp_path: Path) -> None:
    media, offsets = splice([_png(7), _png(8), _png(9)])
    out = tmp_path / "out"
    with Evidence.from_bytes(media) as ev:
        carving = carve(ev, parse_types("png"), "all", 1, out)
        first = next(i for i in carving if isinstance(i, Carved))
        carving.close()  # the examiner interrupts: the rest is never listed
    assert first.row["offset"] == offsets[0]
    _assert_folder_is_the_manifest(out, [first.row])

