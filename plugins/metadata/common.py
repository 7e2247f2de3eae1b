"""Helpers shared by the image, audio and document metadata plugins: times, JSON values, XMP, field tidying."""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from dftk.api import POSITION, TIMES, Buffer

# exifread and pypdf log warnings about odd files; without a handler Python would print them on stderr.
for _name in ("exifread", "pypdf", "mutagen", "olefile", "PIL"):
    logging.getLogger(_name).addHandler(logging.NullHandler())
    logging.getLogger(_name).propagate = False

MAX_TEXT = 4096  # longer tag values are cut: a tag is evidence of a value, not a place to store a file
_EXIF_TIME = re.compile(r"^\s*(\d{4})[:\-](\d\d)[:\-](\d\d)[ T](\d\d):(\d\d)(?::(\d\d))?(\.\d+)?\s*"
                        r"(Z|[+\-]\d\d:?\d\d)?\s*$")
_OFFSET = re.compile(r"^\s*([+\-])(\d\d):?(\d\d)\s*$")


def exif_time(text: str | None, offset: str | None = None, subsec: str | None = None) -> str | None:
    """An EXIF-style ``YYYY:MM:DD HH:MM:SS`` time as ISO 8601, with the offset when one is recorded.

    EXIF times without an OffsetTime tag are local times in an unknown zone, so they stay without one.
    Returns None for blank or impossible times (``0000:00:00 00:00:00`` is common).
    """
    if not text:
        return None
    m = _EXIF_TIME.match(text.strip("\x00 "))
    if not m:
        return None
    year, month, day, hour, minute = (int(g) for g in m.groups()[:5])
    second = int(m.group(6) or 0)
    try:
        datetime(year, month, day, hour, minute, second)  # noqa: DTZ001 - validation only
    except ValueError:
        return None
    value = f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}"
    fraction = m.group(7) or (f".{subsec.strip()}" if subsec and subsec.strip().isdigit() else "")
    zone = _zone(m.group(8)) or _zone(offset)
    return value + fraction + (zone or "")


def _zone(text: str | None) -> str | None:
    if not text:
        return None
    if text.strip() == "Z":
        return "+00:00"
    m = _OFFSET.match(text)
    if not m or int(m.group(2)) > 14 or int(m.group(3)) > 59:
        return None
    return f"{m.group(1)}{m.group(2)}:{m.group(3)}"


def iso_time(value: object) -> str | None:
    """ISO 8601 text of a datetime (tz kept when known) or an ISO-like string; None when unusable."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00")).isoformat()
        except ValueError:
            return exif_time(text)
    return None


def text(value: object) -> str | None:
    """A tag value as tidy text: decoded, NULs and surrounding spaces stripped, None when blank."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if value is None:
        return None
    result = str(value).replace("\x00", "").strip()
    return result[:MAX_TEXT] if result else None


def json_value(value: object) -> Any:
    """Any tag value as JSON values: bytes as hex (cut), sequences as lists, the rest as text."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else None
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        return raw[: MAX_TEXT // 2].hex()
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value[:256]]
    return text(value)


def tidy(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The fields without unknown values: None, empty strings and empty lists are left out."""
    return {k: v for k, v in fields.items() if v is not None and v != "" and v != [] and v != {}}


def first(*values: Any) -> Any:
    """The first value that is known (not None and not blank)."""
    for value in values:
        if value is not None and value != "":
            return value
    return None


def head(data: Buffer, size: int = 64) -> bytes:
    return bytes(data[:size])


# XMP: the few properties examiners ask for, read from the RDF packet (attributes or elements).
_NS = {
    "x": "adobe:ns:meta/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "xmpMM": "http://ns.adobe.com/xap/1.0/mm/",
    "stEvt": "http://ns.adobe.com/xap/1.0/sType/ResourceEvent#",
    "pdf": "http://ns.adobe.com/pdf/1.3/",
    "photoshop": "http://ns.adobe.com/photoshop/1.0/",
    "exif": "http://ns.adobe.com/exif/1.0/",
    "tiff": "http://ns.adobe.com/tiff/1.0/",
}
_XMP_PROPERTIES = (("xmp", "CreatorTool"), ("xmp", "CreateDate"), ("xmp", "ModifyDate"), ("xmp", "MetadataDate"),
                   ("dc", "title"), ("dc", "creator"), ("dc", "description"), ("pdf", "Producer"),
                   ("pdf", "Keywords"), ("xmpMM", "DocumentID"), ("xmpMM", "InstanceID"),
                   ("xmpMM", "OriginalDocumentID"), ("photoshop", "DateCreated"), ("exif", "DateTimeOriginal"),
                   ("tiff", "Make"), ("tiff", "Model"))


