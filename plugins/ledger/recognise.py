"""Which tables are ledgers, and what their columns mean: by the header row, or failing one, by content.

A header row is one of a table's first rows that names a date column and a money column (``headers.py``).
Each column a header names is then checked against its content: a ``金额`` column whose cells are mostly
not amounts is dropped. A table with no such header is recognised by content when one column holds dates
and another amounts (with cents, signs or separators: not counters or codes) in nine of ten rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dftk_plugins.ledger.headers import DATES, MONEY, is_ledger_header, roles
from dftk_plugins.ledger.tables import Table
from dftk_plugins.ledger.values import Cell, amount, clock, text, when

_HEADER_ROWS = 30
_SAMPLE = 500
_VALID = 0.6  # a named column must hold its kind of value in this share of its non-empty cells
_CONTENT = 0.9  # an unnamed one in this share of rows


@dataclass(frozen=True, slots=True)
class Layout:
    """Where a table's header is and which column plays which role.

    Attributes:
        roles: role -> column index.
        headers: role -> the column's header as written (``column 3`` when recognised by content).
        header_row: the header's row number (None for database columns or no header).
        first: index into ``table.rows`` of the first data row.
        by: ``headers`` or ``content``.
    """

    roles: dict[str, int]
    headers: dict[str, str]
    header_row: int | None
    first: int
    by: str


def layout(table: Table) -> Layout | None:
    """The table's layout when it is a transaction table, else None."""
    if table.columns is not None:
        found = _checked(roles(table.columns), table.rows)
        if is_ledger_header(found):
            return Layout(found, {r: table.columns[i] for r, i in found.items()}, None, 0, "headers")
        return _by_content(table, 0)
    for index, (number, cells) in enumerate(table.rows[:_HEADER_ROWS]):
        named = roles([text(c) for c in cells])
        if not is_ledger_header(named):
            continue
        found = _checked(named, table.rows[index + 1:])
        if is_ledger_header(found):
            return Layout(found, {r: str(cells[i]).strip() for r, i in found.items()}, number, index + 1, "headers")
    return _by_content(table, 0)


def _checked(named: dict[str, int], rows: list[tuple[int, list[Cell]]]) -> dict[str, int]:
    """The roles whose columns hold what their headers promise."""
    sample = [cells for _, cells in rows[:_SAMPLE]]
    kept = {}
    for name, column in named.items():
        values = [cells[column] for cells in sample if column < len(cells) and text(cells[column])]
        if not values or name not in (*MONEY, *DATES, "balance"):
            kept[name] = column
        elif sum(_fits(name, v) for v in values) >= _VALID * len(values):
            kept[name] = column
    return kept


def _fits(name: str, value: Cell) -> bool:
    if name == "date":
        return when(value) is not None
    if name == "datetime":
        return when(value) is not None or clock(value) is not None
    return amount(value) is not None


def _by_content(table: Table, start: int) -> Layout | None:
    """A table without a usable header: a date column and an amount column found by their content."""
    sample = [cells for _, cells in table.rows[start:start + _SAMPLE]]
    if len(sample) < 2:
        return None
    width = max(len(cells) for cells in sample)
    columns = [[cells[i] if i < len(cells) else None for cells in sample] for i in range(width)]
    dates = [i for i, col in enumerate(columns) if _share(col[1:], lambda v: when(v) is not None) >= _CONTENT]
    money = [i for i, col in enumerate(columns) if i not in dates and _money_like(col[1:])]
    if not dates or not money:
        return None
    # an unrecognised header line above the data (a database's column names are not in its rows)
    header = table.columns is None and when(columns[dates[0]][0]) is None
    found = {"date": dates[0], "amount": money[0]}
    first_row = start + (1 if header else 0)
    return Layout(found, {r: f"column {i + 1}" for r, i in found.items()},
                  table.rows[start][0] if header else None, first_row, "content")


def _share(values: list[Cell], test: Callable[[Cell], bool]) -> float:
    present = [v for v in values if text(v)]
    return sum(1 for v in present if test(v)) / len(present) if present else 0.0


def _money_like(values: list[Cell]) -> bool:
    """Amounts, not counters or codes: most cells parse, and some carry cents, a sign or separators."""
    parsed = [amount(v) for v in values if text(v)]
    if not parsed or sum(p is not None for p in parsed) < _CONTENT * len(parsed):
        return False
    numbers = [p for p in parsed if p is not None]
    return any(p != p.to_integral_value() or p < 0 for p in numbers) or any(
        isinstance(v, str) and "," in v for v in values)
