"""What the test ledgers are made of: planned postings, planted anomalies, and filler with nothing to find.
The ledgers themselves are written by ``ledgers.py``."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date, time
from decimal import Decimal
from pathlib import Path
from typing import Any

SEED = 20240601
ACCOUNTS = {"甲": "6222020000000001", "乙": "6222020000000002", "丙": "6222020000000003"}
NAMES = {"甲": "甲贸易有限公司", "乙": "乙科技有限公司", "丙": "丙实业有限公司"}
# Tuesdays to Thursdays of months with no public holiday: filler never falls on a day off.
WORKDAYS = [date(2023, m, d) for m, days in ((3, (1, 2, 7, 8, 9, 14, 15, 16, 21, 22, 23, 28, 29, 30)),
                                             (11, (1, 2, 7, 8, 9, 14, 15, 16, 21, 22, 23, 28, 29, 30)))
            for d in days]
THRESHOLDS = (Decimal(50000), Decimal(200000), Decimal(500000), Decimal(2000000))


@dataclass
class Entry:
    """One posting as the generator plans it; ``row`` is set when a writer lays it out."""

    day: date
    at: time
    amount: Decimal  # money in positive, out negative
    name: str
    account: str
    memo: str = "货款"
    tag: str = ""  # which planted anomaly it belongs to
    voucher: str = ""
    invoice: str = ""
    row: int = 0


@dataclass
class Planted:
    """A finding the tests expect: its kind, file, the rows it cites, and fields it must carry."""

    kind: str
    file: str
    rows: list[int]
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass
class Built:
    files: dict[str, Path]
    planted: list[Planted]
    amounts: dict[str, list[Decimal]]
    controls: tuple[str, ...] = ("control_bom.csv", "control.ods")


class Filler:
    """Postings with nothing to find: working days by day, cents on every amount, no amount near a
    threshold, and a counterparty of its own for any amount that could be part of a split."""

    def __init__(self, rng: random.Random, parties: int, tag: str, number: int) -> None:
        self.rng = rng
        self.pool = [(f"{tag}客户{i:03d}", f"6217{number}{i:011d}") for i in range(parties)]
        self.single = 0
        self.tag = tag
        self.number = number  # keeps the accounts of different ledgers' filler apart

    def amount(self, benford: bool, low: int, high: int) -> Decimal:
        """Log-uniform amounts follow Benford's law; amounts with uniform first digits (what invented numbers
        look like) do not. Never a whole number of yuan, never within 10% under a threshold."""
        while True:
            if benford:
                value = 10 ** self.rng.uniform(math.log10(low), math.log10(high))
            else:
                value = (self.rng.randint(1, 9) + self.rng.random()) * 10 ** self.rng.randint(
                    round(math.log10(low)), round(math.log10(high)) - 1)
            cents = int(value * 100)
            cents += 1 if cents % 100 == 0 else 0
            amount = Decimal(cents) / 100
            if low <= amount < high and not any(t * Decimal("0.9") <= amount < t for t in THRESHOLDS):
                return amount

    def entry(self, benford: bool, low: int, high: int) -> Entry:
        value = self.amount(benford, low, high) * self.rng.choice((1, -1))
        if any(t / 2 <= abs(value) < t for t in THRESHOLDS):
            self.single += 1
            name, account = f"{self.tag}散户{self.single:04d}", f"6228{self.number}{self.single:011d}"
        else:
            name, account = self.rng.choice(self.pool)
        at = time(self.rng.randint(9, 16), self.rng.randint(0, 59), self.rng.randint(0, 59))
        return Entry(self.rng.choice(WORKDAYS), at, value, name, account)


def in_order(entries: list[Entry]) -> list[Entry]:
    """Postings as a ledger lists them: by day and time."""
    return sorted(entries, key=lambda e: (e.day, e.at, e.tag))


# The money cycle: (pays to, day, amount) and (paid by, day, amount) for each of the three accounts.
CYCLE = {"甲": (("乙", "2023-03-14", "123456.78"), ("丙", "2023-03-16", "98765.43")),
         "乙": (("丙", "2023-03-15", "110000.25"), ("甲", "2023-03-14", "123456.78")),
         "丙": (("甲", "2023-03-16", "98765.43"), ("乙", "2023-03-15", "110000.25"))}


def cycle_of(own: str) -> list[Entry]:
    """The two postings of the money cycle that account ``own``'s ledger holds."""
    (payee, paid, out), (payer, got, back) = CYCLE[own]
    return [Entry(date.fromisoformat(paid), time(10, 30), -Decimal(out), NAMES[payee], ACCOUNTS[payee], "往来款",
                  "cycle"),
            Entry(date.fromisoformat(got), time(11, 0), Decimal(back), NAMES[payer], ACCOUNTS[payer], "往来款",
                  "cycle")]
