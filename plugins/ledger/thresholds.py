"""Round amounts, amounts just below a reporting threshold, and splitting: several parts under a threshold to
(or from) one counterparty within a few days, together at or above it.

The thresholds apply to a day's single or cumulative amount per direction (PBOC order 2016 No. 3, art. 5), so
parts spread over days, or kept each under the line, are what structuring looks like. A ledger seldom says
whether a posting was cash or a transfer, or whose account it was: every threshold is tried on every
posting, and each finding names the rule it measured against (docs/ledger.md).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal

from dftk.api import TIMES
from dftk_plugins.ledger.cite import Found, cite, shown, side, who
from dftk_plugins.ledger.config import Config, Threshold
from dftk_plugins.ledger.postings import Ledger, Posting
from dftk_plugins.ledger.values import money


def round_amounts(ledger: Ledger, cfg: Config) -> Iterator[Found]:
    """One ``ledger/round-amounts`` finding listing the postings that are whole multiples of the unit."""
    rows = [p.row for p in ledger.postings if abs(p.amount) >= cfg.round_unit and p.amount % cfg.round_unit == 0]
    if rows:
        yield "ledger/round-amounts", {"unit": money(cfg.round_unit), "count": len(rows),
                                       "share": round(len(rows) / len(ledger.postings), 6), **cite(rows, cfg)}


def below(ledger: Ledger, cfg: Config) -> Iterator[Found]:
    """``ledger/below-threshold``: each posting within the near margin under a threshold."""
    for posting in ledger.postings:
        for threshold in cfg.thresholds:
            size = abs(posting.amount)
            if threshold.amount * (1 - cfg.near_margin) <= size < threshold.amount:
                yield "ledger/below-threshold", {
                    "amount": money(posting.amount), "date": posting.day.isoformat(), "counterparty": shown(posting),
                    "rule": threshold.name, "threshold": money(threshold.amount),
                    "below_by": money(threshold.amount - size), **cite([posting.row], cfg), "value": threshold.name,
                    TIMES: {"date": "posted just below a reporting threshold"}}


def splits(ledger: Ledger, cfg: Config) -> Iterator[Found]:
    """``ledger/split``: per threshold, counterparty and direction, the parts that together reach it."""
    key = who(ledger)
    found: list[tuple[int, Found]] = []
    for threshold in cfg.thresholds:
        low = threshold.amount * (1 - cfg.split_margin)
        groups: dict[tuple[str, str], list[Posting]] = defaultdict(list)
        for posting in ledger.postings:
            if key(posting) and low <= abs(posting.amount) < threshold.amount:
                groups[(key(posting), side(posting, ledger.directed))].append(posting)
        for group in groups.values():
            for parts in _clusters(sorted(group, key=lambda p: (p.day, p.row)), threshold, cfg):
                found.append((parts[0].row, _split(parts, threshold, ledger, cfg)))
    yield from (item for _, item in sorted(found, key=lambda f: (f[0], f[1][1]["threshold"])))


def _clusters(group: list[Posting], threshold: Threshold, cfg: Config) -> Iterator[list[Posting]]:
    """Maximal runs within ``split_days`` of their first part, taken greedily from the earliest."""
    start = 0
    while start < len(group):
        end = start
        while end + 1 < len(group) and (group[end + 1].day - group[start].day).days <= cfg.split_days:
            end += 1
        parts = group[start:end + 1]
        if len(parts) >= cfg.split_count and sum((abs(p.amount) for p in parts), Decimal(0)) >= threshold.amount:
            yield parts
            start = end + 1
        else:
            start += 1


def _split(parts: list[Posting], threshold: Threshold, ledger: Ledger, cfg: Config) -> Found:
    total = sum((abs(p.amount) for p in parts), Decimal(0))
    return "ledger/split", {
        "counterparty": shown(parts[0]), "direction": side(parts[0], ledger.directed), "rule": threshold.name,
        "threshold": money(threshold.amount), "parts": len(parts), "amounts": [money(p.amount) for p in parts],
        "total": money(total), "first_date": parts[0].day.isoformat(), "last_date": parts[-1].day.isoformat(),
        "window_days": cfg.split_days, **cite((p.row for p in parts), cfg), "value": shown(parts[0]),
        TIMES: {"first_date": "first part of a possible split"}}
