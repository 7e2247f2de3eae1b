"""Finding data read by its documented conventions (``dftk.records``: ``@times``, ``@position``, ``@image``,
``value``, a file's own times): how any plugin's findings, ours or an outside one's, reach the report's
charts, map, pictures and histograms and the timeline. Nothing here names a plugin or a finding kind."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from dftk.case.store import CaseStore
from dftk.hashing.algorithms import ALGORITHMS
from dftk.records import FILE_TIMES, IMAGE, POSITION, TIMES

_BASE64 = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")


def marked_times(data: Mapping[str, Any]) -> Iterator[tuple[str, str, Any]]:
    """``(field, meaning, value)`` of each time the finding marks with ``@times``."""
    marks = data.get(TIMES)
    if isinstance(marks, Mapping):
        for field, meaning in marks.items():
            if field in data:
                yield field, str(meaning), data[field]


def chart_times(data: Mapping[str, Any]) -> Iterator[Any]:
    """Every time value a finding carries: its file's own times and the times it marks."""
    for field in FILE_TIMES:
        if field in data:
            yield data[field]
    for _, _, value in marked_times(data):
        yield value


def content_hashes(data: Mapping[str, Any]) -> dict[str, str]:
    """The digests of the subject's content a finding gives, under the algorithms' names (``md5``...)."""
    return {name: value for name, value in data.items() if name in ALGORITHMS and isinstance(value, str)}


def position(data: Mapping[str, Any]) -> tuple[float, float] | None:
    """The ``@position`` the finding marks, when both fields hold degrees in range."""
    fields = data.get(POSITION)
    if not (isinstance(fields, list) and len(fields) == 2):
        return None
    lat, lon = data.get(fields[0]), data.get(fields[1])
    if isinstance(lat, (int, float)) and isinstance(lon, (int, float)) and -90 <= lat <= 90 and -180 <= lon <= 180:
        return float(lat), float(lon)
    return None


def picture(data: Mapping[str, Any]) -> str | None:
    """The base64 picture a finding marks with ``@image`` (plain base64 only: it goes into a data: URI)."""
    field = data.get(IMAGE)
    value = data.get(field) if isinstance(field, str) else None
    return value if isinstance(value, str) and _BASE64.match(value) else None


def histograms(store: CaseStore, top: int = 50) -> dict[str, list[list[Any]]]:
    """For every finding kind whose data has a ``value`` (indicators: e-mail, phone, card...): the most
    frequent values with their counts, over files and raw media alike."""
    result: dict[str, list[list[Any]]] = {}
    for kind, value, count in store.value_counts():
        values = result.setdefault(str(kind), [])
        if len(values) < top:
            values.append([value, int(count)])
    return result


def finding_events(findings: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Timeline events from the times findings mark. A time recorded without an offset is local time of an
    unknown zone: it is sorted as if it were UTC and marked so."""
    for finding in findings:
        for field, meaning, value in marked_times(finding["data"]):
            moment = _parse(value)
            if moment is None:
                continue
            yield {"t": moment.timestamp() if moment.tzinfo else moment.replace(tzinfo=UTC).timestamp(),
                   "time": moment.astimezone(UTC).isoformat() if moment.tzinfo else str(value),
                   "timezone": "UTC" if moment.tzinfo else "unknown (as recorded, no offset)",
                   "macb": "....", "path": finding["subject"], "inode": None, "size": None, "mode": None,
                   "deleted": None, "volume_index": None, "fs_type": None,
                   "source": f"{finding['kind']}:{field}", "meaning": meaning}


def _parse(value: Any) -> datetime | None:
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
