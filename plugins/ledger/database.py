"""Ledgers in SQLite databases: every table whose column names (or, failing those, whose first rows) look
like a transaction table.

The database is copied into memory (``sqlite3`` ``deserialize``): the evidence is never opened as a file,
and SQLite never writes a journal beside it. A database in WAL mode is read as of its last checkpoint: the
``-wal`` file is another file of the evidence and is not merged.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator

from dftk.api import Buffer
from dftk_plugins.ledger.tables import MAX_ROWS, Table
from dftk_plugins.ledger.values import Cell

_WAL_VERSIONS = slice(18, 20)
_PEEK = 200


def read_database(data: Buffer, wanted: Callable[[Table], bool]) -> Iterator[Table | str]:
    """Each table that ``wanted`` accepts from its columns and first rows, read whole; or a problem."""
    image = bytearray(data)
    if image[_WAL_VERSIONS] == b"\x02\x02":
        image[_WAL_VERSIONS] = b"\x01\x01"  # our copy in legacy mode: readable without its -wal file
    db = sqlite3.connect(":memory:")
    db.text_factory = lambda raw: raw.decode("utf-8", "replace")
    try:
        db.deserialize(bytes(image))
        db.execute("PRAGMA query_only = ON")
        names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND "
                                          "name NOT LIKE 'sqlite_%' ORDER BY name")]
    except sqlite3.DatabaseError as e:
        db.close()
        yield f"sqlite: not readable ({e})"
        return
    try:
        for name in names:
            try:
                peek = _table(db, name, _PEEK)
                if wanted(peek):
                    yield _table(db, name, MAX_ROWS) if len(peek.rows) == _PEEK else peek
            except sqlite3.DatabaseError as e:
                yield f"sqlite: table {name!r}: {e}"
    finally:
        db.close()


def _table(db: sqlite3.Connection, name: str, limit: int) -> Table:
    quoted = '"' + name.replace('"', '""') + '"'
    columns = [str(r[1]) for r in db.execute(f"PRAGMA table_info({quoted})")]
    try:
        cursor = db.execute(f"SELECT _rowid_, * FROM {quoted} ORDER BY _rowid_ LIMIT ?", (limit + 1,))
        cited = "rowid"
    except sqlite3.OperationalError:  # a WITHOUT ROWID table: rows are counted in key order
        cursor = db.execute(f"SELECT NULL, * FROM {quoted} LIMIT ?", (limit + 1,))
        cited = "ordinal"
    rows: list[tuple[int, list[Cell]]] = []
    for ordinal, (rowid, *cells) in enumerate(cursor, start=1):
        if len(rows) >= limit:
            return Table(name, "sqlite", rows, cited, columns=columns, truncated=limit == MAX_ROWS)
        rows.append((rowid if cited == "rowid" else ordinal, [None if isinstance(c, bytes) else c for c in cells]))
    return Table(name, "sqlite", rows, cited, columns=columns)
