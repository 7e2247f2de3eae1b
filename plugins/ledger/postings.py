"""A recognised table's rows as postings: a signed amount (money in positive, out negative), a day, perhaps a
time, and who the other side was.

Debit and credit are ambiguous: a bank statement's 借方 is money out of the account, a company's books put
a deposit on the debit side. When the table has a balance column, the reading under which the balances add
up wins (in either row order: statements are printed oldest or newest first); without one, the bank
statement's reading is taken and the ledger's ``direction`` says so. Total lines (合计, 承前页, closing
balance...) and rows without a date or a non-zero amount are not postings; they are counted as skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, time
from decimal import Decimal

from dftk_plugins.ledger.headers import scale
from dftk_plugins.ledger.recognise import Layout
from dftk_plugins.ledger.tables import Table
from dftk_plugins.ledger.values import Cell, amount, clock, party, text, when

_TOTALS = frozenset({"合计", "小计", "总计", "本月合计", "本期合计", "本年累计", "本月累计", "承前页", "过次页",
                     "期初余额", "期末余额", "上年结转", "结转下年", "上期结转", "total", "subtotal", "grandtotal",
                     "openingbalance", "closingbalance", "broughtforward", "carriedforward",
                     "balancebroughtforward", "balancecarriedforward"})
_IN = frozenset({"收", "入", "存", "收入", "存入", "转入", "进", "进账", "in", "+", "deposit"})
_OUT = frozenset({"支", "出", "取", "支出", "支取", "转出", "付", "out", "-", "withdrawal"})
_DEBIT = frozenset({"借", "借方", "d", "dr", "debit"})
_CREDIT = frozenset({"贷", "贷方", "c", "cr", "credit"})
BANK = "bank statement reading: 借方/debit is money out"
BOOKS = "books reading: 借方/debit is money in"


@dataclass(frozen=True, slots=True)
class Posting:
    """One transaction row. ``amount`` is signed when the ledger is directed (in positive, out negative)."""

    row: int
    amount: Decimal
    day: date
    at: time | None
    account: str
    counterparty: str
    counterparty_account: str
    memo: str
    voucher: str
    invoice: str

    @property
    def party(self) -> str:
        """Who the other side is: the account number when known, else the name."""
        return self.counterparty_account or self.counterparty


@dataclass(frozen=True, slots=True)
class Ledger:
    """A transaction table: its postings and how they were read."""

    table: Table
    layout: Layout
    postings: list[Posting]
    skipped: int
    direction: str
    directed: bool

    @property
    def has_times(self) -> bool:
        """Whether the ledger records times of day (a midnight alone is taken as a date without a time)."""
        return any(p.at is not None and p.at != time(0) for p in self.postings)


@dataclass(frozen=True, slots=True)
class _Raw:
    number: int
    plain: Decimal  # signed by the record itself (an amount column, in/out columns, 收/支)
    debit: Decimal  # debit-side and credit-side parts, signed only once a reading is chosen
    credit: Decimal
    balance: Decimal | None
    day: date
    at: time | None
    cells: list[Cell]


def ledger(table: Table, layout: Layout) -> Ledger:
    """The table's postings under its layout."""
    raws, skipped = [], 0
    for number, cells in table.rows[layout.first:]:
        raw = _raw(number, cells, layout)
        if raw is None:
            skipped += 1
        else:
            raws.append(raw)
    reading = _reading(raws, layout)
    postings = [_posting(r, layout, reading) for r in raws]
    kept = [p for p in postings if p.amount != 0]
    roles = layout.roles
    sided = any(r in roles for r in ("debit", "credit", "direction"))
    directed = any(r in roles for r in ("in", "out")) or sided or any(p.amount < 0 for p in kept)
    how = reading if sided else ("in/out columns" if "in" in roles or "out" in roles else
                                 "signed amounts" if directed else "unknown: amounts carry no sign")
    return Ledger(table, layout, kept, skipped + len(postings) - len(kept), how, directed)


def _cell(cells: list[Cell], layout: Layout, name: str) -> Cell:
    index = layout.roles.get(name)
    return cells[index] if index is not None and index < len(cells) else None


def _money(cells: list[Cell], layout: Layout, name: str) -> Decimal:
    value = amount(_cell(cells, layout, name), scale(layout.headers.get(name, "")))
    return value if value is not None else Decimal(0)


def _raw(number: int, cells: list[Cell], layout: Layout) -> _Raw | None:
    if any(re.sub(r"[\s:：·_\-]", "", text(c)).lower() in _TOTALS for c in cells):
        return None
    moment = when(_cell(cells, layout, "date")) or when(_cell(cells, layout, "datetime"))
    if moment is None:
        return None
    day, at = moment
    if "datetime" in layout.roles:
        extra = _cell(cells, layout, "datetime")
        at = (when(extra) or (None, None))[1] or clock(extra) or at
    plain = _money(cells, layout, "amount") + _money(cells, layout, "in") - abs(_money(cells, layout, "out"))
    debit, credit = _money(cells, layout, "debit"), _money(cells, layout, "credit")
    side = text(_cell(cells, layout, "direction")).lower()
    if side in _IN or side in _OUT:
        plain = abs(plain) if side in _IN else -abs(plain)
    elif side in _DEBIT or side in _CREDIT:
        debit, credit, plain = (abs(plain), Decimal(0), Decimal(0)) if side in _DEBIT else (
            Decimal(0), abs(plain), Decimal(0))
    if plain == 0 and debit == 0 and credit == 0 and not any(
            amount(_cell(cells, layout, r)) is not None for r in ("amount", "in", "out", "debit", "credit")):
        return None
    balance = amount(_cell(cells, layout, "balance"), scale(layout.headers.get("balance", "")))
    return _Raw(number, plain, debit, credit, balance, day, at, cells)


def _signed(raw: _Raw, reading: str) -> Decimal:
    sided = raw.credit - raw.debit if reading == BANK else raw.debit - raw.credit
    return raw.plain + sided


def _reading(raws: list[_Raw], layout: Layout) -> str:
    """BANK or BOOKS: the one under which more balances add up, in either row order (BANK on a tie)."""
    if "balance" not in layout.roles:
        return BANK
    scores = {}
    for reading in (BANK, BOOKS):
        steps = [(a, b) for a, b in zip(raws, raws[1:], strict=False)
                 if a.balance is not None and b.balance is not None]
        forward = sum(b.balance - a.balance == _signed(b, reading) for a, b in steps)  # type: ignore[operator]
        backward = sum(a.balance - b.balance == _signed(a, reading) for a, b in steps)  # type: ignore[operator]
        scores[reading] = max(forward, backward)
    return BOOKS if scores[BOOKS] > scores[BANK] else BANK


def _posting(raw: _Raw, layout: Layout, reading: str) -> Posting:
    def get(name: str) -> str:
        return text(_cell(raw.cells, layout, name))

    return Posting(raw.number, _signed(raw, reading), raw.day, raw.at, party(get("account")), get("counterparty"),
                   party(get("counterparty_account")), get("memo"), get("voucher"), get("invoice"))
