"""``dftk fs``: volumes and file systems inside evidence: list, extract, unallocated space."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

import click

from dftk import dfxml
from dftk.commands.evidence import FORMAT_DECLS, FORMAT_KW
from dftk.errors import INCOMPLETE
from dftk.evidence import open_evidence
from dftk.hashes import ALGORITHMS, parse_algorithms
from dftk.listing import ListOptions, list_evidence
from dftk.plugin import Problem
from dftk.volumes import volumes as list_volumes

_LETTER = {"file": "r", "dir": "d", "link": "l", "fifo": "p", "char": "c", "block": "b", "socket": "s",
           "shadow": "h", "whiteout": "w", "virtual": "v", "virtual-dir": "V", "unknown": "-"}


@click.group()
def fs() -> None:
    """Volumes and file systems inside evidence (through The Sleuth Kit)."""


def _algorithms(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[str, ...]:
    try:
        return parse_algorithms(value) if value else ()
    except ValueError as e:
        raise click.BadParameter(str(e)) from e


def report_problems(problems: list[Problem]) -> None:
    """Problems go to stderr; any problem means the output is incomplete (exit status 4)."""
    for problem in problems:
        click.echo(f"dftk: problem: {problem.subject}: {problem.message}", err=True)
    if problems:
        click.echo(f"dftk: {len(problems)} problem(s): the output is incomplete", err=True)
        sys.exit(INCOMPLETE)


@fs.command()
@click.argument("evidence")
@click.option(*FORMAT_DECLS, **FORMAT_KW)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per volume.")
def volumes(evidence: str, fmt: str, as_json: bool) -> None:
    """List the partition table: partitions, unallocated gaps and the table's own structures (like mmls).

    \b
    Example:
      dftk fs volumes disk.E01
    """
    with open_evidence(evidence, fmt) as ev:
        table, found = list_volumes(ev)
    for volume in found:
        if as_json:
            click.echo(json.dumps({"table": table, **volume.to_json()}, ensure_ascii=False))
        else:
            click.echo(f"{volume.index:>3}  {volume.offset:>14}  {volume.length:>14}  {volume.role:<11}  "
                       f"{volume.description}")


@fs.command(name="ls")
@click.argument("evidence")
@click.option(*FORMAT_DECLS, **FORMAT_KW)
@click.option("--json", "as_json", is_flag=True, help="JSON lines (the same as --output jsonl).")
@click.option("--output", "output", type=click.Choice(["text", "jsonl", "dfxml"]), default="text",
              show_default=True, help="text (like fls -r -p), JSON lines, or DFXML (like fiwalk).")
@click.option("--hash", "hashes", metavar="ALG[,ALG]", callback=_algorithms,
              help=f"Hash the content of every readable file, deleted ones too ({', '.join(ALGORITHMS)}).")
@click.option("--deleted", is_flag=True, help="Only deleted entries.")
@click.option("--no-file-type", is_flag=True, help="Skip content-based file type detection (libmagic).")
def ls(evidence: str, fmt: str, as_json: bool, output: str, hashes: tuple[str, ...], deleted: bool,
       no_file_type: bool) -> None:
    """List every entry of every file system, allocated and deleted, with times in UTC.

    Exit status 4 means the listing is incomplete (corrupt structures, directory cycles, a parser crash);
    the problems are printed on stderr.

    \b
    Example:
      dftk fs ls disk.E01 --json --hash sha256
      dftk fs ls disk.E01 --deleted
      dftk fs ls disk.E01 --output dfxml > disk.dfxml
    """
    output = "jsonl" if as_json else output
    problems: list[Problem] = []
    with open_evidence(evidence, fmt) as ev:
        rows = _rows(list_evidence(ev, ListOptions(hashes, deleted, not no_file_type)), problems)
        if output == "dfxml":
            for part in dfxml.render(rows, ev.path, ev.size, hashes):
                click.echo(part, nl=False)
        else:
            for row in rows:
                click.echo(json.dumps(row, ensure_ascii=False) if output == "jsonl" else _text_line(row, hashes))
    report_problems(problems)


def _rows(items: Iterator[dict[str, Any] | Problem], problems: list[Problem]) -> Iterator[dict[str, Any]]:
    for item in items:
        if isinstance(item, Problem):
            problems.append(item)
        else:
            yield item


def _text_line(row: dict[str, Any], hashes: tuple[str, ...]) -> str:
    inode = f"{row['inode']}-{row['attribute']}" if row["attribute"] else str(row["inode"])
    meta = _LETTER.get(row["meta_type"] or "unknown", "-")
    mark = "* " if row["deleted"] else ""
    realloc = "(realloc)" if row["reallocated"] else ""
    extra = "".join(f"\t{row.get(a)}" for a in hashes)
    where = f"[{row['volume_index']}] " if row["volume_offset"] else ""
    return f"{where}{_LETTER.get(row['type'], '-')}/{meta} {mark}{inode}{realloc}:\t{row['path'].lstrip('/')}{extra}"
