"""Postings on weekends and Chinese public holidays, and postings at night.

Holidays and the official make-up working days (调休) come from chinese-calendar, which follows the State
Council's yearly notices; a Saturday that is a make-up working day is a working day. For a year it has no
data for, only Saturdays and Sundays are known and the finding says so. Night is read in the ledger's own
local time, as recorded: ledgers carry no time zone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import date, datetime, time
from decimal import Decimal
from functools import lru_cache

import chinese_calendar

from dftk.api import TIMES
from dftk_plugins.ledger.cite import Found, cite, shown
from dftk_plugins.ledger.config import Config
from dftk_plugins.ledger.postings import Ledger, Posting
from dftk_plugins.ledger.values import money

CALENDAR = f"chinese-calendar {getattr(chinese_calendar, '__version__', '')}".strip()


@lru_cache(maxsize=4096)
def day_off(day: date) -> tuple[str, str | None, str] | None:
    """``(kind, holiday name, calendar)`` for a day off (``weekend`` or ``holiday``), None for a working day."""
    try:
        off, name = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError:
        weekend = day.weekday() >= 5
        return ("weekend", None, f"weekends only (no holiday data for {day.year})") if weekend else None
    if not off:
        return None
    return ("holiday", str(name), CALENDAR) if name else ("weekend", None, CALENDAR)


def off_days(ledger: Ledger, cfg: Config) -> Iterator[Found]:
    """``ledger/off-day``: one finding per weekend or holiday date that has postings."""
    days: dict[date, list[Posting]] = defaultdict(list)
    for posting in ledger.postings:
        if day_off(posting.day) is not None:
            days[posting.day].append(posting)
    for day in sorted(days):
        kind, holiday, calendar = day_off(day)  # type: ignore[misc]
        postings = days[day]
        yield "ledger/off-day", {
            "date": day.isoformat(), "weekday": day.strftime("%A"), "day": kind, "holiday": holiday,
            "calendar": calendar, "count": len(postings),
            "total": money(sum((abs(p.amount) for p in postings), Decimal(0))),
            **cite((p.row for p in postings), cfg), "value": holiday or "weekend",
            TIMES: {"date": "posted on a weekend or public holiday"}}


def is_night(at: time, night: tuple[time, time]) -> bool:
    """Whether a time of day falls in the night window (which may run past midnight)."""
    start, end = night
    return start <= at < end if start <= end else (at >= start or at < end)


def nights(ledger: Ledger, cfg: Config) -> Iterator[Found]:
    """``ledger/night``: each posting recorded at night (a ledger without times of day has none)."""
    if not ledger.has_times:
        return
    for posting in ledger.postings:
        if posting.at is not None and posting.at != time(0) and is_night(posting.at, cfg.night):
            moment = datetime.combine(posting.day, posting.at).isoformat()
            yield "ledger/night", {
                "time": moment, "amount": money(posting.amount), "counterparty": shown(posting),
                "night": f"{cfg.night[0]:%H:%M}-{cfg.night[1]:%H:%M}", **cite([posting.row], cfg),
                "value": f"{posting.at:%H}h", TIMES: {"time": "posted at night (local time as recorded)"}}
