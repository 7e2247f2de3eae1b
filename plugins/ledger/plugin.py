"""The ledger plugin: finds ledgers in files (allocated, deleted, carved into a folder) and tests them.

File scope only. A file that is not a ledger costs a look at its first bytes and its extension; a ledger that
cannot be read is a Problem, never an exception. Every finding's subject is the file, its ``table`` the sheet
or database table, its ``rows`` the rows it cites in that table's own numbering (``ledger/table`` says what
they count: text lines, sheet rows or SQLite rowids).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import click

from dftk.api import Buffer, EvidenceFile, Finding, Plugin, Problem, Record
from dftk_plugins.ledger.config import Config, ledger_options
from dftk_plugins.ledger.examine import examine


class LedgerPlugin(Plugin):
    """Find ledgers (CSV/TSV, XLSX/XLS/ODS, SQLite) and test them: Benford, duplicates, thresholds, days, sequences."""

    name: ClassVar[str] = "ledger"
    discipline: ClassVar[str] = "accounting"
    version: ClassVar[str] = "1.0.0"
    options: ClassVar[tuple[click.Option, ...]] = ledger_options()

    def analyze(self, file: EvidenceFile, data: Buffer, **opts: Any) -> Iterator[Record]:
        cfg = Config.from_options(opts)
        for item in examine(file.path, data, cfg):
            if isinstance(item, str):
                yield Problem(file.path, item)
                continue
            table, (kind, found) = item
            extra = {"deleted": bool(file.deleted)} if kind == "ledger/table" else {}
            yield Finding(kind, file.path, {"table": table.name, **found, **extra})
