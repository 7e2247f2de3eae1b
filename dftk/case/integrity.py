"""What the custody chain covers beyond its own events: every run's findings, problems and rows.

A run's closing event (``run.completed``, ``run.interrupted``, or ``run.abandoned`` for a run whose process
died) records a digest of what the run wrote, in a defined order:

- ``records``: SHA-256 over the lines ``F <digest>`` of its findings, then ``P <digest>`` of its problems,
  each sorted, each digest recomputed from the row's content (plugin, kind, subject, data; plugin,
  subject, message), with their counts;
- ``rows``: SHA-256 of the canonical JSON of its run row, its plugin rows (but their durations), its seal rows
  and its evidence row.

``check`` recomputes both for every run and compares them with what the chain recorded; it also refuses
rows that belong to no closed run and a custody table whose append-only triggers are gone. Any difference
is a ``SignatureError`` (exit 3) naming the run. What this cannot prove: a case store rewritten whole and
re-chained with the triggers put back. That is caught only against a signed report made before
(``dftk verify REPORT --case DIR``), whose custody head the case must still hold.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from dftk.case import custody
from dftk.case.store import CaseStore, digest
from dftk.errors import SignatureError
from dftk.records import canonical_json

CLOSING = ("run.completed", "run.interrupted", "run.abandoned")


def run_digest(store: CaseStore, run_id: int) -> dict[str, Any]:
    """The counts and digests of what one run wrote, as its closing event records them."""
    lines = hashlib.sha256()
    counts = {"findings": 0, "problems": 0}
    for tag, name, digests in (("F", "findings", store.finding_digests(run_id, digest)),
                               ("P", "problems", store.problem_digests(run_id, digest))):
        for value in sorted(digests):
            lines.update(f"{tag} {value}\n".encode())
            counts[name] += 1
    return {**counts, "records": lines.hexdigest(), "rows": _rows_digest(store, run_id)}


def _rows_digest(store: CaseStore, run_id: int) -> str:
    rows = store.run_rows(run_id)
    return hashlib.sha256(canonical_json(rows).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class CaseCheck:
    """The custody chain and every closed run's records verified."""

    events: int
    head: str
    runs: int
    notes: tuple[str, ...]


def check(store: CaseStore) -> CaseCheck:
    """Verifies the custody chain, the append-only triggers and every run's recorded digests.

    Raises:
        SignatureError: naming the first event or run that does not hold.
    """
    events = list(custody.events(store))
    chain = custody.verify_events(events)
    if not store.custody_triggers():
        raise SignatureError("custody log: its append-only triggers were removed; the log may have been rewritten")
    closing = _closing_events(events)
    runs = store.run_ids()
    for run_id in runs:
        if run_id not in closing:
            raise SignatureError(f"run {run_id}: no closing event in the custody log (a run row inserted, or a run "
                                 "whose process died: `dftk run` or `dftk report` on the case records it)")
        _compare(run_id, closing[run_id], run_digest(store, run_id))
    stray = store.runs_without_row(runs)
    if stray:
        raise SignatureError(f"run {stray[0]}: findings, problems or seals recorded for a run the case does not hold")
    return CaseCheck(chain.events, chain.head, len(runs), tuple(custody.clock_notes(events)))


def _closing_events(events: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    found: dict[int, dict[str, Any]] = {}
    for event in events:
        if event["action"] in CLOSING:
            details = json.loads(event["details"])
            found[int(details["run"])] = details.get("written", {})
    return found


def _compare(run_id: int, recorded: dict[str, Any], now: dict[str, Any]) -> None:
    if not recorded:
        return  # closed before digests were recorded (a case from an earlier dftk): its events still chain
    what = [name for name in ("findings", "problems") if recorded.get(name) != now[name]]
    if what:
        counts = ", ".join(f"{recorded.get(n)} {n} recorded, {now[n]} now" for n in what)
        raise SignatureError(f"run {run_id}: {counts}: rows were inserted or deleted after the run")
    if recorded.get("records") != now["records"]:
        raise SignatureError(f"run {run_id}: its findings or problems were altered after the run")
    if recorded.get("rows") != now["rows"]:
        raise SignatureError(f"run {run_id}: its run, plugin, seal or evidence rows were altered after the run")


def close_abandoned(store: CaseStore, examiner: str) -> Iterator[int]:
    """Closes runs whose process died (still ``running``, no closing event): each gets a ``run.abandoned``
    event with the digest of what it wrote. Call only while holding the case lock (no run in progress)."""
    closed = _closing_events(list(custody.events(store)))
    for run_id in store.run_ids(status="running"):
        if run_id in closed:
            continue
        store.end_run(run_id, "abandoned")
        custody.append(store, "run.abandoned", examiner, None, run=run_id, written=run_digest(store, run_id))
        yield run_id
