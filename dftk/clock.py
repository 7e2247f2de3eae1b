"""Time, as every record dftk writes gives it: tz-aware UTC, ISO 8601. Two clocks, named for what they differ in.

- ``now``: the real clock, always (acquisition logs, a report's making).
- ``record_time``: what the case store records. With ``SOURCE_DATE_EPOCH`` set (reproducible builds'
  convention) it is frozen at that time, so a case built twice from the same evidence and commands is the
  same case (the golden report test depends on it).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime


def now(timespec: str = "seconds") -> str:
    """The real UTC time."""
    return datetime.now(UTC).isoformat(timespec=timespec)


def record_time() -> str:
    """The UTC time the case store records: SOURCE_DATE_EPOCH when it is set, else now (microseconds)."""
    frozen = os.environ.get("SOURCE_DATE_EPOCH")
    moment = datetime.fromtimestamp(int(frozen), tz=UTC) if frozen else datetime.now(UTC)
    return moment.isoformat(timespec="microseconds")
