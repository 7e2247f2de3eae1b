"""Gaps and repeats in voucher (凭证号) and invoice (发票号) number sequences.

A number is split into a prefix and its trailing digits (``记-0042`` is ``记-`` and 42); each prefix is its own
sequence. Vouchers are often numbered afresh each month (记字第1号 every month): when, in at least half
the months after the first, numbering starts at 1 again and most numbers lie below the highest number seen
before, each month is its own voucher sequence (invoice numbers never start again). A run of numbers is a
sequence only when it is dense (at least half the numbers between its ends are used): random identifiers
have no gaps to speak of. A voucher spans several lines of a journal, so a number repeats only when it
comes back on another day, or when the column is otherwise unique (nine in ten values distinct).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from dftk_plugins.ledger.cite import Found, cite
from dftk_plugins.ledger.config import Config
from dftk_plugins.ledger.postings import Ledger, Posting

_NUMBERED = re.compile(r"(.*?)(\d+)")
_DENSE = 0.5
_UNIQUE = 0.9
_SHORTEST = 3


@dataclass(frozen=True, slots=True)
class _Number:
    posting: Posting
    prefix: str
    number: int
    width: int

    def shown(self, number: int | None = None) -> str:
        value = self.number if number is None else number
        return f"{self.prefix}{value:0{self.width}d}"


def sequences(ledger: Ledger, cfg: Config) -> Iterator[Found]:
    """``ledger/sequence-gap`` and ``ledger/sequence-repeat`` for the voucher and invoice columns."""
    for column in ("voucher", "invoice"):
        if column not in ledger.layout.roles:
            continue
        numbers = [n for n in (_parse(p, getattr(p, column)) for p in ledger.postings) if n is not None]
        found: list[tuple[int, Found]] = []
        for (prefix, period), group in sorted(_groups(numbers, column == "voucher").items()):
            context = {"column": column, "header": ledger.layout.headers[column], "prefix": prefix, "period": period}
            found += [(row, ("ledger/sequence-gap", {**context, **data})) for row, data in _gaps(group, cfg)]
            unique = len({n.number for n in group}) >= _UNIQUE * len(group)
            found += [(row, ("ledger/sequence-repeat", {**context, **data}))
                      for row, data in _repeats(group, unique, cfg)]
        yield from (item for _, item in sorted(found, key=lambda f: (f[0], f[1][0])))


def _parse(posting: Posting, value: str) -> _Number | None:
    match = _NUMBERED.fullmatch(value.strip())
    if not match:
        return None
    return _Number(posting, match.group(1).strip(), int(match.group(2)), len(match.group(2)))


def _groups(numbers: list[_Number], vouchers: bool) -> dict[tuple[str, str], list[_Number]]:
    by_month: dict[str, list[int]] = defaultdict(list)
    for n in numbers:
        by_month[f"{n.posting.day:%Y-%m}"].append(n.number)
    months = sorted(by_month)
    monthly = vouchers and len(months) > 1 and _restarts(by_month, months) * 2 >= len(months) - 1
    groups: dict[tuple[str, str], list[_Number]] = defaultdict(list)
    for n in numbers:
        groups[(n.prefix, f"{n.posting.day:%Y-%m}" if monthly else "")].append(n)
    return groups


def _restarts(by_month: dict[str, list[int]], months: list[str]) -> int:
    """Months whose numbers start at 0 or 1 and mostly lie below the highest number of the months before
    (numbering started again), as opposed to a running sequence where each month carries on above the last."""
    count, highest = 0, max(by_month[months[0]])
    for month in months[1:]:
        values = by_month[month]
        count += min(values) <= 1 and sum(v <= highest for v in values) * 2 > len(values)
        highest = max(highest, *values)
    return count


def _gaps(group: list[_Number], cfg: Config) -> Iterator[tuple[int, dict[str, object]]]:
    first: dict[int, _Number] = {}
    for n in sorted(group, key=lambda n: (n.number, n.posting.row)):
        first.setdefault(n.number, n)
    used = sorted(first)
    if len(used) < _SHORTEST or len(used) < _DENSE * (used[-1] - used[0] + 1):
        return
    for low, high in zip(used, used[1:], strict=False):
        if high - low > 1:
            a, b = first[low], first[high]
            yield a.posting.row, {"after": a.shown(), "before": b.shown(), "missing_first": a.shown(low + 1),
                                  "missing_last": a.shown(high - 1), "missing": high - low - 1,
                                  **cite([a.posting.row, b.posting.row], cfg), "value": "gap"}


def _repeats(group: list[_Number], unique: bool, cfg: Config) -> Iterator[tuple[int, dict[str, object]]]:
    same: dict[int, list[_Number]] = defaultdict(list)
    for n in group:
        same[n.number].append(n)
    for number in sorted(same):
        holders = same[number]
        days = sorted({n.posting.day.isoformat() for n in holders})
        if len(holders) > 1 and (len(days) > 1 or unique):
            rows = [n.posting.row for n in holders]
            yield min(rows), {"number": holders[0].shown(), "count": len(holders), "dates": days,
                              **cite(rows, cfg), "value": "repeat"}