def find_xmp(data: bytes, limit: int = 4 << 20) -> bytes | None:
    """The first XMP packet (``<x:xmpmeta ... </x:xmpmeta>``) in the first ``limit`` bytes."""
    start = data.find(b"<x:xmpmeta", 0, limit)
    if start < 0:
        return None
    end = data.find(b"</x:xmpmeta>", start, start + limit)
    return data[start : end + len(b"</x:xmpmeta>")] if end > 0 else None


def parse_xmp(packet: bytes | str | None) -> tuple[dict[str, Any], str | None]:
    """XMP properties as ``{"XMP:CreatorTool": ..., "XMP:History": [...]}``, and a problem text if any.

    ElementTree does not expand external entities; an entity-laden packet is refused before parsing.
    """
    if not packet:
        return {}, None
    raw = packet.encode("utf-8", "replace") if isinstance(packet, str) else bytes(packet)
    if b"<!ENTITY" in raw or b"<!DOCTYPE" in raw:
        return {}, "XMP packet declares entities; not parsed"
    try:
        root = ET.fromstring(raw.strip(b"\x00 \r\n\t"))
    except ET.ParseError as e:
        return {}, f"XMP packet is not well-formed XML: {e}"
    tags: dict[str, Any] = {}
    for prefix, local in _XMP_PROPERTIES:
        value = _xmp_property(root, _NS[prefix], local)
        if value is not None:
            tags[f"XMP:{local[0].upper()}{local[1:]}"] = value
    history = _xmp_history(root)
    if history:
        tags["XMP:History"] = history
    return tags, None


def _xmp_property(root: ET.Element, namespace: str, local: str) -> Any:
    name = f"{{{namespace}}}{local}"
    for desc in root.iter(f"{{{_NS['rdf']}}}Description"):
        if name in desc.attrib:
            return text(desc.attrib[name])
        element = desc.find(name)
        if element is not None:
            items = [text(li.text) for li in element.iter(f"{{{_NS['rdf']}}}li")]
            values = [i for i in items if i]
            if values:
                return values[0] if len(values) == 1 else values
            return text(element.text)
    return None


def _xmp_history(root: ET.Element) -> list[dict[str, str]]:
    events = []
    history = root.find(f".//{{{_NS['xmpMM']}}}History")
    if history is None:
        return []
    for li in list(history.iter(f"{{{_NS['rdf']}}}li"))[:100]:
        event: dict[str, str] = {}
        for key in ("action", "when", "softwareAgent", "changed"):
            name = f"{{{_NS['stEvt']}}}{key}"
            value = text(li.attrib.get(name)) or _child_text(li, name)
            if value:
                event[key] = value
        if event:
            events.append(event)
    return events


def _child_text(element: ET.Element, name: str) -> str | None:
    child = element.find(f".//{name}")
    return text(child.text) if child is not None else None


def grouped(group: str, items: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """Tags as ``{"GROUP:Name": json value}``, blank values left out."""
    result = {}
    for name, value in items:
        converted = json_value(value)
        if converted is not None and converted != "" and converted != []:
            result[f"{group}:{name}"] = converted
    return result


def marks(fields: Mapping[str, Any], times: Mapping[str, str],
          position: tuple[str, str] | None = None) -> dict[str, Any]:
    """The finding-data hints for the fields present: which hold times (and what each means) and which two
    hold a position, so the report and the timeline show them (docs/plugins.md)."""
    hints: dict[str, Any] = {}
    present = {field: meaning for field, meaning in times.items() if fields.get(field) is not None}
    if present:
        hints[TIMES] = present
    if position is not None and all(fields.get(field) is not None for field in position):
        hints[POSITION] = list(position)
    return hints
