"""Exact duplicates (same amount, day and counterparty) and near duplicates (same amount and counterparty
within a few days). The amount is compared with its sign: money in and money out of the same size are not
duplicates of each other."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal

from dftk_plugins.ledger.cite import Found, cite, shown, who
from dftk_plugins.ledger.config import Config
from dftk_plugins.ledger.postings import Ledger, Posting
from dftk_plugins.ledger.values import money


def duplicates(ledger: Ledger, cfg: Config) -> Iterator[Found]:
    """``ledger/duplicate`` and ``ledger/near-duplicate`` findings, in the order of their first rows."""
    key = who(ledger)
    exact: dict[tuple[Decimal, object, str], list[Posting]] = defaultdict(list)
    near: dict[tuple[Decimal, str], list[Posting]] = defaultdict(list)
    for posting in ledger.postings:
        party = key(posting)
        if party:
            exact[(posting.amount, posting.day, party)].append(posting)
            near[(posting.amount, party)].append(posting)
    found: list[tuple[int, Found]] = []
    for group in exact.values():
        if len(group) > 1:
            found.append((group[0].row, _exact(group, ledger, cfg)))
    for group in near.values():
        for run in _runs(sorted(group, key=lambda p: (p.day, p.row)), cfg.duplicate_days):
            found.append((min(p.row for p in run), _near(run, cfg)))
    yield from (item for _, item in sorted(found, key=lambda f: (f[0], f[1][0])))


def _runs(group: list[Posting], days: int) -> Iterator[list[Posting]]:
    """Runs of postings each within ``days`` of the one before, spanning at least two days."""
    run: list[Posting] = []
    for posting in group:
        if run and (posting.day - run[-1].day).days > days:
            if run[0].day != run[-1].day:
                yield run
            run = []
        run.append(posting)
    if run and run[0].day != run[-1].day:
        yield run


def _exact(group: list[Posting], ledger: Ledger, cfg: Config) -> Found:
    first = group[0]
    data = {"amount": money(first.amount), "date": first.day.isoformat(), "counterparty": shown(first),
            "count": len(group), **cite((p.row for p in group), cfg), "value": shown(first)}
    if ledger.has_times:
        data["times"] = [p.at.isoformat() if p.at else None for p in group]
    return "ledger/duplicate", data


def _near(run: list[Posting], cfg: Config) -> Found:
    first = run[0]
    return "ledger/near-duplicate", {
        "amount": money(first.amount), "counterparty": shown(first), "count": len(run),
        "dates": sorted({p.day.isoformat() for p in run}), "days_apart": (run[-1].day - first.day).days,
        "window_days": cfg.duplicate_days, **cite((p.row for p in run), cfg), "value": shown(first)}
