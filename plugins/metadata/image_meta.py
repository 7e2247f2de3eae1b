"""Reading a picture's metadata: normalized fields, grouped tags (EXIF, GPS, XMP, IPTC, ICC, PNG text) and
what the checks need, each part that fails to read becoming a problem.

EXIF comes from exifread (maker notes left out: they are slow and rarely needed); dimensions, XMP, IPTC, ICC
and JPEG quantization tables from Pillow, which opens the header only. HEIC/AVIF are read through pillow-heif.
"""

from __future__ import annotations

import io
import struct
import warnings
from typing import Any

import exifread
from PIL import Image, IptcImagePlugin, UnidentifiedImageError

from dftk_plugins.metadata.common import exif_time, find_xmp, first, parse_xmp, text, tidy

try:
    from pillow_heif import register_heif_opener

    register_heif_opener()
except ImportError:  # pragma: no cover - pillow-heif is a dependency; without it HEIC gives EXIF only
    pass

_GROUPS = {"Image": "EXIF", "EXIF": "EXIF", "GPS": "GPS", "Thumbnail": "IFD1", "Interoperability": "Interop",
           "MakerNote": "MakerNotes"}
_IPTC = {(2, 5): "ObjectName", (2, 25): "Keywords", (2, 55): "DateCreated", (2, 60): "TimeCreated",
         (2, 80): "By-line", (2, 90): "City", (2, 101): "Country-PrimaryLocationName", (2, 105): "Headline",
         (2, 110): "Credit", (2, 115): "Source", (2, 116): "CopyrightNotice", (2, 120): "Caption-Abstract"}
# What exifread and Pillow raise on malformed input (exif-py/jpg/tests holds files that raised each).
PARSE_ERRORS = (ValueError, IndexError, KeyError, TypeError, struct.error, ZeroDivisionError, OverflowError,
                EOFError, OSError, MemoryError, SyntaxError, AttributeError, UnidentifiedImageError,
                Image.DecompressionBombError, Image.DecompressionBombWarning, RecursionError)


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
