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
    assert result.exit_code == 0, result.output
    records = {r["path"]: r for r in map(json.loads, result.output.splitlines())}
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
    assert one.returncode == two.returncode == 0
    assert one.stdout == two.stdout and one.stdout.count("\n") > 50
