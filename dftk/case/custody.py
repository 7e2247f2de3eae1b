"""The custody log: one append-only, hash-chained event per action on a case.

Each event's hash covers its own fields and the previous event's hash, so editing, deleting or reordering
any event breaks the chain from that point on. SQLite triggers refuse updates and deletes; the chain
catches anyone who goes around them.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import shlex
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from dftk import __version__
from dftk.case.store import CaseStore
from dftk.clock import record_time
from dftk.errors import SignatureError
from dftk.records import canonical_json

GENESIS = "0" * 64
_FIELDS = ("seq", "time", "examiner", "tool_version", "action", "command_line", "evidence_sha256", "details",
           "prev_hash")


def examiner_name(given: str | None = None) -> str:
    """The examiner: the --examiner option, else $DFTK_EXAMINER, else the login name."""
    if given:
        return given
    if os.environ.get("DFTK_EXAMINER"):
        return os.environ["DFTK_EXAMINER"]
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def command_line() -> str:
    return shlex.join(["dftk", *sys.argv[1:]])


def event_hash(event: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json({k: event[k] for k in _FIELDS}).encode()).hexdigest()


def append(store: CaseStore, action: str, examiner: str, evidence_sha256: str | None = None,
           **details: Any) -> dict[str, Any]:
    """Appends one custody event, chained to the last one, and returns it."""
    with store.transaction():
        last = store.last_event()
        event: dict[str, Any] = {
            "seq": (last["seq"] + 1) if last else 1,
            "time": record_time(),
            "examiner": examiner,
            "tool_version": f"dftk {__version__}",
            "action": action,
            "command_line": command_line(),
            "evidence_sha256": evidence_sha256,
            "details": canonical_json(details),
            "prev_hash": last["hash"] if last else GENESIS,
        }
        event["hash"] = event_hash(event)
        store.add_event(event)
    return event


def events(store: CaseStore) -> Iterator[dict[str, Any]]:
    return store.events()


@dataclass(frozen=True, slots=True)
class ChainCheck:
    events: int
    head: str


def verify(store: CaseStore) -> ChainCheck:
    """Checks the whole chain of a case.

    Raises:
        SignatureError: naming the first event that does not hold.
    """
    return verify_events(events(store))


def verify_events(chain: Iterable[dict[str, Any]]) -> ChainCheck:
    """Checks a sequence of custody events (from a case or from a report)."""
    prev, count = GENESIS, 0
    for count, event in enumerate(chain, start=1):
        if event["seq"] != count:
            raise SignatureError(f"custody log: event {count} is missing (found event {event['seq']} in its place)")
        if event["prev_hash"] != prev:
            raise SignatureError(f"custody log: event {count} does not chain to event {count - 1}")
        if event_hash(event) != event["hash"]:
            raise SignatureError(f"custody log: event {count} ({event['action']}) was altered after it was written")
        prev = event["hash"]
    return ChainCheck(count, prev)


def clock_notes(events: Iterable[dict[str, Any]]) -> Iterator[str]:
    """Events dated before the event they follow: the chain holds, but the clock went back (or was set)."""
    previous: dict[str, Any] | None = None
    for event in events:
        if previous is not None and event["time"] < previous["time"]:
            yield (f"event {event['seq']} ({event['action']}) is dated {event['time']}, before event "
                   f"{previous['seq']} ({previous['time']}): the host's clock went back")
        previous = event
