"""Image metadata (discipline: image): EXIF, GPS, XMP, IPTC, ICC; and checks that suggest an edited picture.

EXIF comes from exifread (maker notes left out: they are slow and rarely needed); dimensions, XMP, IPTC, ICC
and JPEG quantization tables from Pillow, which opens the header only. HEIC/AVIF are read through pillow-heif.
See docs/metadata.md for the fields, the checks and their limits.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import struct
import warnings
from collections.abc import Iterator
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

import exifread
from PIL import Image, IptcImagePlugin, UnidentifiedImageError

from dftk.api import Buffer, EvidenceFile, Finding, Plugin, Problem, Record, mime_of
from dftk_plugins.metadata.common import exif_time, find_xmp, first, marks, parse_xmp, text, tidy

try:
    from pillow_heif import register_heif_opener

    register_heif_opener()
except ImportError:  # pragma: no cover - pillow-heif is a dependency; without it HEIC gives EXIF only
    pass

_GROUPS = {"Image": "EXIF", "EXIF": "EXIF", "GPS": "GPS", "Thumbnail": "IFD1", "Interoperability": "Interop",
           "MakerNote": "MakerNotes"}
_HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"mif1", b"msf1", b"avif", b"avis", b"crx ")
_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"II*\x00", b"MM\x00*", b"IIRO",
               b"IIU\x00", b"FUJIFILMCCD-RAW", b"\xff\x0a", b"\x00\x00\x00\x0cJXL ", b"BM")
_IPTC = {(2, 5): "ObjectName", (2, 25): "Keywords", (2, 55): "DateCreated", (2, 60): "TimeCreated",
         (2, 80): "By-line", (2, 90): "City", (2, 101): "Country-PrimaryLocationName", (2, 105): "Headline",
         (2, 110): "Credit", (2, 115): "Source", (2, 116): "CopyrightNotice", (2, 120): "Caption-Abstract"}
# What exifread and Pillow raise on malformed input (exif-py/jpg/tests holds files that raised each).
PARSE_ERRORS = (ValueError, IndexError, KeyError, TypeError, struct.error, ZeroDivisionError, OverflowError,
                EOFError, OSError, MemoryError, SyntaxError, AttributeError, UnidentifiedImageError,
                Image.DecompressionBombError, Image.DecompressionBombWarning, RecursionError)


def is_image(head: bytes) -> bool:
    """True for the picture formats this plugin reads, by their first bytes."""
    if head.startswith(_SIGNATURES):
        return True
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return True
    return head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS

# What each time a picture records means, for the timeline (docs/metadata.md).
TIMES_TAKEN = {"datetime_original": "picture taken", "datetime_digitized": "picture digitized",
               "datetime_modified": "picture file changed"}


class ImageMetaPlugin(Plugin):
    """Image metadata (EXIF, GPS, XMP, IPTC, ICC) and edit signs: thumbnail, software, dates, JPEG quality."""

    name: ClassVar[str] = "image"
    discipline: ClassVar[str] = "image"
    version: ClassVar[str] = "1.0.0"

    def analyze(self, file: EvidenceFile, data: Buffer, **opts: Any) -> Iterator[Record]:
        if not is_image(bytes(data[:32])):
            return
        raw = bytes(data)
        meta = read_image(raw)
        for message in meta.problems:
            yield Problem(file.path, message)
        if not meta.tags and not meta.fields:
            return
        hints = marks(meta.fields, TIMES_TAKEN, ("gps_latitude", "gps_longitude"))
        yield Finding("media/image", file.path, {"mime": mime_of(raw[:8192]), **meta.fields, "tags": meta.tags,
                                                 **hints})
        for kind, found in run_checks(meta, file):
            yield Finding(kind, file.path, found)


class ImageMeta:
    """What was read from one picture: normalized fields, grouped tags, problems, and what the checks need."""

    def __init__(self) -> None:
        self.fields: dict[str, Any] = {}
        self.tags: dict[str, Any] = {}
        self.problems: list[str] = []
        self.thumbnail: bytes | None = None
        self.picture: bytes = b""
        self.quantization: dict[int, list[int]] = {}
        self.format: str | None = None


def read_image(raw: bytes) -> ImageMeta:
    """Reads every piece of metadata it can; each failing part becomes a problem, the others still count."""
    meta = ImageMeta()
    meta.picture = raw
    exif = _exif(raw, meta)
    _pillow(raw, meta)
    if "XMP:CreatorTool" not in meta.tags:
        _xmp(find_xmp(raw[: 1 << 20]), meta)
    meta.fields = tidy({**_normalize(exif, meta), **meta.fields})
    return meta


def _exif(raw: bytes, meta: ImageMeta) -> dict[str, Any]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            found = exifread.process_file(io.BytesIO(raw), details=False, extract_thumbnail=True)
    except PARSE_ERRORS as e:
        meta.problems.append(f"EXIF could not be read: {type(e).__name__}: {e}")
        return {}
    thumb = found.pop("JPEGThumbnail", None)
    if isinstance(thumb, bytes) and thumb.startswith(b"\xff\xd8"):
        meta.thumbnail = thumb
    found.pop("TIFFThumbnail", None)
    for key, tag in found.items():
        group, _, name = key.partition(" ")
        if not name or name.startswith("Tag 0x"):
            continue
        value = text(getattr(tag, "printable", tag))
        if value is not None:
            meta.tags[f"{_GROUPS.get(group, group)}:{name}"] = value
    return found


def _values(exif: dict[str, Any], key: str) -> list[Any]:
    tag = exif.get(key)
    values = getattr(tag, "values", None)
    return list(values) if isinstance(values, (list, tuple)) else []


def _str(exif: dict[str, Any], key: str) -> str | None:
    tag = exif.get(key)
    values = getattr(tag, "values", None)
    return text(values) if isinstance(values, (str, bytes)) else None


def _ratio(value: Any) -> float | None:
    num, den = getattr(value, "numerator", value), getattr(value, "denominator", 1)
    if not isinstance(num, int) or not isinstance(den, int) or den == 0:
        return None
    return num / den


def gps_degrees(parts: list[Any], ref: str | None) -> float | None:
    """Degrees, minutes, seconds (rationals) and N/S/E/W as signed decimal degrees; None if unusable."""
    numbers = [_ratio(p) for p in parts[:3]]
    if not numbers or any(n is None for n in numbers):
        return None
    d, m, s = ([*numbers, 0.0, 0.0])[:3]
    value = float(d or 0) + float(m or 0) / 60 + float(s or 0) / 3600
    if not 0 <= value <= 180:
        return None
    return round(-value if (ref or "").strip().upper()[:1] in ("S", "W") else value, 8)


def _normalize(exif: dict[str, Any], meta: ImageMeta) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "make": _str(exif, "Image Make"),
        "model": _str(exif, "Image Model"),
        "serial_number": first(_str(exif, "EXIF BodySerialNumber"), _str(exif, "Image CameraSerialNumber")),
        "lens_model": _str(exif, "EXIF LensModel"),
        "software": _str(exif, "Image Software"),
        "datetime_original": exif_time(_str(exif, "EXIF DateTimeOriginal"), _str(exif, "EXIF OffsetTimeOriginal"),
                                       _str(exif, "EXIF SubSecTimeOriginal")),
        "datetime_digitized": exif_time(_str(exif, "EXIF DateTimeDigitized"),
                                        _str(exif, "EXIF OffsetTimeDigitized")),
        "datetime_modified": exif_time(_str(exif, "Image DateTime"), _str(exif, "EXIF OffsetTime")),
    }
    orientation = _values(exif, "Image Orientation")
    if orientation and isinstance(orientation[0], int) and 1 <= orientation[0] <= 8:
        fields["orientation"] = orientation[0]
    lat = gps_degrees(_values(exif, "GPS GPSLatitude"), _str(exif, "GPS GPSLatitudeRef"))
    lon = gps_degrees(_values(exif, "GPS GPSLongitude"), _str(exif, "GPS GPSLongitudeRef"))
    if lat is not None and lon is not None and abs(lat) <= 90 and not (lat == 0 and lon == 0):
        fields["gps_latitude"], fields["gps_longitude"] = lat, lon
    altitude = _values(exif, "GPS GPSAltitude")
    if altitude and _ratio(altitude[0]) is not None:
        below = _values(exif, "GPS GPSAltitudeRef")[:1] == [1]
        fields["gps_altitude"] = round(-(_ratio(altitude[0]) or 0) if below else (_ratio(altitude[0]) or 0), 3)
    if meta.thumbnail:
        fields["thumbnail"] = _thumbnail_info(meta.thumbnail)
    return fields


def _thumbnail_info(thumb: bytes) -> dict[str, Any]:
    info: dict[str, Any] = {"size": len(thumb), "format": "JPEG"}
    try:
        with Image.open(io.BytesIO(thumb)) as picture:
            info["width"], info["height"] = picture.size
    except PARSE_ERRORS:
        info["readable"] = False
    return info


def _pillow(raw: bytes, meta: ImageMeta) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(raw)) as picture:
                _from_picture(picture, meta)
    except PARSE_ERRORS as e:
        if not meta.tags:  # Pillow reads no camera raw and no JPEG XL; EXIF from them is enough
            meta.problems.append(f"picture header could not be read: {type(e).__name__}: {e}")


def _from_picture(picture: Image.Image, meta: ImageMeta) -> None:
    meta.format = picture.format
    meta.fields["width"], meta.fields["height"] = picture.size
    info = picture.info
    if isinstance(info.get("xmp"), (bytes, str)):
        _xmp(info["xmp"] if isinstance(info["xmp"], bytes) else info["xmp"].encode(), meta)
    profile = info.get("icc_profile")
    if isinstance(profile, bytes):
        name = icc_description(profile)
        if name:
            meta.tags["ICC_Profile:ProfileDescription"] = name
    if picture.format == "PNG":
        for key, value in sorted(info.items()):
            if isinstance(key, str) and isinstance(value, str) and key not in ("xmp", "XML:com.adobe.xmp"):
                meta.tags[f"PNG:{key}"] = text(value)
    if picture.format == "JPEG":
        meta.quantization = {k: list(v) for k, v in getattr(picture, "quantization", {}).items()}
        _iptc(picture, meta)


def _xmp(packet: bytes | None, meta: ImageMeta) -> None:
    tags, problem = parse_xmp(packet)
    meta.tags.update(tags)
    if problem:
        meta.problems.append(problem)


def _iptc(picture: Image.Image, meta: ImageMeta) -> None:
    try:
        found = IptcImagePlugin.getiptcinfo(picture) or {}  # type: ignore[arg-type]
    except PARSE_ERRORS as e:
        meta.problems.append(f"IPTC could not be read: {type(e).__name__}: {e}")
        return
    for key, name in _IPTC.items():
        value = found.get(key)
        if isinstance(value, list):
            values = [v for v in (text(x) for x in value) if v]
            if values:
                meta.tags[f"IPTC:{name}"] = values
        elif value is not None and text(value):
            meta.tags[f"IPTC:{name}"] = text(value)


def icc_description(profile: bytes) -> str | None:
    """The 'desc' tag of an ICC profile (v2 'desc' or v4 'mluc'), read without a colour engine."""
    if len(profile) < 132:
        return None
    (count,) = struct.unpack_from(">I", profile, 128)
    for i in range(min(count, 100)):
        entry = 132 + 12 * i
        if entry + 12 > len(profile):
            return None
        sig, offset, size = struct.unpack_from(">4sII", profile, entry)
        if sig == b"desc" and offset + size <= len(profile):
            return _icc_text(profile[offset : offset + size])
    return None


def _icc_text(block: bytes) -> str | None:
    if block[:4] == b"desc" and len(block) >= 12:
        (length,) = struct.unpack_from(">I", block, 8)
        name: str | None = text(block[12 : 12 + length].split(b"\x00")[0].decode("latin-1"))
        return name
    if block[:4] == b"mluc" and len(block) >= 28:
        size, offset = struct.unpack_from(">II", block, 20)
        unicode_name: str | None = text(block[offset : offset + size].decode("utf-16-be", "replace"))
        return unicode_name
    return None


# Editors and re-encoders named in Software, XMP CreatorTool or XMP history (case-insensitive).
EDITORS = re.compile(r"photoshop|gimp|lightroom|paint\.net|painttool|pixelmator|affinity|snapseed|picasa|"
                     r"capture one|darktable|rawtherapee|acdsee|corel|paint ?shop|luminar|photoscape|fotor|canva|"
                     r"facetune|meitu|krita|photo ?editor|imagemagick|graphicsmagick|photos? app", re.IGNORECASE)
# EXIF times are local times and file-system times UTC: only a gap beyond any time zone counts.
CLOCK_SLACK = timedelta(hours=38)
THUMBNAIL_DIFFERENCE = 40  # mean absolute grey-level difference (0..255) on a 16x16 reduction
_IJG_LUMA = (16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
             14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
             49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99)
_IJG_CHROMA = (17, 18, 24, 47, *[99] * 4, 18, 21, 26, 66, *[99] * 4, 24, 26, 56, *[99] * 5, 47, 66, *[99] * 6,
               *[99] * 32)


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


@cache
def ijg_table(base: tuple[int, ...], quality: int) -> list[int]:
    """The libjpeg (IJG) table for a quality from 1 to 100, as cjpeg and most software compute it."""
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    return [min(max((v * scale + 50) // 100, 1), 255) for v in base]


_ZIGZAG = sorted(range(64), key=lambda i: (i // 8 + i % 8, i // 8 if (i // 8 + i % 8) % 2 else -(i // 8)))


def _orders(table: list[int]) -> tuple[list[int], list[int]]:
    zigzag = [0] * 64
    for position, index in enumerate(_ZIGZAG):
        zigzag[index] = table[position]
    return table, zigzag


def estimate_quality(tables: dict[int, list[int]]) -> dict[str, Any] | None:
    """Estimated JPEG quality (1-100) from the luminance table, and whether the tables are exactly IJG's."""
    luma = tables.get(0)
    if not luma or len(luma) != 64:
        return None
    candidates = _orders(luma)
    best = min(range(1, 101), key=lambda q: min(sum(abs(a - b) for a, b in zip(ijg_table(_IJG_LUMA, q), t,
                                                                                strict=True))
                                                 for t in candidates))
    exact = any(ijg_table(_IJG_LUMA, best) == t for t in candidates)
    chroma = tables.get(1)
    if exact and chroma and len(chroma) == 64:
        exact = any(ijg_table(_IJG_CHROMA, best) == t for t in _orders(chroma))
    return {"quality_estimate": best, "ijg_standard_tables": exact, "tables": len(tables)}


def tables_digest(tables: dict[int, list[int]]) -> str:
    """A short digest of a JPEG's quantization tables, as the known-table list keys them."""
    canonical = json.dumps({str(k): list(v) for k, v in sorted(tables.items())}, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:24]


@cache
def known_cameras() -> dict[str, list[dict[str, str]]]:
    """Quantization tables seen in camera JPEGs (plugins/data/jpeg_qtables.json, rebuilt by
    bench/jpeg_qtables.py): digest -> the makes and models that wrote them."""
    path = Path(__file__).with_name("data") / "jpeg_qtables.json"
    try:
        loaded: dict[str, list[dict[str, str]]] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return loaded


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
