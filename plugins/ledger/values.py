"""Cell values as amounts, dates and times, as ledgers write them.

Amounts: thousands separators, full-width digits and punctuation (NFKC), currency marks (¥, RMB, 人民币),
元/万元/亿元 units, parentheses or a trailing minus for negatives. Dates: ISO and Chinese forms
(``2023-01-05``, ``2023/1/5``, ``2023年1月5日``, ``20230105``), with or without a time; spreadsheet date cells
arrive as ``date``/``datetime`` from the reader.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

Cell = Any  # str, int, float, bool, date, datetime, time, None: what a reader yields for one cell

_NUMBER = re.compile(r"^[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$|^[-+]?\.\d+$")
_CURRENCY = re.compile(r"^(?:¥|\$|rmb|cny|人民币)\s*|\s*(?:rmb|cny)$", re.IGNORECASE)
_UNITS = (("亿元", Decimal(100_000_000)), ("万元", Decimal(10_000)), ("亿", Decimal(100_000_000)),
          ("万", Decimal(10_000)), ("元", Decimal(1)))
_DATE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
                   r"(?:(?:\s+|T|(?<=日))(\d{1,2})\s*[:时]\s*(\d{1,2})(?:\s*[:分]\s*(\d{1,2})(?:\.\d+)?\s*秒?|\s*分)?)?"
                   r"(?:Z|[+-]\d{2}:?\d{2})?$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:[ T]?(\d{2}):?(\d{2}):?(\d{2}))?$")
_TIME = re.compile(r"^(\d{1,2})\s*[:时]\s*(\d{1,2})(?:\s*[:分]\s*(\d{1,2})(?:\.\d+)?\s*秒?|\s*分)?$"
                   r"|^(\d{2})(\d{2})(\d{2})$")
_FIRST_YEAR, _LAST_YEAR = 1950, 2100
_LARGEST = Decimal(10) ** 15  # no ledger amount is this large: longer digit runs are identifiers


def text(value: Cell) -> str:
    """A cell as normalised text (NFKC: full-width forms folded), stripped; empty for no value."""
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return unicodedata.normalize("NFKC", str(value)).strip()


def amount(value: Cell, scale: Decimal = Decimal(1)) -> Decimal | None:
    """The amount a cell holds (times ``scale``, the column's unit), or None when it holds none."""
    if isinstance(value, bool) or value is None or isinstance(value, (date, time)):
        return None
    if isinstance(value, int):
        number: Decimal | None = Decimal(value) * scale
    elif isinstance(value, float):
        number = Decimal(repr(value)) * scale if value == value and abs(value) != float("inf") else None
    else:
        number = _amount_text(text(value).replace("\u2212", "-"), scale)
    return number if number is not None and abs(number) < _LARGEST else None


def _amount_text(raw: str, scale: Decimal) -> Decimal | None:
    negative = False
    if raw.startswith("(") and raw.endswith(")"):
        negative, raw = True, raw[1:-1].strip()
    for unit, factor in _UNITS:
        if raw.endswith(unit):
            raw, scale = raw[: -len(unit)].strip(), scale * factor
            break
    raw = _CURRENCY.sub("", raw).replace(" ", "")
    if raw.endswith("-") and len(raw) > 1:  # some systems print negatives as 1,234.00-
        negative, raw = not negative, raw[:-1]
    if raw.startswith("-") and raw[1:2] in ("¥", "$"):
        negative, raw = not negative, raw[2:]
    if not _NUMBER.match(raw):
        return None
    try:
        number = Decimal(raw.replace(",", "")) * scale
    except InvalidOperation:
        return None
    return -number if negative else number


def when(value: Cell) -> tuple[date, time | None] | None:
    """The date a cell holds and its time of day when it holds one."""
    if isinstance(value, datetime):
        return value.date(), value.time().replace(microsecond=0)
    if isinstance(value, date):
        return value, None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return None
    raw = text(value)
    match = _DATE.match(raw) or _COMPACT.match(raw)
    if not match:
        return None
    y, mo, d, h, mi, s = (int(g) if g else None for g in match.groups())
    try:
        day = date(y, mo, d)  # type: ignore[arg-type]
        at = time(h, mi, s or 0) if h is not None and mi is not None else None
    except ValueError:
        return None
    return (day, at) if _FIRST_YEAR <= day.year <= _LAST_YEAR else None


def clock(value: Cell) -> time | None:
    """The time of day a cell holds (a time-only column, ``交易时间`` beside a date)."""
    if isinstance(value, datetime):
        return value.time().replace(microsecond=0)
    if isinstance(value, time):
        return value.replace(microsecond=0)
    if not isinstance(value, str):
        return None
    match = _TIME.match(text(value))
    if not match:
        return None
    groups = match.groups()
    h, mi, s = groups[:3] if groups[0] is not None else groups[3:]
    try:
        return time(int(h), int(mi), int(s or 0))
    except ValueError:
        return None


def money(number: Decimal) -> str:
    """An amount as plain decimal text with at least two decimals (``1234.50``, ``-3.125``)."""
    cents = number.quantize(Decimal("0.01"))
    return format(cents if cents == number else number.normalize(), "f")


def party(value: str) -> str:
    """An account number or name as a key: full-width folded, spaces and dashes inside numbers dropped."""
    folded = text(value)
    compact = re.sub(r"[\s\-]", "", folded)
    return compact if compact.isdigit() else re.sub(r"\s+", " ", folded)
