"""The counterparty summary of one ledger: per own account and other side, money in and out.

These findings are also the edges of the evidence-wide flow graph (``graph.py``): the own account is the
ledger's account column, or, when it has none, the ledger itself (``file#table``), which no other ledger can
name. Postings without a counterparty (cash at a counter, fees) are counted in the ledger's summary.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal

from dftk_plugins.ledger.cite import Found, cite
from dftk_plugins.ledger.config import Config
from dftk_plugins.ledger.postings import Ledger, Posting
from dftk_plugins.ledger.values import money


def counterparties(ledger: Ledger, cfg: Config) -> Iterator[Found]:
    """``ledger/counterparty``: one finding per (own account, counterparty), in the order of their keys."""
    groups: dict[tuple[str, str], list[Posting]] = defaultdict(list)
    for posting in ledger.postings:
        if posting.party:
            groups[(posting.account, posting.party)].append(posting)
    for (account, _), postings in sorted(groups.items()):
        yield "ledger/counterparty", _summary(account, postings, ledger, cfg)


def unattributed(ledger: Ledger) -> int:
    """Postings that name no other side."""
    return sum(1 for p in ledger.postings if not p.party)


def _summary(account: str, postings: list[Posting], ledger: Ledger, cfg: Config) -> dict[str, object]:
    names = sorted({p.counterparty for p in postings if p.counterparty})
    numbers = sorted({p.counterparty_account for p in postings if p.counterparty_account})
    data: dict[str, object] = {"account": account, "counterparty": names[0] if names else "",
                               "counterparty_account": numbers[0] if numbers else "",
                               "names": names, "directed": ledger.directed}
    if ledger.directed:
        money_in = [p.amount for p in postings if p.amount > 0]
        money_out = [-p.amount for p in postings if p.amount < 0]
        data.update({"in_total": money(sum(money_in, Decimal(0))), "in_count": len(money_in),
                     "out_total": money(sum(money_out, Decimal(0))), "out_count": len(money_out)})
    else:
        data.update({"total": money(sum((abs(p.amount) for p in postings), Decimal(0))), "count": len(postings)})
    data.update({"first_date": min(p.day for p in postings).isoformat(),
                 "last_date": max(p.day for p in postings).isoformat(),
                 **cite((p.row for p in postings), cfg), "value": data["counterparty"] or data["counterparty_account"]})
    return data
