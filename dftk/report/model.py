"""The report's content, read from the case store in a stable order: what was examined, with what, by
whom, when, what was found, what could not be processed, and the custody log that ties them together."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from dftk import __version__, clock
from dftk.case import custody
from dftk.case.store import CaseStore
from dftk.engine.registry import installed
from dftk.report import conventions

FORMAT = "dftk-report/1"


def report_time(store: CaseStore, deterministic: bool) -> str:
    """When the report was made: SOURCE_DATE_EPOCH, else (deterministic) the last custody event, else now."""
    if os.environ.get("SOURCE_DATE_EPOCH"):
        return datetime.fromtimestamp(int(os.environ["SOURCE_DATE_EPOCH"]), tz=UTC).isoformat()
    if deterministic:
        return store.last_event_time() or "1970-01-01T00:00:00+00:00"
    return clock.now()


def runs(store: CaseStore, deterministic: bool) -> list[dict[str, Any]]:
    """Runs with their plugins' versions, options and outcomes; durations only outside deterministic mode."""
    result = store.runs()
    disciplines = {name: p.cls.discipline for name, p in installed().items()}
    for run in result:
        for plugin in run["plugins"]:
            plugin["discipline"] = disciplines.get(plugin["plugin"], "unknown")
            if deterministic:
                del plugin["seconds"]
    return result


def findings(store: CaseStore, kind: str | None = None) -> Iterator[dict[str, Any]]:
    return store.parsed_findings(kind)


def problems(store: CaseStore) -> Iterator[dict[str, Any]]:
    return store.parsed_problems()


def summary(store: CaseStore) -> dict[str, Any]:
    kinds = store.kinds()
    return {"findings": sum(kinds.values()), "findings_by_kind": kinds, "problems": store.problem_count(),
            "histograms": conventions.histograms(store)}


def header(store: CaseStore, deterministic: bool, signer: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything but the findings and problems, which are streamed. With ``signer`` (who will sign the
    report: key id, algorithm, name, organisation), the signature's identity and time (the report's time)."""
    chain = custody.verify(store)
    generated = report_time(store, deterministic)
    signature = {**signer, "signed_at": generated} if signer is not None else None
    return {
        "format": FORMAT,
        "tool": {"name": "dftk", "version": __version__},
        "generated": generated,
        "case": {"name": store.folder.resolve().name, "schema_version": store.meta("schema_version"),
                 "created": store.meta("created")},
        "evidence": store.evidence_items(),
        "runs": runs(store, deterministic),
        "custody": {"events": list(custody.events(store)), "head": chain.head, "count": chain.events},
        "summary": summary(store),
        **({"signature": signature} if signature is not None else {}),
    }
