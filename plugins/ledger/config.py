"""The ledger plugin's options (``--ledger-...``) and the settings they make.

The same options serve ``dftk run`` (through the plugin class) and ``dftk ledger`` (which builds its own copies,
as a click option belongs to one command). Defaults and their sources are in docs/ledger.md.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time
from decimal import Decimal, InvalidOperation
from typing import Any

import click

# 中国人民银行令〔2016〕第3号《金融机构大额交易和可疑交易报告管理办法》第五条 (in force 2017-07-01): cash
# 50,000 yuan; natural persons' cross-border transfers 200,000; natural persons' domestic transfers 500,000;
# other (non-natural-person) accounts' transfers 2,000,000. Each counts a day's single or cumulative amount.
DEFAULT_THRESHOLDS = "cash=50000,cross-border-person=200000,transfer-person=500000,transfer-entity=2000000"
DEFAULT_NIGHT = "22:00-06:00"
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")


@dataclass(frozen=True, slots=True)
class Threshold:
    """A reporting threshold: amounts at or above it are reported (``amount`` in yuan)."""

    name: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Config:
    """The settings of one run of the tests, from the ``--ledger-...`` options (defaults when absent)."""

    thresholds: tuple[Threshold, ...]
    near_margin: Decimal
    split_margin: Decimal
    split_days: int
    split_count: int
    duplicate_days: int
    round_unit: Decimal
    night: tuple[time, time]
    benford_min_records: int
    benford_min_span: float
    min_rows: int
    max_cited: int

    @classmethod
    def from_options(cls, opts: Mapping[str, Any]) -> Config:
        """Settings from the plugin's options; raises ValueError on a value the option's check would refuse."""

        def get(name: str, default: Any) -> Any:
            value = opts.get(f"ledger_{name}")
            return default if value is None else value

        return cls(
            thresholds=parse_thresholds(str(get("thresholds", DEFAULT_THRESHOLDS))),
            near_margin=_fraction(get("near_margin", "0.1")),
            split_margin=_fraction(get("split_margin", "0.5")),
            split_days=int(get("split_days", 3)),
            split_count=max(2, int(get("split_count", 2))),
            duplicate_days=int(get("duplicate_days", 3)),
            round_unit=_positive(get("round_unit", "10000")),
            night=parse_night(str(get("night", DEFAULT_NIGHT))),
            benford_min_records=int(get("benford_min_records", 1000)),
            benford_min_span=float(get("benford_min_span", 3.0)),
            min_rows=int(get("min_rows", 5)),
            max_cited=int(get("max_cited", 200)),
        )


def parse_thresholds(text: str) -> tuple[Threshold, ...]:
    """``name=amount,...`` as thresholds, largest last; raises ValueError when malformed."""
    found = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, amount = part.partition("=")
        if not _NAME.match(name.strip()):
            raise ValueError(f"threshold {part!r}: expected NAME=AMOUNT (name in a-z, 0-9, -)")
        found.append(Threshold(name.strip(), _positive(amount)))
    return tuple(sorted(found, key=lambda t: (t.amount, t.name)))


def parse_night(text: str) -> tuple[time, time]:
    """``HH:MM-HH:MM`` as the start and end of the night (the end may be the next morning)."""
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", text)
    if not match:
        raise ValueError(f"night {text!r}: expected HH:MM-HH:MM")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    return time(h1 % 24, m1), time(h2 % 24, m2)


def _positive(value: Any) -> Decimal:
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation as e:
        raise ValueError(f"{value!r} is not a number") from e
    if not number.is_finite() or number <= 0:
        raise ValueError(f"{value!r} must be a positive number")
    return number


def _fraction(value: Any) -> Decimal:
    number = _positive(value)
    if number >= 1:
        raise ValueError(f"{value!r} must be a fraction between 0 and 1")
    return number


def _checked(parse: Any) -> Any:
    """A click callback that refuses what ``parse`` refuses and passes the text on unchanged (options are
    recorded with a run as JSON, so they stay plain values)."""

    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value is not None:
            try:
                parse(value)
            except ValueError as e:
                raise click.BadParameter(str(e)) from e
        return value

    return callback


def ledger_options() -> tuple[click.Option, ...]:
    """Fresh ``--ledger-...`` options (one set per command that takes them)."""
    return (
        click.Option(["--ledger-thresholds"], default=DEFAULT_THRESHOLDS, show_default=True, metavar="NAME=YUAN,...",
                     callback=_checked(parse_thresholds),
                     help="Reporting thresholds (defaults: PBOC order 2016 No. 3, art. 5; docs/ledger.md)."),
        click.Option(["--ledger-near-margin"], default="0.1", show_default=True, callback=_checked(_fraction),
                     help="'Just below' a threshold: within this fraction under it."),
        click.Option(["--ledger-split-margin"], default="0.5", show_default=True, callback=_checked(_fraction),
                     help="Parts of a split: each under a threshold by at most this fraction."),
        click.Option(["--ledger-split-days"], type=click.IntRange(0, 366), default=3, show_default=True,
                     help="Splitting: the parts fall within this many days of the first."),
        click.Option(["--ledger-split-count"], type=click.IntRange(2, 1000), default=2, show_default=True,
                     help="Splitting: at least this many parts to (or from) one counterparty."),
        click.Option(["--ledger-duplicate-days"], type=click.IntRange(1, 366), default=3, show_default=True,
                     help="Near duplicates: same amount and counterparty within this many days."),
        click.Option(["--ledger-round-unit"], default="10000", show_default=True, callback=_checked(_positive),
                     help="Round amounts: whole multiples of this many yuan."),
        click.Option(["--ledger-night"], default=DEFAULT_NIGHT, show_default=True, callback=_checked(parse_night),
                     help="Night hours (local time as recorded), HH:MM-HH:MM."),
        click.Option(["--ledger-benford-min-records"], type=click.IntRange(1), default=1000, show_default=True,
                     help="Benford tests only with at least this many amounts of 10 or more."),
        click.Option(["--ledger-benford-min-span"], type=click.FloatRange(0), default=3.0, show_default=True,
                     help="Benford tests only when the amounts span this many orders of magnitude (1st-99th pct)."),
        click.Option(["--ledger-min-rows"], type=click.IntRange(1), default=5, show_default=True,
                     help="A table is a ledger with at least this many transactions."),
        click.Option(["--ledger-max-cited"], type=click.IntRange(1), default=200, show_default=True,
                     help="Rows a finding cites at most (the rest are counted)."),
    )
