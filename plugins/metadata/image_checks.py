"""The image-forensics checks on what was read from a picture: editing software its metadata names, dates that
contradict each other or the file system, the JPEG quality and whose quantization tables it was saved with, and
a thumbnail that no longer shows the picture."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from PIL import Image

from dftk.api import EvidenceFile
from dftk_plugins.metadata.image_meta import PARSE_ERRORS, ImageMeta
from dftk_plugins.metadata.jpeg_tables import estimate_quality, known_cameras, tables_digest

# Editors and re-encoders named in Software, XMP CreatorTool or XMP history (case-insensitive).
EDITORS = re.compile(r"photoshop|gimp|lightroom|paint\.net|painttool|pixelmator|affinity|snapseed|picasa|"
                     r"capture one|darktable|rawtherapee|acdsee|corel|paint ?shop|luminar|photoscape|fotor|canva|"
                     r"facetune|meitu|krita|photo ?editor|imagemagick|graphicsmagick|photos? app", re.IGNORECASE)
# EXIF times are local times and file-system times UTC: only a gap beyond any time zone counts.
CLOCK_SLACK = timedelta(hours=38)
THUMBNAIL_DIFFERENCE = 40  # mean absolute grey-level difference (0..255) on a 16x16 reduction


def run_checks(meta: ImageMeta, file: EvidenceFile) -> Iterator[tuple[str, dict[str, Any]]]:
    """The image-forensics checks, each yielding (kind, data) only when it has something to say."""
    yield from _editing_software(meta)
    yield from _dates(meta, file)
    yield from _jpeg_quality(meta)
    yield from _thumbnail_differs(meta)


def _editing_software(meta: ImageMeta) -> Iterator[tuple[str, dict[str, Any]]]:
    named = [("EXIF:Software", meta.tags.get("EXIF:Software")), ("XMP:CreatorTool", meta.tags.get("XMP:CreatorTool"))]
    for event in meta.tags.get("XMP:History") or []:
        named.append(("XMP:History", event.get("softwareAgent")))
    hits = sorted({(source, value) for source, value in named if isinstance(value, str) and EDITORS.search(value)})
    if hits:
        yield "image/editing-software", {"software": [{"source": s, "name": v} for s, v in hits]}


def _dates(meta: ImageMeta, file: EvidenceFile) -> Iterator[tuple[str, dict[str, Any]]]:
    times = {k: meta.fields.get(k) for k in ("datetime_original", "datetime_digitized", "datetime_modified")}
    parsed = {k: _naive(v) for k, v in times.items() if isinstance(v, str)}
    reasons = []
    original, digitized, modified = (parsed.get(k) for k in times)
    if original and modified and modified - original > timedelta(seconds=60):
        reasons.append("modified after it was taken (DateTime later than DateTimeOriginal)")
    if original and modified and original - modified > timedelta(seconds=60):
        reasons.append("taken after it was modified (DateTimeOriginal later than DateTime)")
    if original and digitized and abs(original - digitized) > timedelta(seconds=60):
        reasons.append("DateTimeOriginal and DateTimeDigitized differ")
    if original and file.mtime and original - file.mtime.replace(tzinfo=None) > CLOCK_SLACK:
        reasons.append("taken after the file's last modification time in the file system")
    if reasons:
        found = {k: v for k, v in times.items() if v}
        if file.mtime:
            found["mtime"] = file.mtime.isoformat()
        yield "image/date-mismatch", {"reasons": reasons, **found}


def _naive(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value[:19])
    except ValueError:
        return None


def _jpeg_quality(meta: ImageMeta) -> Iterator[tuple[str, dict[str, Any]]]:
    found = estimate_quality(meta.quantization)
    if not found:
        return
    cameras = known_cameras().get(tables_digest(meta.quantization), [])
    if cameras:
        found["table_source"] = "the tables of a known camera"
        found["known_cameras"] = cameras
    elif found["ijg_standard_tables"]:
        found["table_source"] = (f"libjpeg (IJG) tables at quality {found['quality_estimate']}: software such as "
                                 "GIMP, ImageMagick or Pillow, or a camera that uses them")
    else:
        found["table_source"] = "custom tables of no camera or editor in dftk's list"
    model_tables = _tables_of(meta.fields.get("make"), meta.fields.get("model"))
    if model_tables:  # the camera EXIF names is in the list: do its tables fit? (no: re-saved by software)
        found["exif_camera_tables_match"] = tables_digest(meta.quantization) in model_tables
    yield "image/jpeg-quality", found


def _tables_of(make: Any, model: Any) -> set[str]:
    """Digests of the tables the list knows for this make and model."""
    if not make or not model:
        return set()
    wanted = (str(make).strip().lower(), str(model).strip().lower())
    return {digest for digest, entries in known_cameras().items()
            if any((e["make"].strip().lower(), e["model"].strip().lower()) == wanted for e in entries)}


def _thumbnail_differs(meta: ImageMeta) -> Iterator[tuple[str, dict[str, Any]]]:
    if not meta.thumbnail or meta.format != "JPEG":
        return
    try:
        with Image.open(io.BytesIO(meta.picture)) as picture:
            picture.draft("L", (128, 128))
            main = picture.convert("L")
        with Image.open(io.BytesIO(meta.thumbnail)) as thumb:
            small = thumb.convert("L")
    except PARSE_ERRORS:
        return
    small = _unletterbox(small, main.width / max(main.height, 1))
    a = main.resize((16, 16)).tobytes()
    b = small.resize((16, 16)).tobytes()
    difference = sum(abs(x - y) for x, y in zip(a, b, strict=True)) / 256
    if difference > THUMBNAIL_DIFFERENCE:
        yield "image/thumbnail-differs", {"mean_difference": round(difference, 1),
                                          "threshold": THUMBNAIL_DIFFERENCE,
                                          "main_size": [main.width, main.height],
                                          "thumbnail_size": [small.width, small.height]}


def _unletterbox(thumb: Image.Image, aspect: float) -> Image.Image:
    """Cameras pad a 3:2 picture into a 4:3 thumbnail with black bars; compare only the picture part."""
    width, height = thumb.size
    if height and abs(width / height - aspect) > 0.05:
        if width / height < aspect:
            inner = round(width / aspect)
            top = (height - inner) // 2
            return thumb.crop((0, top, width, top + inner))
        inner = round(height * aspect)
        left = (width - inner) // 2
        return thumb.crop((left, 0, left + inner, height))
    return thumb
