"""Carving: each type spliced into random filler is recovered byte-exact, a truncated one is partial,
random data yields nothing; fragments, embedded files, worker independence, unallocated scope, hostile input."""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import sqlite3
import struct
import wave
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from carving_kit import SECTOR, carved, filler, splice
from PIL import Image

from dftk.evidence.base import Evidence
from dftk_plugins.carving.plugin import CarvingPlugin
from helpers import dftk, shared_data


def image(fmt: str, size: tuple[int, int] = (64, 48), **kw: object) -> bytes:
    rng = random.Random(fmt)
    img = Image.frombytes("RGB", size, bytes(rng.randrange(256) for _ in range(size[0] * size[1] * 3)))
    out = io.BytesIO()
    img.save(out, fmt, **kw)
    return out.getvalue()


def sqlite_db(tmp: Path) -> bytes:
    path = tmp / "t.db"
    with sqlite3.connect(path) as db:
        db.execute("create table t(x)")
        db.executemany("insert into t values (?)", [(os.urandom(100).hex(),) for _ in range(200)])
    return path.read_bytes()


def wav() -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(filler(16000, 3))
    return out.getvalue()


def zipped(entries: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return out.getvalue()


MAKERS: dict[str, Callable[[Path], bytes]] = {
    "jpeg": lambda _: image("JPEG", (120, 90)),
    "png": lambda _: image("PNG"),
    "gif": lambda _: image("GIF"),
    "bmp": lambda _: image("BMP"),
    "webp": lambda _: image("WEBP"),
    "pdf": lambda _: shared_data("py-pdf-sample-files/001-trivial/minimal-document.pdf").read_bytes(),
    "zip": lambda _: zipped({"a.txt": b"hello " * 500, "b.bin": filler(3000, 5)}),
    "ole2": lambda _: shared_data("oletools/msodde/harmless-clean.doc").read_bytes(),
    "sqlite": sqlite_db,
    "wav": lambda _: wav(),
    "pe": lambda _: shared_data("plaso/test_pe.exe").read_bytes(),
    "mp3": lambda _: shared_data("tinytag/cbr.mp3").read_bytes(),
    "ogg": lambda _: shared_data("tinytag/multipage-setup.ogg").read_bytes(),
    "flac": lambda _: shared_data("tinytag/flac1sMono.flac").read_bytes(),
    "tiff": lambda _: shared_data("exif-py/tiff/BSG1.tiff").read_bytes(),
}


@pytest.mark.parametrize("kind", sorted(MAKERS))
def test_spliced_file_is_recovered_byte_exact(kind: str, tmp_path: Path) -> None:
    data = MAKERS[kind](tmp_path)
    media, [offset] = splice([data])
    rows = [r for r in carved(media) if r["embedded_in"] is None]
    [row] = [r for r in rows if r["offset"] == offset]
    assert row["sha256"] == hashlib.sha256(data).hexdigest() and row["validation"] == "full"
    assert row["size"] == len(data) and row["fragments"] == [[offset, len(data)]]
    assert 0 < float(row["confidence"]) <= 1  # type: ignore[arg-type]


# A PE's size comes from its section table alone, a WebP's from its RIFF sizes (and libwebp decodes the
# random bytes that follow a cut), an MP3's frames and a TIFF's strips carry no checksum: any of them, cut
# and followed by other data, looks whole.
@pytest.mark.parametrize("kind", sorted(set(MAKERS) - {"pe", "webp", "mp3", "tiff"}))
def test_truncated_file_is_partial(kind: str, tmp_path: Path) -> None:
    data = MAKERS[kind](tmp_path)
    media, [offset] = splice([data[:len(data) * 2 // 3]])
    rows = [r for r in carved(media) if r["offset"] == offset]
    assert all(r["validation"] == "partial" for r in rows)


def test_random_data_yields_nothing() -> None:
    assert carved(filler(24 << 20, 11)) == []


def test_two_fragment_png_is_reassembled() -> None:
    data = image("PNG", (200, 150))
    cut = (len(data) // 2) // SECTOR * SECTOR
    gap = filler(SECTOR * 7, 9)
    media, [offset] = splice([data[:cut] + gap + data[cut:]])
    [row] = [r for r in carved(media) if r["offset"] == offset]
    assert row["sha256"] == hashlib.sha256(data).hexdigest() and row["validation"] == "full"
    assert row["fragments"] == [[offset, cut], [offset + cut + len(gap), len(data) - cut]]


def test_thumbnail_and_stored_jpeg_are_embedded(tmp_path: Path) -> None:
    camera = shared_data("exif-py/jpg/Canon_40D.jpg").read_bytes()
    docx = zipped({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w/>",
                   "word/media/image1.jpeg": image("JPEG")}, zipfile.ZIP_STORED)
    media, offsets = splice([camera, docx])
    rows = carved(media)
    top = {r["offset"]: r for r in rows if r["embedded_in"] is None}
    assert set(top) == set(offsets) and top[offsets[1]]["type"] == "docx"
    inner = [r for r in rows if r["embedded_in"] is not None]
    assert {r["embedded_in"] for r in inner} == {top[o]["path"] for o in offsets}
    assert all(r["type"] == "jpeg" for r in inner)


def test_same_result_for_any_worker_count(tmp_path: Path) -> None:
    files = [MAKERS[k](tmp_path / k) if k != "sqlite" else b"" for k in sorted(MAKERS) for _ in (0,)
             if (tmp_path / k).mkdir() is None]
    media, _ = splice([f for f in files if f] * 3, seed=4)
    media = media + filler((70 << 20) - len(media), 5)  # several units
    image_file = tmp_path / "media.raw"
    image_file.write_bytes(media)
    outputs = []
    for workers in (1, 2):
        out = tmp_path / f"out{workers}"
        result = dftk("carve", image_file, out, "--evidence-format", "raw", "--workers", workers)
        assert result.exit_code == 0, result.output
        outputs.append((out / "manifest.jsonl").read_text())
    assert outputs[0] == outputs[1] and outputs[0].count("\n") >= 20
    rows = [json.loads(line) for line in outputs[0].splitlines()]
    for row in rows:
        assert hashlib.sha256((tmp_path / "out1" / row["path"]).read_bytes()).hexdigest() == row["sha256"]
    top = [r for r in rows if r["embedded_in"] is None]
    full = sum(r["validation"] == "full" for r in top)
    assert result.stdout.startswith(f"carved {len(top)} file(s) ({full} full, {len(top) - full} partial, "
                                    f"0 reassembled from fragments) and {len(rows) - len(top)} embedded in them")


def test_unallocated_scope_maps_offsets_to_the_image(tmp_path: Path) -> None:
    from dftk.fs.unallocated import unallocated_map

    image_path = shared_data("sleuthkit/test/data/image.dd")
    media = bytearray(image_path.read_bytes())
    with Evidence.from_bytes(bytes(media)) as ev:
        found, _ = unallocated_map(ev)
    assert found.starts
    start, end = next((s, e) for s, e in zip(found.starts, found.ends, strict=True) if e - s >= 8192)
    png = image("PNG", (20, 20))
    media[start:start + len(png)] = png
    rows = carved(bytes(media), "png", scope="unallocated")
    [row] = [r for r in rows if r["offset"] == start]
    assert row["validation"] == "full" and row["sha256"] == hashlib.sha256(png).hexdigest()


def test_plugin_records_findings() -> None:
    data = image("PNG")
    media, [offset] = splice([data])
    [finding] = CarvingPlugin().run(Evidence.from_bytes(media), carving_types="png", carving_scope="all")
    assert finding.kind == "carve/png" and finding.subject == f"offset:{offset:#x}"  # type: ignore[union-attr]


def test_unknown_type_is_a_usage_error(tmp_path: Path) -> None:
    result = dftk("carve", tmp_path / "x", tmp_path / "out", "--types", "jpeg,nope")
    assert result.exit_code == 2 and "nope" in result.output


def test_hostile_files_do_not_crash() -> None:
    folders = [shared_data("exif-py/jpg/tests"), shared_data("tinytag")]
    files = sorted(p for folder in folders for p in folder.rglob("*") if p.is_file() and p.stat().st_size < 4 << 20)
    for start in range(0, len(files), 40):
        media, _ = splice([p.read_bytes() for p in files[start:start + 40]], seed=start)
        carved(media)


def test_truncated_headers_of_every_type_do_not_crash(tmp_path: Path) -> None:
    for _, make in sorted(MAKERS.items()):
        data = make(tmp_path)
        for n in (4, 16, 40, 100, 600):
            carved(data[:n] + bytes(64))
            carved(data[:n] + struct.pack("<I", 0xFFFFFFFF) * 200)


@pytest.mark.parametrize("name", ["009-pdflatex-geotopo/GeoTopo-komprimiert.pdf",  # linearized: first %%EOF early
                                  "014-outlines/mistitled_outlines_example.pdf"])  # %%EOF inside a CMap stream
def test_pdf_ends_at_its_real_last_eof(name: str) -> None:
    data = shared_data(f"py-pdf-sample-files/{name}").read_bytes()
    media, [offset] = splice([data])
    [row] = [r for r in carved(media) if r["offset"] == offset and r["embedded_in"] is None]
    assert row["size"] == len(data) and row["validation"] == "full"


def test_an_interrupted_carve_says_what_the_manifest_holds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dftk_plugins.carving import recovery

    media, offsets = splice([image("PNG", (30, 20)), image("PNG", (20, 30)), image("PNG", (25, 25)),
                             image("PNG", (20, 20))])  # all four written in the one unit before any is listed
    (tmp_path / "media.raw").write_bytes(media)
    real, lines = recovery.manifest_line, []

    def interrupted(carved: recovery.Carved) -> str:
        if len(lines) == 2:
            raise KeyboardInterrupt  # Ctrl-C while the third file is being listed
        lines.append(real(carved))
        return lines[-1]

    monkeypatch.setattr(recovery, "manifest_line", interrupted)
    out = tmp_path / "out"
    result = dftk("carve", tmp_path / "media.raw", out, "--types", "png", "--workers", 1)
    assert result.exit_code == 130
    assert f"{out / 'manifest.jsonl'} lists the 2 file(s) carved so far" in result.stderr
    rows = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert [r["offset"] for r in rows] == offsets[:2]
    assert {str(p.relative_to(out)) for p in out.rglob("*.png")} == {r["path"] for r in rows}
