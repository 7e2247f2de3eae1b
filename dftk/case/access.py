"""Custody for the commands that read evidence outside a run: ``fs extract``, ``fs unalloc``, ``timeline``,
``hash``, ``meta``, ``carve``, ``scan``. With ``--case DIR`` each records an ``evidence.access`` event (the
command line and tool version as every event has them, the evidence and its seal), and an export records
an ``export.create`` event holding the digest of the export's manifest, so the manifest can be checked
against the case later.

The evidence's seal at access: the case's last seal of it when every source file still has the size and
modification time that seal recorded (nothing was written to it since, as far as the file system tells),
else a full seal, compared with the last one, a content change refused as a run refuses it. The seal is
recorded in the event itself (chained), not as a seal row of a run.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from dftk.case import custody, integrity
from dftk.case.seal import compare, seal
from dftk.case.store import CaseStore
from dftk.errors import EvidenceError
from dftk.evidence import Evidence


def record_access(case_dir: str | Path, evidence: Evidence, examiner: str | None = None,
                  **details: Any) -> dict[str, Any]:
    """Appends ``evidence.access`` for a command that read ``evidence``; returns the event.

    Raises:
        SignatureError: the case's history does not verify (nothing is appended to it).
        EvidenceError: the evidence's content changed since the case last sealed it.
    """
    who = custody.examiner_name(examiner)
    with CaseStore.open(case_dir) as store, store.lock():
        list(integrity.close_abandoned(store, who))
        integrity.check(store)
        evidence_id = store.add_evidence(evidence.describe())
        sealed, how = _seal_now(store, evidence_id, evidence, who)
        return custody.append(store, "evidence.access", who, sealed, evidence=evidence.path, seal=how, **details)


def record_export(case_dir: str | Path, evidence: Evidence, folder: Path, manifest: Path,
                  examiner: str | None = None, **details: Any) -> dict[str, Any]:
    """Appends ``export.create`` for files written from ``evidence`` into ``folder``, with the SHA-256 of the
    export's manifest (which lists every file with its own hash)."""
    who = custody.examiner_name(examiner)
    digest = hashlib.sha256(manifest.read_bytes()).hexdigest()
    with CaseStore.open(case_dir) as store, store.lock():
        integrity.check(store)
        return custody.append(store, "export.create", who, None, evidence=evidence.path, folder=str(folder.resolve()),
                              manifest=manifest.name, manifest_sha256=digest, **details)


def _seal_now(store: CaseStore, evidence_id: int, evidence: Evidence, examiner: str) -> tuple[str, str]:
    last = store.last_seal(evidence_id)
    if last is not None and _unchanged_on_disk(last[1], evidence, last[2]):
        return last[0], "as last sealed (every source file's size and modification time unchanged)"
    now = seal(evidence)
    if last is not None:
        changes = compare(last[1], now, None if len(last[1]) == last[2] else last[2])
        if changes.content:
            custody.append(store, "evidence.changed", examiner, now.sha256, recorded=last[0],
                           changes=list(changes.content))
            raise EvidenceError(f"{evidence.path}: evidence changed since this case last sealed it: {changes.said()}")
    return now.sha256, f"sealed now (full read: {now.files} file(s), {now.bytes} bytes)"


def _unchanged_on_disk(sources: list[dict[str, Any]], evidence: Evidence, files: int) -> bool:
    if len(sources) != files:
        return False
    known = {s["path"]: (s["size"], s.get("mtime_ns")) for s in sources}
    found = 0
    for name, path in evidence.stored_files():
        try:
            st = os.stat(path)
        except OSError:
            return False
        if known.get(name) != (st.st_size, st.st_mtime_ns):
            return False
        found += 1
    return found == len(known)
