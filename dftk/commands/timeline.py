"""``dftk timeline``: file-system times of every entry, as a bodyfile or sorted events."""

from __future__ import annotations

import csv
import json
import sys

import click

from dftk.commands.evidence import FORMAT_DECLS, FORMAT_KW
from dftk.commands.fs import _rows, report_problems
from dftk.evidence import open_evidence
from dftk.plugin import Problem
from dftk.timeline import body_line, body_rows, events
from dftk.volumes import per_volume, volumes

_COLUMNS = ("time", "macb", "path", "inode", "size", "mode", "deleted", "volume_index", "fs_type", "source")


@click.command()
@click.argument("evidence")
@click.option(*FORMAT_DECLS, **FORMAT_KW)
@click.option("--format", "output", type=click.Choice(["bodyfile", "csv", "jsonl"]), default="bodyfile",
              show_default=True, help="bodyfile (TSK 3 format, for mactime), or events sorted by time in UTC.")
def timeline(evidence: str, fmt: str, output: str) -> None:
    """Print the timeline of every file system: modified, accessed, changed and born times.

    The bodyfile is what `fls -r -m /` writes (NTFS $FILE_NAME times included) and feeds TSK's mactime.
    csv and jsonl give one event per distinct time with mactime's flags (m=modified, a=accessed,
    c=changed, b=born), sorted by time, ISO 8601 UTC.

    \b
    Example:
      dftk timeline disk.E01 > disk.body && mactime -b disk.body -z UTC
      dftk timeline disk.E01 --format csv > timeline.csv
    """
    problems: list[Problem] = []
    with open_evidence(evidence, fmt) as ev:
        partitioned = volumes(ev)[0] is not None
        rows = _rows(per_volume(ev, body_rows, partitioned), problems)
        if output == "bodyfile":
            for row in rows:
                click.echo(body_line(row))
        elif output == "jsonl":
            for event in events(rows):
                click.echo(json.dumps(event, ensure_ascii=False))
        else:
            writer = csv.DictWriter(sys.stdout, fieldnames=_COLUMNS, lineterminator="\n")
            writer.writeheader()
            for event in events(rows):
                writer.writerow(event)
    report_problems(problems)
