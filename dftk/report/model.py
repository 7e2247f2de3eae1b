"""The report's content, read from the case store in a stable order: what was examined, with what, by
whom, when, what was found, what could not be processed, and the custody log that ties them together."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from dftk import __version__, custody
from dftk.case import CaseStore
from dftk.plugin import installed

FORMAT = "dftk-report/1"


def report_time(store: CaseStore, deterministic: bool) -> str:
    """When the report was made: SOURCE_DATE_EPOCH, else (deterministic) the last custody event, else now."""
    if os.environ.get("SOURCE_DATE_EPOCH"):
        return datetime.fromtimestamp(int(os.environ["SOURCE_DATE_EPOCH"]), tz=UTC).isoformat()
    if deterministic:
        row = store.db.execute("SELECT time FROM custody ORDER BY seq DESC LIMIT 1").fetchone()
        return str(row[0]) if row else "1970-01-01T00:00:00+00:00"
    return datetime.now(UTC).isoformat(timespec="seconds")


def _rows(store: CaseStore, sql: str, *args: object) -> list[dict[str, Any]]:
    return [dict(r) for r in store.db.execute(sql, args)]


def evidence(store: CaseStore) -> list[dict[str, Any]]:
    items = _rows(store, "SELECT * FROM evidence ORDER BY id")
    for item in items:
        item["stored_hashes"] = json.loads(item["stored_hashes"])
        item["metadata"] = json.loads(item["metadata"])
        seals = _rows(store, "SELECT run_id, phase, time, sha256, detail FROM seals WHERE evidence_id = ? "
                             "ORDER BY id", item["id"])
        for seal in seals:
            seal["detail"] = json.loads(seal["detail"])
        item["seals"] = seals
    return items


def runs(store: CaseStore, deterministic: bool) -> list[dict[str, Any]]:
    """Runs with their plugins' versions, options and outcomes; durations only outside deterministic mode."""
    result = _rows(store, "SELECT * FROM runs ORDER BY id")
    disciplines = {name: p.cls.discipline for name, p in installed().items()}
    for run in result:
        plugins = _rows(store, "SELECT plugin, version, options, outcome, started, finished, seconds, findings, "
                               "problems FROM plugin_runs WHERE run_id = ? ORDER BY plugin", run["id"])
        for plugin in plugins:
            plugin["options"] = json.loads(plugin["options"])
            plugin["discipline"] = disciplines.get(plugin["plugin"], "unknown")
            if deterministic:
                del plugin["seconds"]
        run["plugins"] = plugins
    return result


def findings(store: CaseStore, kind: str | None = None) -> Iterator[dict[str, Any]]:
    where, args = ("WHERE kind = ? ", (kind,)) if kind else ("", ())
    for row in store.db.execute("SELECT evidence_id, plugin, kind, subject, data FROM findings " + where +
                                "ORDER BY evidence_id, subject, kind, plugin, data", args):
        item = dict(row)
        item["data"] = json.loads(item["data"])
        yield item


def problems(store: CaseStore) -> Iterator[dict[str, Any]]:
    for row in store.db.execute("SELECT evidence_id, plugin, subject, message FROM problems "
                                "ORDER BY evidence_id, subject, plugin, message"):
        yield dict(row)


def summary(store: CaseStore) -> dict[str, Any]:
    kinds = {str(k): int(n) for k, n in store.db.execute(
        "SELECT kind, count(*) FROM findings GROUP BY kind ORDER BY kind")}
    problem_count = int(store.db.execute("SELECT count(*) FROM problems").fetchone()[0])
    return {"findings": sum(kinds.values()), "findings_by_kind": kinds, "problems": problem_count,
            "histograms": histograms(store)}


def histograms(store: CaseStore, top: int = 50) -> dict[str, list[list[Any]]]:
    """For every finding kind whose data has a ``value`` (indicators: e-mail, phone, card...): the most
    frequent values with their counts, over files and raw media alike."""
    result: dict[str, list[list[Any]]] = {}
    rows = store.db.execute(
        "SELECT kind, json_extract(data, '$.value') AS value, count(*) AS n FROM findings "
        "WHERE json_extract(data, '$.value') IS NOT NULL GROUP BY kind, value ORDER BY kind, n DESC, value")
    for kind, value, count in rows:
        values = result.setdefault(str(kind), [])
        if len(values) < top:
            values.append([value, int(count)])
    return result


def header(store: CaseStore, deterministic: bool) -> dict[str, Any]:
    """Everything but the findings and problems, which are streamed."""
    chain = custody.verify(store)
    return {
        "format": FORMAT,
        "tool": {"name": "dftk", "version": __version__},
        "generated": report_time(store, deterministic),
        "case": {"name": store.folder.resolve().name, "schema_version": store.meta("schema_version"),
                 "created": store.meta("created")},
        "evidence": evidence(store),
        "runs": runs(store, deterministic),
        "custody": {"events": list(custody.events(store)), "head": chain.head, "count": chain.events},
        "summary": summary(store),
    }
