"""The image metadata plugin: known values read back, dump.txt, hostile files, checks (exiftool: elsewhere)."""

from __future__ import annotations

import io
import re
import struct
from pathlib import Path

from PIL import Image

from dftk.evidence.files import EvidenceFile
from dftk.records import Finding, Problem, check_json
from dftk_plugins.metadata.common import exif_time
from dftk_plugins.metadata.image import ImageMetaPlugin
from dftk_plugins.metadata.image_meta import gps_degrees
from dftk_plugins.metadata.jpeg_tables import estimate_quality
from helpers import shared_data


def analyze(path: Path | str, data: bytes) -> list[Finding | Problem]:
    return list(ImageMetaPlugin().analyze(EvidenceFile(str(path), len(data)), data))


def media(records: list[Finding | Problem]) -> dict[str, object]:
    return next((dict(r.data) for r in records if isinstance(r, Finding) and r.kind == "media/image"), {})


def _jpeg_with_exif(quality: int = 90) -> bytes:
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0131] = "TestMake", "TestModel", "Adobe Photoshop 25.0"
    exif[0x0132] = "2024:05:06 07:08:09"
    exif.get_ifd(0x8769).update({0x9003: "2024:01:02 03:04:05", 0x9011: "+02:00"})
    exif.get_ifd(0x8825).update({1: "S", 2: (33.0, 51.0, 54.0), 3: "W", 4: (151.0, 12.0, 36.0), 5: 1, 6: 12.5})
    out = io.BytesIO()
    Image.new("RGB", (64, 48), "red").save(out, "JPEG", exif=exif, quality=quality)
    return out.getvalue()


def test_generated_exif_with_gps_reads_back_exactly() -> None:
    records = analyze("/a.jpg", _jpeg_with_exif())
    data = media(records)
    assert data["make"] == "TestMake" and data["model"] == "TestModel"
    assert data["datetime_original"] == "2024-01-02T03:04:05+02:00"
    assert data["datetime_modified"] == "2024-05-06T07:08:09"
    assert data["gps_latitude"] == round(-(33 + 51 / 60 + 54 / 3600), 8)
    assert data["gps_longitude"] == round(-(151 + 12 / 60 + 36 / 3600), 8)
    assert data["gps_altitude"] == -12.5 and (data["width"], data["height"]) == (64, 48)
    tags = data["tags"]
    assert isinstance(tags, dict) and tags["EXIF:Make"] == "TestMake" and tags["GPS:GPSLatitudeRef"] == "S"
    kinds = {r.kind: r.data for r in records if isinstance(r, Finding)}
    assert kinds["image/editing-software"]["software"] == [{"source": "EXIF:Software", "name": "Adobe Photoshop 25.0"}]
    assert "image/date-mismatch" in kinds
    assert kinds["image/jpeg-quality"] == {**kinds["image/jpeg-quality"], "quality_estimate": 90,
                                           "ijg_standard_tables": True}
    for record in records:
        if isinstance(record, Finding):
            check_json(record.data, "image")


def test_quality_estimate_follows_the_encoder_setting() -> None:
    for quality in (30, 75, 95):
        with Image.open(io.BytesIO(_jpeg_with_exif(quality))) as picture:
            tables = {k: list(v) for k, v in picture.quantization.items()}
        assert estimate_quality(tables)["quality_estimate"] == quality  # type: ignore[index]


def test_thumbnail_that_differs_from_the_picture_is_reported() -> None:
    thumb = io.BytesIO()
    Image.new("RGB", (160, 120), "white").save(thumb, "JPEG")
    exif = Image.Exif()
    exif[0x010F] = "Cam"
    out = io.BytesIO()
    Image.new("RGB", (640, 480), "black").save(out, "JPEG", exif=exif)
    data = _with_thumbnail(out.getvalue(), thumb.getvalue())
    records = analyze("/t.jpg", data)
    assert media(records)["thumbnail"] == {"size": len(thumb.getvalue()), "format": "JPEG", "width": 160,
                                            "height": 120}
    assert any(isinstance(r, Finding) and r.kind == "image/thumbnail-differs" for r in records)


def _with_thumbnail(jpeg: bytes, thumb: bytes) -> bytes:
    """Replaces the APP1 EXIF of ``jpeg`` with IFD0 (Make) + IFD1 pointing at the JPEG ``thumb``."""
    ifd0 = struct.pack("<H", 1) + struct.pack("<HHI4s", 0x010F, 2, 4, b"Cam\x00") + struct.pack("<I", 26)
    ifd1 = (struct.pack("<H", 2) + struct.pack("<HHII", 0x0201, 4, 1, 56)
            + struct.pack("<HHII", 0x0202, 4, 1, len(thumb)) + struct.pack("<I", 0))
    app1 = b"Exif\x00\x00" + b"II*\x00" + struct.pack("<I", 8) + ifd0 + ifd1 + thumb
    start = jpeg.index(b"\xff\xe1")
    (length,) = struct.unpack(">H", jpeg[start + 2 : start + 4])
    return jpeg[:start] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + jpeg[start + 2 + length :]


def test_exif_times_and_gps_edge_cases() -> None:
    assert exif_time("0000:00:00 00:00:00") is None and exif_time("   ") is None
    assert exif_time("2020:02:29 10:00:00", "-05:30", "12") == "2020-02-29T10:00:00.12-05:30"
    assert gps_degrees([], "N") is None
    assert gps_degrees([1, 30, 0], "W") == -1.5


def test_every_exif_py_file_gives_fields_or_problems_never_a_crash() -> None:
    root = shared_data("exif-py")
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() not in (".txt", ".rst")):
        records = analyze(path, path.read_bytes())
        for record in records:
            if isinstance(record, Finding):
                check_json(record.data, "image")
        if path.name != "LICENSE":
            assert records, f"{path}: neither fields nor problems"


def test_dump_txt_values_agree_for_make_model_and_dates() -> None:
    root = shared_data("exif-py")
    expected: dict[str, dict[str, str]] = {}
    current = ""
    for line in (root / "dump.txt").read_text(errors="replace").splitlines():
        if line.startswith("Opening: "):
            current = line.removeprefix("Opening: tests/resources/")
        m = re.match(r"^(Image Make|Image Model|EXIF DateTimeOriginal) \(ASCII\): (.*)$", line)
        if m and current:
            expected.setdefault(current, {})[m.group(1)] = m.group(2)
    checked = 0
    for relative, values in expected.items():
        path = root / relative
        if not path.exists():
            continue
        tags = media(analyze(path, path.read_bytes())).get("tags") or {}
        for key, value in values.items():
            group, _, name = key.partition(" ")
            ours = tags.get(f"{'EXIF' if group in ('Image', 'EXIF') else group}:{name}")  # type: ignore[union-attr]
            assert (ours or "") == value.strip(), (relative, key)
            checked += 1
    assert checked > 100


def test_not_a_picture_is_ignored_and_a_truncated_one_is_a_problem() -> None:
    assert analyze("/x.txt", b"hello") == []
    records = analyze("/broken.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 20)
    assert records and all(isinstance(r, Problem) for r in records)
