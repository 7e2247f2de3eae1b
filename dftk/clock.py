"""Time, as every record dftk writes gives it: tz-aware UTC, ISO 8601, from the real clock.

Nothing changes these times: ``SOURCE_DATE_EPOCH`` and ``--deterministic`` decide only a report's own
rendering time (``dftk.report.model.report_time``), never a custody event, a run or a seal. What the clock
itself can be trusted for is recorded with each run (``host_clock``): the host's time zone, the kernel's
clock source and whether the clock is synchronised.
"""

from __future__ import annotations

import ctypes
import time
from datetime import UTC, datetime
from pathlib import Path

_TIME_ERROR = 5  # adjtimex: the clock is not synchronised (e.g. no NTP)
_CLOCKSOURCE = Path("/sys/devices/system/clocksource/clocksource0/current_clocksource")


def utc() -> datetime:
    """The real UTC time (tests that need a fixed clock replace this function, in their own process)."""
    return datetime.now(UTC)


def now(timespec: str = "seconds") -> str:
    """The real UTC time as ISO 8601 (acquisition logs, a report's making)."""
    return utc().isoformat(timespec=timespec)


def record_time() -> str:
    """The real UTC time as the case store records it (microseconds)."""
    return utc().isoformat(timespec="microseconds")


def host_clock() -> dict[str, object]:
    """What this host's clock can be trusted for: its time zone, the kernel's clock source, and whether the
    kernel reports it synchronised (None where it cannot be asked)."""
    offset = datetime.now().astimezone().utcoffset()
    return {"timezone": time.tzname[time.localtime().tm_isdst > 0], "utc_offset": str(offset),
            "clock_source": _read(_CLOCKSOURCE), "synchronized": _synchronized(),
            "clock": time.get_clock_info("time").implementation}


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


def _synchronized() -> bool | None:
    try:
        adjtimex = ctypes.CDLL(None, use_errno=True).adjtimex
    except (OSError, AttributeError):
        return None
    state = adjtimex(ctypes.create_string_buffer(512))  # a zeroed struct timex: modes 0, read only
    return None if state < 0 else state != _TIME_ERROR
