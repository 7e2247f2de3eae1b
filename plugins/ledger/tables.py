"""A table as a reader hands it over: named, in its source's row numbering, cells as read."""

from __future__ import annotations

from dataclasses import dataclass, field

from dftk_plugins.ledger.values import Cell

# The most rows read from one table: beyond it the table is read in part and a Problem says so.
MAX_ROWS = 2_000_000


@dataclass(frozen=True, slots=True)
class Table:
    """One table of a file: a sheet, a SQLite table, or the whole of a text file.

    Attributes:
        name: the sheet's or table's name; empty for a text file.
        fmt: ``csv``, ``tsv``, ``xlsx``, ``xlsb``, ``xls``, ``ods`` or ``sqlite``.
        rows: ``(number, cells)`` in source order; ``number`` is what an examiner finds the row by.
        cited_as: what the row numbers count: ``line`` (of a text file, the record's first line),
            ``row`` (of a sheet, 1-based), ``rowid`` (SQLite's), ``ordinal`` (a table without rowid).
        encoding: a text file's character encoding, as detected.
        columns: the column names of a database table (its rows then hold no header row).
        truncated: the table held more than ``MAX_ROWS`` rows.
    """

    name: str
    fmt: str
    rows: list[tuple[int, list[Cell]]]
    cited_as: str
    encoding: str | None = None
    columns: list[str] | None = field(default=None)
    truncated: bool = False
