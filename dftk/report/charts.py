"""Charts for the HTML report, drawn as SVG on the server: no script, no network, nothing to load."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from dftk.report import conventions


def _month(value: Any) -> str | None:
    if not isinstance(value, str) or len(value) < 7:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return f"{moment.year:04d}-{moment.month:02d}" if 1970 <= moment.year <= 2100 else None


def activity(findings: Iterable[dict[str, Any]]) -> list[tuple[str, int]]:
    """Events per month from every time the findings carry (their files' times, the times they mark), in
    month order."""
    counts: Counter[str] = Counter()
    for finding in findings:
        for value in conventions.chart_times(finding["data"]):
            month = _month(value)
            if month:
                counts[month] += 1
    return sorted(counts.items())


def bars(series: list[tuple[str, int]], width: int = 900, height: int = 180) -> dict[str, Any]:
    """Geometry for a bar chart (the template draws it), labels every few bars to stay legible."""
    if not series:
        return {"bars": [], "width": width, "height": height}
    top = max(n for _, n in series)
    step = width / len(series)
    every = max(1, len(series) // 12)
    shapes = []
    for i, (label, n) in enumerate(series):
        h = (height - 30) * n / top
        shapes.append({"x": round(i * step + 1, 1), "y": round(height - 20 - h, 1), "w": round(max(step - 2, 1), 1),
                       "h": round(h, 1), "label": label if i % every == 0 else "", "title": f"{label}: {n}"})
    return {"bars": shapes, "width": width, "height": height}


def gps_points(findings: Iterable[dict[str, Any]], width: int = 720, height: int = 360) -> list[dict[str, Any]]:
    """Findings that mark a position, placed on an equirectangular world grid."""
    points = []
    for finding in findings:
        found = conventions.position(finding["data"])
        if found is not None:
            lat, lon = found
            points.append({"x": round((lon + 180) / 360 * width, 1), "y": round((90 - lat) / 180 * height, 1),
                           "title": f"{finding['subject']} ({lat:.5f}, {lon:.5f})"})
    return points
