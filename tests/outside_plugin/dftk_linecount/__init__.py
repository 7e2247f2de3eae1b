"""An outside dftk plugin: counts the lines of text files. Installed from its own package.

It imports nothing of dftk but ``dftk.api``, and reaches the report and the timeline only through the
finding-data conventions documented in docs/plugins.md: a date written at the top of a text (``Date:
2026-03-04``) is marked with ``TIMES``, so it becomes a timeline event and counts in the report's chart.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any, ClassVar

import click

from dftk.api import TIMES, Buffer, EvidenceFile, Finding, Plugin, Problem, Record

_DATE = re.compile(rb"^Date: (\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?(?:Z|[+-]\d{2}:\d{2})?)?)\s*$", re.M)


class LineCount(Plugin):
    """Count the lines of text files (example outside plugin)."""

    name: ClassVar[str] = "linecount"
    discipline: ClassVar[str] = "text"
    version: ClassVar[str] = "1.1.0"
    options: ClassVar[tuple[click.Option, ...]] = (
        click.Option(["--linecount-min-lines"], type=int, default=1, show_default=True,
                     help="Report files with at least this many lines."),
        click.Option(["--linecount-delay-ms"], type=int, default=0, hidden=True,
                     help="Pause per file (lets tests interrupt a run part-way)."),
    )

    def analyze(self, file: EvidenceFile, data: Buffer, **opts: Any) -> Iterator[Record]:
        if opts.get("linecount_delay_ms"):
            time.sleep(opts["linecount_delay_ms"] / 1000)
        head = bytes(data[:4096])
        if b"\0" in head:
            return
        try:
            bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            yield Problem(file.path, "not valid UTF-8 text; lines not counted")
            return
        lines = bytes(data).count(b"\n")
        if lines >= opts.get("linecount_min_lines", 1):
            found: dict[str, Any] = {"lines": lines}
            dated = _DATE.search(head[:200])
            if dated:
                found.update({"date": dated.group(1).decode(), TIMES: {"date": "date written in the text"}})
            yield Finding("text/lines", file.path, found)
