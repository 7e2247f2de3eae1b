"""``dftk meta``: loose files, folders and disk images; JSON lines with fields, grouped tags and problems."""

from __future__ import annotations

import json
from pathlib import Path

from helpers import dftk, dftk_process, shared_data


def test_meta_on_files_and_a_folder(tmp_path: Path) -> None:
    gps = shared_data("exif-py/jpg/gps/DSCN0010.jpg")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "p.jpg").write_bytes(gps.read_bytes())
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8\xff\xe0broken")
    result = dftk("meta", gps, tmp_path, "--json")
    assert result.exit_code == 4, result.output  # bad.jpg's record carries a problem
    assert "1 of 4 file(s) with problems" in result.stderr
    records = {r["path"]: r for r in map(json.loads, result.stdout.splitlines())}
    first = records[str(gps)]
    assert first["mime"] == "image/jpeg" and first["fields"]["make"] == "NIKON"
    assert abs(first["fields"]["gps_latitude"] - 43.4674483) < 1e-5 and first["tags"]["GPS:GPSLatitudeRef"] == "N"
    assert records[str(tmp_path / "sub" / "p.jpg")]["fields"]["model"] == "COOLPIX P6000"
    assert records[str(tmp_path / "notes.txt")]["fields"] == {}
    assert records[str(tmp_path / "bad.jpg")]["problems"]


def test_meta_text_output_on_a_document_and_audio() -> None:
    pdf = shared_data("py-pdf-sample-files/001-trivial/minimal-document.pdf")
    audio = shared_data("tinytag/flac1sMono.flac")
    result = dftk("meta", pdf, audio)
    assert result.exit_code == 0
    assert 'producer: "pdfTeX-1.40.23"' in result.output and 'title: "track"' in result.output


def test_meta_inside_a_disk_image() -> None:
    image = shared_data("sleuthkit/test/data/image.dd")
    result = dftk("meta", image, "--json")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert lines and all(r["path"].startswith(f"{image}:/") for r in lines if r["mime"])


def test_meta_output_is_the_same_for_any_worker_count() -> None:
    folder = shared_data("tinytag")
    one = dftk_process("meta", folder, "--json", "--workers", "1")
    two = dftk_process("meta", folder, "--json", "--workers", "2")
    assert one.returncode == two.returncode == 4  # tinytag holds broken files on purpose
    assert one.stdout == two.stdout and one.stdout.count("\n") > 50


def test_ela_picture_shows_a_pasted_region(tmp_path: Path) -> None:
    import io
    import random

    from PIL import Image, ImageStat

    rng = random.Random(7)
    base = Image.new("RGB", (256, 256))
    base.putdata([(x, y, (x + y) // 2) for y in range(256) for x in range(256)])
    buffer = io.BytesIO()
    base.save(buffer, "JPEG", quality=70)
    edited = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    patch = Image.new("RGB", (64, 64))
    patch.putdata([(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(64 * 64)])
    edited.paste(patch, (96, 96))
    (tmp_path / "photos").mkdir()
    edited.save(tmp_path / "photos" / "edited.jpg", "JPEG", quality=95)
    result = dftk_process("meta", tmp_path / "photos", "--json", "--ela", tmp_path / "ela")
    record = json.loads(result.stdout.splitlines()[0])
    with Image.open(record["ela"]) as ela:
        assert ela.size == (256, 256)
        inside = ImageStat.Stat(ela.crop((104, 104, 152, 152))).mean
        outside = ImageStat.Stat(ela.crop((8, 8, 56, 56))).mean
    assert sum(inside) > 2 * sum(outside)


def test_loose_files_keep_the_order_given_and_share_one_run(tmp_path: Path) -> None:
    for name in ("c.txt", "a.txt", "b.txt"):
        (tmp_path / name).write_text(name)
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "z.txt").write_text("z")
    given = [tmp_path / "c.txt", tmp_path / "a.txt", tmp_path / "folder", tmp_path / "b.txt"]
    result = dftk("meta", *given, "--json", "--workers", "2")
    assert result.exit_code == 0, result.output
    shown = [json.loads(line)["path"] for line in result.output.splitlines()]
    assert shown == [str(tmp_path / n) for n in ("c.txt", "a.txt", "folder/z.txt", "b.txt")]
    assert all(json.loads(line)["mime"] for line in result.output.splitlines())


def test_a_plugin_that_raises_is_a_problem_not_a_crash(tmp_path: Path, monkeypatch: object) -> None:
    """dftk meta runs its plugins in the engine's guard, as dftk run does."""
    import pytest

    from dftk_plugins.metadata.image import ImageMetaPlugin

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    monkeypatch.setattr(ImageMetaPlugin, "analyze", broken)
    (tmp_path / "p.jpg").write_bytes(shared_data("exif-py/jpg/gps/DSCN0010.jpg").read_bytes())
    result = dftk("meta", tmp_path / "p.jpg", "--json", "--workers", "1")
    assert result.exit_code == 4, result.output
    [record] = map(json.loads, result.stdout.splitlines())
    assert record["problems"] == ["image: plugin image raised RuntimeError: boom"] and record["mime"] == "image/jpeg"
