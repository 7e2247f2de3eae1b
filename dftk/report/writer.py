"""A report folder: report.json (the record that is signed), and the renderings asked for."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dftk.case.store import CaseStore
from dftk.fs import dfxml
from dftk.report import caseuco, conventions, html, jsonout, model, tables

FORMATS = ("json", "html", "case", "dfxml", "csv")
_DFXML_HASHES = ("md5", "sha1", "sha256")


def write_report(store: CaseStore, outdir: Path, formats: tuple[str, ...], deterministic: bool,
                 signer: dict[str, Any] | None = None) -> tuple[dict[str, Any], list[Path]]:
    """Writes report.json and the other formats into ``outdir``; returns the report's header (what the
    manifest binds) and the files written. ``signer`` (who will sign, their key) goes into every format."""
    target = outdir / "report.json"
    with target.open("w", encoding="utf-8", newline="\n") as out:
        head = jsonout.write(store, out, deterministic, signer)
    written = [target]
    if "html" in formats:
        written.append(outdir / "report.html")
        written[-1].write_text(html.render(store, head), encoding="utf-8")
    if "case" in formats:
        written.append(outdir / "report.case.jsonld")
        document = caseuco.graph(head, model.findings(store))
        written[-1].write_text(json.dumps(document, ensure_ascii=False, indent=1, sort_keys=True), encoding="utf-8")
    if "dfxml" in formats:
        written.append(outdir / "report.dfxml")
        written[-1].write_text(_dfxml(store), encoding="utf-8")
    if "csv" in formats:
        written += tables.write(store, outdir / "csv")
    return head, written


def _dfxml(store: CaseStore) -> str:
    """The files whose content hashes the findings give (a file path as subject), as DFXML file objects."""
    rows: list[dict[str, Any]] = []
    for finding in model.findings(store):
        data = finding["data"]
        if not (finding["subject"].startswith("/") and conventions.content_hashes(data)):
            continue
        rows.append({"volume_offset": finding["evidence_id"], "volume_index": finding["evidence_id"],
                     "fs_type": "evidence", "path": finding["subject"], "type": "file", "size": data.get("size"),
                     "deleted": bool(data.get("deleted")), "inode": data.get("inode"), "mtime": data.get("mtime"),
                     **{k: data[k] for k in _DFXML_HASHES if k in data}})
    return "".join(dfxml.render(rows, store.folder.resolve().name, 0, _DFXML_HASHES))
