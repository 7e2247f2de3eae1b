"""Ledgers in workbooks: XLSX, XLSB, XLS and ODS, read with calamine (python-calamine).

Every worksheet is read (macro and chart sheets are not tables); rows keep the sheet's own numbering, so a
finding's row 12 is the row an examiner sees as 12 in a spreadsheet program. Date cells arrive as dates.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import python_calamine

from dftk.api import Buffer
from dftk_plugins.ledger.tables import MAX_ROWS, Table
from dftk_plugins.ledger.values import Cell


def read_workbook(data: Buffer, fmt: str) -> Iterator[Table | str]:
    """Each worksheet as a table, or a problem's message (a workbook that cannot be read, a sheet that breaks)."""
    try:
        book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(bytes(data)))
    except python_calamine.PasswordError:
        yield f"{fmt}: the workbook is password-protected; not read"
        return
    except (python_calamine.CalamineError, ValueError, OSError) as e:
        yield f"{fmt}: not readable as a workbook ({type(e).__name__}: {e})"
        return
    try:
        for meta in book.sheets_metadata:
            if meta.typ != python_calamine.SheetTypeEnum.WorkSheet:
                continue
            try:
                yield _sheet(book, meta.name, fmt)
            except (python_calamine.CalamineError, ValueError, OSError) as e:
                yield f"{fmt}: sheet {meta.name!r}: {type(e).__name__}: {e}"
    finally:
        book.close()


def _sheet(book: python_calamine.CalamineWorkbook, name: str, fmt: str) -> Table:
    sheet = book.get_sheet_by_name(name)
    rows: list[tuple[int, list[Cell]]] = []
    # skip_empty_area=False keeps row 1 at index 0, so numbers are the sheet's own
    for index, cells in enumerate(sheet.iter_rows()):
        if len(rows) >= MAX_ROWS:
            return Table(name, fmt, rows, "row", truncated=True)
        if any(c not in ("", None) for c in cells):
            rows.append((index + 1, list(cells)))
    return Table(name, fmt, rows, "row")
