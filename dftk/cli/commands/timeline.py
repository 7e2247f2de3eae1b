"""``dftk timeline``: file-system times of every entry, as a bodyfile or sorted events."""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from typing import Any

import click

from dftk.case.access import record_access
from dftk.case.store import CaseStore
from dftk.cli.options import evidence_format_option
from dftk.cli.output import report_problems, separate
from dftk.fs.timeline import body_line, body_rows, events
from dftk.fs.volumes import open_image, per_volume, volumes
from dftk.records import Problem
from dftk.report.conventions import finding_events
from dftk.text import json_text, terminal

_COLUMNS = ("time", "macb", "path", "inode", "size", "mode", "deleted", "volume_index", "fs_type", "source",
            "timezone", "meaning")


def _dated(case_dir: str | None, evidence_path: str) -> Iterator[dict[str, Any]]:
    """The times this evidence's findings carry in the case (other evidence items are left out)."""
    if not case_dir:
        return
    with CaseStore.open(case_dir, create=False) as store:
        found = store.evidence_id(evidence_path)
        if found is not None:
            yield from finding_events(f for f in store.parsed_findings() if f["evidence_id"] == found)


@click.command()
@click.argument("evidence")
@evidence_format_option
@click.option("--format", "output", type=click.Choice(["bodyfile", "csv", "jsonl"]), default="bodyfile",
              show_default=True, help="bodyfile (TSK 3 format, for mactime), or events sorted by time in UTC.")
@click.option("--case", "case_dir", metavar="DIR",
              help="Also the times plugins found inside files (EXIF, documents, audio) in this case (csv, jsonl); "
                   "the access is recorded in the case's custody log.")
def timeline(evidence: str, fmt: str, output: str, case_dir: str | None) -> None:
    """Print the timeline of every file system: modified, accessed, changed and born times.

    The bodyfile is what `fls -r -m /` writes (NTFS $FILE_NAME times included) and feeds TSK's mactime.
    csv and jsonl give one event per distinct time with mactime's flags (m=modified, a=accessed,
    c=changed, b=born), sorted by time, ISO 8601 UTC; with --case, the embedded times the case's plugins
    found (EXIF dates, document created/modified) are merged in, each marked with its source, and the
    access to the evidence is recorded in the case's custody log.

    \b
    Example:
      dftk timeline disk.E01 > disk.body && mactime -b disk.body -z UTC
      dftk timeline disk.E01 --format csv > timeline.csv
      dftk timeline disk.E01 --format jsonl --case cases/2026-001
    """
    problems: list[Problem] = []
    with open_image(evidence, fmt) as ev:
        if case_dir:
            record_access(case_dir, ev, command="timeline", output=output)
        partitioned = volumes(ev)[0] is not None
        rows = separate(per_volume(ev, body_rows, partitioned), problems)
        if output == "bodyfile":
            for row in rows:
                click.echo(body_line(row))
        elif output == "jsonl":
            for event in events(rows, _dated(case_dir, ev.path)):
                click.echo(json_text(event))
        else:
            writer = csv.DictWriter(sys.stdout, fieldnames=_COLUMNS, lineterminator="\n", extrasaction="ignore")
            writer.writeheader()
            for event in events(rows, _dated(case_dir, ev.path)):
                # one record per line whatever a name holds: its control characters shown as \x escapes
                writer.writerow({k: terminal(v) if isinstance(v, str) else v for k, v in event.items()})
    report_problems(problems)
