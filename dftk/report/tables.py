"""CSV per finding kind (``csv/<kind>.csv``), for spreadsheets; nested values are JSON in their cell."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from dftk.case import CaseStore
from dftk.report import model


def _cell(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)


def write(store: CaseStore, folder: Path) -> list[Path]:
    """One file per kind; columns are the union of the kind's data keys. Streams kind by kind."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    kinds = [str(k) for (k,) in store.db.execute("SELECT DISTINCT kind FROM findings ORDER BY kind")]
    for kind in kinds:
        columns = sorted({key for (data,) in store.db.execute("SELECT data FROM findings WHERE kind = ?", (kind,))
                          for key in json.loads(data)})
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
