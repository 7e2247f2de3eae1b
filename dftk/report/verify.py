"""What ``dftk verify`` checks on a report folder, in order; the first check that fails raises
SignatureError (exit 3).

1. The signature on the manifest, by a key the verifier trusts: pinned with ``--key``, or in a trusted-keys
   folder (``--trusted DIR`` or ``$DFTK_TRUSTED_KEYS``). ``report.pub`` beside the report proves only that
   nothing changed since someone signed (``--integrity-only``, said so in one line). With ``--ca`` the
   signer's X.509 certificate must chain to that CA.
2. Every file the manifest lists, by size, SHA-256 and SM3; none missing, none added.
3. The custody log inside report.json: chained, ending at the head the manifest binds.
4. With ``--case DIR``: the case still holds that history (its custody log begins with the report's
   events, hash for hash) and every run in it still verifies.
5. The evidence, when at hand, re-sealed and compared with the report's last seal of it.

Reports signed before manifests existed (the envelope signs report.json itself) still verify.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from dftk.case import custody, integrity
from dftk.case.seal import compare, seal
from dftk.case.store import CaseStore
from dftk.errors import DftkError, SignatureError
from dftk.evidence import open_evidence
from dftk.report import manifest, signing

TRUSTED_KEYS_ENV = "DFTK_TRUSTED_KEYS"


@dataclass(frozen=True, slots=True)
class Trust:
    """Whom the verifier trusts to have signed."""

    keys: tuple[Path, ...] = ()  # pinned public keys (--key)
    trusted: Path | None = None  # a folder of trusted .pub files
    integrity_only: bool = False  # accept report.pub beside the report: integrity without identity
    ca: Path | None = None  # the signer's certificate must chain to this CA bundle


def verify_report(target: Path, trust: Trust, rehash: bool, case: Path | None = None) -> Iterator[str]:
    """Yields one line per check that holds."""
    folder = target if target.is_dir() else target.parent
    envelope = folder / manifest.ENVELOPE if target.is_dir() else target
    if not envelope.is_file():
        raise SignatureError(f"{envelope}: no signed envelope here (was the report made with --sign?)")
    raw = envelope.read_bytes()
    payload_type = _payload_type(raw)
    payload, signer = signing.open_envelope(raw, _keys(folder, trust), payload_type)
    yield from _signer_lines(signer, trust)
    if payload_type == manifest.MANIFEST_TYPE:
        listed = manifest.load(payload)
        yield from _bound(signer, listed, trust)
        yield from manifest.check(folder, listed)
        report = _report(folder / "report.json")
        if report["custody"]["head"] != listed["custody"]["head"]:
            raise SignatureError("report.json: its custody head is not the one the signed manifest binds")
    else:  # an envelope over report.json itself (reports made before manifests)
        report = _report(folder / "report.json")
        if (folder / "report.json").read_bytes() != payload:
            raise SignatureError(f"{folder / 'report.json'}: differs from the signed payload (the report was altered)")
        yield "ok  report.json: byte-identical to the signed payload"
    yield from _custody(report)
    if case is not None:
        yield from _case(case, report)
    for item in report.get("evidence", []):
        if rehash:
            yield from _evidence(item)
        else:
            yield f"--  evidence {item['path']}: not re-hashed (--no-evidence)"
    yield f"verified: {envelope}"


def _payload_type(raw: bytes) -> str:
    try:
        found = json.loads(raw)["payloadType"]
    except (ValueError, KeyError, TypeError) as e:
        raise SignatureError(f"the envelope is not a valid DSSE envelope ({type(e).__name__}: {e})") from e
    return found if found in (manifest.MANIFEST_TYPE, signing.PAYLOAD_TYPE) else manifest.MANIFEST_TYPE


def _keys(folder: Path, trust: Trust) -> list[signing.PublicKey]:
    pinned = [signing.load_public(path) for path in trust.keys]
    trusted = trust.trusted or (Path(os.environ[TRUSTED_KEYS_ENV]) if os.environ.get(TRUSTED_KEYS_ENV) else None)
    if trusted is not None:
        pinned += [signing.load_public(path) for path in sorted(trusted.glob("*.pub"))]
    if pinned:
        return pinned
    if not trust.integrity_only:
        raise SignatureError("no trusted key to check the signer against: pin the signer's public key with --key "
                             f"(or --trusted DIR / ${TRUSTED_KEYS_ENV}); --integrity-only checks integrity alone")
    beside = folder / manifest.PUBLIC_KEY
    if not beside.is_file():
        raise SignatureError(f"{beside}: no public key beside the report to check its integrity with")
    return [signing.load_public(beside)]


def _signer_lines(signer: signing.PublicKey, trust: Trust) -> Iterator[str]:
    who = _who(signer.identity)
    algorithm = {"ed25519": "Ed25519", "sm2": "SM2"}.get(signer.algorithm, signer.algorithm)
    if trust.keys or trust.trusted or os.environ.get(TRUSTED_KEYS_ENV):
        yield f"ok  signature: {algorithm}, key id {signer.key_id}, a key you trust; signer {who}"
    else:
        yield (f"--  signature: {algorithm}, key id {signer.key_id}: the key beside the report, so the signer "
               f"({who}) is NOT authenticated: this proves integrity, not who signed")


def _who(identity: signing.Identity | None) -> str:
    if identity is None:
        return "not named by the key"
    return ", ".join(part for part in (identity.name, identity.organisation) if part) or "not named by the key"


def _bound(signer: signing.PublicKey, listed: dict[str, Any], trust: Trust) -> Iterator[str]:
    """The manifest's signer is the key that signed; with --ca, that key's certificate chains to the CA."""
    stated = listed.get("signature") or {}
    if stated.get("key_id") not in (None, signer.key_id):
        raise SignatureError("the signed manifest names another signing key than the one that signed it")
    if trust.ca is not None:
        at = datetime.fromisoformat(stated.get("signed_at") or listed["generated"])
        identity = signing.verify_certificate(signer, trust.ca, at)
        yield f"ok  certificate: {_who(identity)}, issued under {trust.ca}, valid at {at.isoformat()}"


def _report(path: Path) -> dict[str, Any]:
    try:
        report: dict[str, Any] = json.loads(path.read_bytes())
    except (OSError, ValueError) as e:
        raise SignatureError(f"{path}: not a readable dftk report ({e})") from e
    return report


def _custody(report: dict[str, Any]) -> Iterator[str]:
    chain = report.get("custody", {})
    check = custody.verify_events(chain.get("events", []))
    if check.head != chain.get("head"):
        raise SignatureError("custody log: the recorded head does not match the events")
    yield f"ok  custody log: {check.events} events chained, head {check.head}"


def _case(folder: Path, report: dict[str, Any]) -> Iterator[str]:
    """The case still holds the history the report was made from, and verifies as a whole."""
    with CaseStore.open(folder, create=False) as store:
        now = integrity.check(store)
        held = list(custody.events(store))
    theirs = report["custody"]["events"]
    for mine, event in zip(held, theirs, strict=False):
        if mine["hash"] != event["hash"]:
            raise SignatureError(f"{folder}: the case no longer holds the history this report was made from "
                                 f"(custody event {event['seq']} differs)")
    if len(held) < len(theirs):
        raise SignatureError(f"{folder}: the case holds {len(held)} custody events, the report {len(theirs)}")
    yield (f"ok  case {folder}: holds the report's {len(theirs)} events (and {len(held) - len(theirs)} since); "
           f"{now.runs} run(s) verify")


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
