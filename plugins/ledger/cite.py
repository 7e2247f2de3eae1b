"""What every test's finding shares: the rows it cites, the table they are in, amounts as text."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dftk_plugins.ledger.config import Config
from dftk_plugins.ledger.postings import Ledger, Posting

Found = tuple[str, dict[str, Any]]  # a finding's kind and data; the plugin adds the file as its subject


def cite(rows: Iterable[int], cfg: Config) -> dict[str, Any]:
    """``rows`` (ascending, at most ``max_cited``) and, when some were left out, ``rows_total``."""
    ordered = sorted(set(rows))
    cited: dict[str, Any] = {"rows": ordered[:cfg.max_cited]}
    if len(ordered) > cfg.max_cited:
        cited["rows_total"] = len(ordered)
    return cited


def who(ledger: Ledger) -> Any:
    """The key that says two postings went to (or came from) the same other side: the counterparty's account
    or name; the memo stands in for a ledger that names no counterparty."""
    named = any(r in ledger.layout.roles for r in ("counterparty", "counterparty_account"))

    def key(posting: Posting) -> str:
        return posting.party if named else posting.memo

    return key


def shown(posting: Posting) -> str:
    """The other side as a finding shows it: name and account when both are known."""
    if posting.counterparty and posting.counterparty_account:
        return f"{posting.counterparty} ({posting.counterparty_account})"
    return posting.counterparty or posting.counterparty_account or posting.memo


def side(posting: Posting, directed: bool) -> str:
    """``in``, ``out``, or ``unknown`` for a ledger whose amounts carry no direction."""
    return "unknown" if not directed else ("in" if posting.amount > 0 else "out")
