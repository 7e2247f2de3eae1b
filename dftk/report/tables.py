"""CSV per finding kind (``csv/<kind>.csv``), for spreadsheets; nested values are JSON in their cell."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from dftk.case.store import CaseStore
from dftk.records import is_hint
from dftk.report import model


def _cell(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)


def write(store: CaseStore, folder: Path) -> list[Path]:
    """One file per kind; columns are the union of the kind's data keys. Streams kind by kind."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for kind in store.kinds():
        columns = [c for c in store.kind_columns(kind) if not is_hint(c)]
        path = folder / (kind.replace("/", "_") + ".csv")
        with path.open("w", encoding="utf-8-sig", newline="") as out:  # the BOM lets Excel read Chinese text
            writer = csv.writer(out)
            writer.writerow(["evidence_id", "plugin", "subject", *columns])
            for finding in model.findings(store, kind):
                data = finding["data"]
                writer.writerow([finding["evidence_id"], finding["plugin"], finding["subject"],
                                 *(_cell(data.get(c, "")) for c in columns)])
        written.append(path)
    return written
