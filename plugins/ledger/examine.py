"""One file examined: sniffed, read as tables, each ledger among them described and tested.

This is the ledger plugin's ``analyze`` without the plugin around it: it yields ``(kind, data)`` for
findings and plain strings for problems, so the plugin turns them into records with the file as subject.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from dftk.api import TIMES, Buffer
from dftk_plugins.ledger import benford
from dftk_plugins.ledger.cite import Found, cite
from dftk_plugins.ledger.config import Config
from dftk_plugins.ledger.database import read_database
from dftk_plugins.ledger.duplicates import duplicates
from dftk_plugins.ledger.parties import counterparties, unattributed
from dftk_plugins.ledger.postings import Ledger, ledger
from dftk_plugins.ledger.recognise import layout
from dftk_plugins.ledger.sequences import sequences
from dftk_plugins.ledger.sheets import read_workbook
from dftk_plugins.ledger.sniff import sniff
from dftk_plugins.ledger.tables import MAX_ROWS, Table
from dftk_plugins.ledger.text import read_text
from dftk_plugins.ledger.thresholds import below, round_amounts, splits
from dftk_plugins.ledger.timing import nights, off_days
from dftk_plugins.ledger.values import money

TESTS = (duplicates, round_amounts, below, splits, off_days, nights, sequences, counterparties)


def examine(path: str, data: Buffer, cfg: Config) -> Iterator[tuple[Table, Found] | str]:
    """Each ledger's findings with the table they belong to, and problems, for one file."""
    kind = sniff(path, data)
    if kind is None:
        return
    for item in _tables(kind, data):
        if isinstance(item, str):
            yield item
            continue
        if item.truncated:
            yield f"{item.fmt} table {item.name!r}: more than {MAX_ROWS} rows; only the first were read"
        found = layout(item)
        if found is None:
            continue
        book = ledger(item, found)
        if len(book.postings) >= cfg.min_rows:
            yield from ((item, f) for f in tested(book, cfg))


def _tables(kind: str, data: Buffer) -> Iterator[Table | str]:
    if kind == "encrypted":
        yield "workbook: encrypted (an OOXML EncryptedPackage); not read"
    elif kind == "text":
        yield from read_text(bytes(data))
    elif kind == "sqlite":
        yield from read_database(data, lambda table: layout(table) is not None)
    else:
        yield from read_workbook(data, kind)


def tested(book: Ledger, cfg: Config) -> Iterator[Found]:
    """The ledger's summary, then every test's findings, in a fixed order."""
    amounts = [p.amount for p in book.postings if abs(p.amount) >= 10]
    reason = benford.qualify(amounts, cfg)
    yield "ledger/table", summary(book, "tested" if reason is None else reason)
    if reason is None:
        for digits in (1, 2):
            yield "ledger/benford", _benford(book, amounts, digits, cfg)
    for test in TESTS:
        yield from test(book, cfg)


def _benford(book: Ledger, amounts: list[Decimal], digits: int, cfg: Config) -> dict[str, Any]:
    result = benford.statistics(amounts, digits)
    data = benford.describe(result)
    data["chi_square_exceeds"] = result.chi_square > data["chi_square_critical"]
    data["ks_exceeds"] = result.ks > data["ks_critical"]
    strongest = {item["digits"] for item in data["excess"][:3]}
    rows = [p.row for p in book.postings if abs(p.amount) >= 10 and benford.leading(p.amount, digits) in strongest]
    return {**data, **cite(rows, cfg)}


def summary(book: Ledger, tested_by_benford: str) -> dict[str, Any]:
    """The ``ledger/table`` finding: what the table is, how it was read, what it holds."""
    table, postings = book.table, book.postings
    data: dict[str, Any] = {
        "format": table.fmt, "encoding": table.encoding, "cited_as": table.cited_as,
        "header_row": book.layout.header_row, "recognised_by": book.layout.by,
        "columns": dict(sorted(book.layout.headers.items())), "transactions": len(postings),
        "skipped": book.skipped, "direction": book.direction, "times_of_day": book.has_times,
        "accounts": sorted({p.account for p in postings if p.account})[:20],
        "first_date": min(p.day for p in postings).isoformat(), "last_date": max(p.day for p in postings).isoformat(),
        "unattributed": unattributed(book), "benford": tested_by_benford, "truncated": table.truncated,
        "value": table.fmt, TIMES: {"first_date": "first posting in the ledger", "last_date": "last posting"}}
    if book.directed:
        data["in_total"] = money(sum((p.amount for p in postings if p.amount > 0), Decimal(0)))
        data["out_total"] = money(sum((-p.amount for p in postings if p.amount < 0), Decimal(0)))
    else:
        data["total"] = money(sum((abs(p.amount) for p in postings), Decimal(0)))
    return data
