"""What ``dftk verify`` checks, in order; the first check that fails raises SignatureError (exit 3)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dftk.case import custody
from dftk.case.seal import seal
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
        yield _evidence(item) if rehash else f"--  evidence {item['path']}: not re-hashed (--no-evidence)"
    yield f"verified: {envelope}"


def _custody(report: dict[str, Any]) -> Iterator[str]:
    chain = report.get("custody", {})
    check = custody.verify_events(chain.get("events", []))
    if check.head != chain.get("head"):
        raise SignatureError("custody log: the recorded head does not match the events")
    yield f"ok  custody log: {check.events} events chained, head {check.head}"


def _evidence(item: dict[str, Any]) -> str:
    seals = [s for s in item.get("seals", []) if s["phase"] == "after"]
    if not seals:
        return f"--  evidence {item['path']}: the report records no completed run; nothing to compare"
    recorded = seals[-1]["sha256"]
    if not Path(item["path"]).exists():
        return f"--  evidence {item['path']}: not at hand; not re-hashed"
    try:
        with open_evidence(item["path"], "auto") as ev:
            now = seal(ev).sha256
    except DftkError as e:
        raise SignatureError(f"evidence {item['path']}: cannot be re-hashed: {e}") from e
    if now != recorded:
        raise SignatureError(f"evidence {item['path']}: its seal is now sha256 {now}, the report recorded {recorded}")
    return f"ok  evidence {item['path']}: re-hashed, seal sha256 {now} as recorded"
