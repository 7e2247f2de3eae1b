"""JPEG quantization tables matched against known cameras and libjpeg: a camera's own picture matches its
camera; the same picture re-saved by software no longer does, although its EXIF still names the camera."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from dftk.evidence.files import EvidenceFile
from dftk.records import Finding
from dftk_plugins.metadata.image import ImageMetaPlugin
from dftk_plugins.metadata.jpeg_tables import known_cameras
from helpers import shared_data


def _quality_check(data: bytes) -> dict[str, object]:
    records = list(ImageMetaPlugin().analyze(EvidenceFile("/x.jpg", len(data)), data))
    [check] = [r for r in records if isinstance(r, Finding) and r.kind == "image/jpeg-quality"]
    return dict(check.data)


def test_list_is_built_from_camera_pictures() -> None:
    assert len(known_cameras()) >= 8
    makes = {e["make"] for entries in known_cameras().values() for e in entries}
    assert {"Canon", "NIKON"} & makes


def test_a_camera_picture_matches_its_camera_and_a_resave_does_not(tmp_path: Path) -> None:
    original = shared_data("exif-py/jpg/exif-org/nikon-e950.jpg").read_bytes()
    check = _quality_check(original)
    assert check["table_source"] == "the tables of a known camera" and check["exif_camera_tables_match"] is True
    with Image.open(io.BytesIO(original)) as picture:
        out = io.BytesIO()
        picture.save(out, "JPEG", quality=85, exif=picture.info.get("exif", b""))
    resaved = _quality_check(out.getvalue())
    assert resaved["exif_camera_tables_match"] is False
    assert "libjpeg (IJG) tables at quality 85" in str(resaved["table_source"])
