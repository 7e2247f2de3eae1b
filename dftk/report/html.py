"""report.html: one self-contained, offline page. Jinja2 autoescapes everything, and a Content Security
Policy allows only the page's own nonce-bearing style and script, so nothing taken from the evidence (file
names, EXIF strings, document titles) can run as markup or script."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from dftk import text
from dftk.case.store import CaseStore
from dftk.records import IMAGE, is_hint
from dftk.report import charts, conventions, model

MAX_ROWS = 2000
MAX_THUMBNAILS = 400


def _environment() -> Environment:
    # finalize: every value shown has its control and direction characters escaped visibly (a name with
    # U+202E must not show reversed); autoescape takes care of markup
    return Environment(loader=PackageLoader("dftk.report", "templates"), autoescape=select_autoescape(["j2"]),
                       trim_blocks=True, lstrip_blocks=True, finalize=text.html)


def _cell(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)


def _sections(findings: list[dict[str, Any]], disciplines: dict[str, str]) -> list[tuple[str, list[dict[str, Any]]]]:
    by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for finding in findings:
        if IMAGE not in finding["data"]:  # pictures are shown as pictures, not as table rows
            by_kind[finding["kind"]].append(finding)
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for n, (kind, items) in enumerate(sorted(by_kind.items())):
        columns = sorted({key for item in items[:MAX_ROWS] for key in item["data"] if not is_hint(key)})
        rows = [{"subject": item["subject"], "cells": [_cell(item["data"].get(c, "")) for c in columns]}
                for item in items[:MAX_ROWS]]
        discipline = disciplines.get(items[0]["plugin"], "other")
        grouped[discipline].append({"kind": kind, "id": n, "columns": columns, "rows": rows, "total": len(items)})
    return sorted(grouped.items())


def _thumbnails(findings: list[dict[str, Any]]) -> list[dict[str, str]]:
    shown = []
    for finding in findings:
        data = conventions.picture(finding["data"])
        if data is not None:
            mime = "image/png" if data.startswith("iVBOR") else "image/jpeg"
            shown.append({"b64": data, "mime": mime, "subject": finding["subject"]})
    return shown


def render(store: CaseStore, head: dict[str, Any]) -> str:
    """The page; findings are read from the store (tables are capped, the JSON report has everything)."""
    findings = list(model.findings(store))
    problems = list(model.problems(store))
    disciplines = {p["plugin"]: p["discipline"] for run in head["runs"] for p in run["plugins"]}
    skipped = sorted({f"{p['plugin']}: {p['outcome']}" for run in head["runs"] for p in run["plugins"]
                      if not p["outcome"].startswith("ok")})
    thumbnails = _thumbnails(findings)
    nonce = hashlib.sha256(json.dumps(head, sort_keys=True).encode()).hexdigest()[:32]
    return _environment().get_template("report.html.j2").render(
        head=head, nonce=nonce, problems=problems[:MAX_ROWS], problems_more=max(0, len(problems) - MAX_ROWS),
        skipped=skipped, chart=charts.bars(charts.activity(findings)), gps=charts.gps_points(findings),
        thumbnails=thumbnails[:MAX_THUMBNAILS], thumbnails_more=max(0, len(thumbnails) - MAX_THUMBNAILS),
        sections=_sections(findings, disciplines),
    )
