"""report.json: deterministic JSON (sorted keys, stable order, UTC times), written without holding every
finding in memory. Each finding and problem sits on a line of its own so the file diffs well."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import IO, Any

from dftk.case.store import CaseStore
from dftk.report import model


def _dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _array(out: IO[str], items: Iterable[Any]) -> None:
    out.write("[")
    first = True
    for item in items:
        out.write("\n" if first else ",\n")
        out.write(_dump(item))
        first = False
    out.write("\n]" if not first else "]")


def write(store: CaseStore, out: IO[str], deterministic: bool, signer: dict[str, Any] | None = None) -> dict[str, Any]:
    """Writes the report and returns its header (what the other renderers start from)."""
    head = model.header(store, deterministic, signer)
    body: dict[str, Any] = {**head, "findings": None, "problems": None}
    out.write("{")
    for i, key in enumerate(sorted(body)):
        out.write(("\n" if i == 0 else ",\n") + _dump(key) + ":")
        if key == "findings":
            _array(out, model.findings(store))
        elif key == "problems":
            _array(out, model.problems(store))
        else:
            out.write(_dump(body[key]))
    out.write("\n}\n")
    return head
