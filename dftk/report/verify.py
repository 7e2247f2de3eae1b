"""What ``dftk verify`` checks, in order; the first check that fails raises SignatureError (exit 3)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dftk.case import custody
from dftk.case.seal import compare, seal
from dftk.errors import DftkError, SignatureError
from dftk.evidence.opening import open_evidence
from dftk.report import signing


def verify_report(target: Path, key: Path | None, rehash: bool) -> Iterator[str]:
    """Yields one line per check that holds."""
    folder = target if target.is_dir() else target.parent
    envelope = folder / "report.dsse.json" if target.is_dir() else target
    if not envelope.is_file():
        raise SignatureError(f"{envelope}: no signed envelope here (was the report made with --sign?)")
    public_file = key or folder / "report.pub"
    public = signing.load_public(public_file)
    payload = signing.open_envelope(envelope.read_bytes(), public)
    pinned = "pinned with --key" if key else "report.pub beside the report: proves integrity, not who signed"
    yield f"ok  signature: Ed25519, key id {signing.key_id(public)} ({pinned})"
    copy = folder / "report.json"
    if copy.is_file():
        if copy.read_bytes() != payload:
            raise SignatureError(f"{copy}: differs from the signed payload (the report was altered)")
        yield "ok  report.json: byte-identical to the signed payload"
    try:
        report = json.loads(payload)
    except ValueError as e:
        raise SignatureError("the signed payload is not a dftk report") from e
    yield from _custody(report)
    for item in report.get("evidence", []):
        if rehash:
            yield from _evidence(item)
        else:
            yield f"--  evidence {item['path']}: not re-hashed (--no-evidence)"
    yield f"verified: {envelope}"


def _custody(report: dict[str, Any]) -> Iterator[str]:
    chain = report.get("custody", {})
    check = custody.verify_events(chain.get("events", []))
    if check.head != chain.get("head"):
        raise SignatureError("custody log: the recorded head does not match the events")
    yield f"ok  custody log: {check.events} events chained, head {check.head}"


def _evidence(item: dict[str, Any]) -> Iterator[str]:
    """The evidence re-sealed against the report's last seal of it: each changed file named; a file only
    touched (times changed, content identical) is a note, not a failure."""
    seals = [s for s in item.get("seals", []) if s["phase"] == "after"]
    if not seals:
        yield f"--  evidence {item['path']}: the report records no completed run; nothing to compare"
        return
    if not Path(item["path"]).exists():
        yield f"--  evidence {item['path']}: not at hand; not re-hashed"
        return
    try:
        with open_evidence(item["path"], "auto") as ev:
            now = seal(ev)
    except DftkError as e:
        raise SignatureError(f"evidence {item['path']}: cannot be re-hashed: {e}") from e
    detail = seals[-1]["detail"]
    listed = detail.get("sources", [])
    changes = compare(listed, now, None if len(listed) == detail.get("files") else detail.get("files"))
    if changes.content or (now.sha256 != seals[-1]["sha256"] and len(listed) < detail.get("files", 0)):
        raise SignatureError(f"evidence {item['path']}: changed since the report: "
                             f"{changes.said() or 'a file the report does not list'}")
    for note in changes.times:
        yield f"--  evidence {item['path']}: {note}"
    yield f"ok  evidence {item['path']}: re-hashed, content as recorded (seal sha256 {now.sha256})"
