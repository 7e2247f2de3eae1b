"""``dftk case``: read a case folder: its custody log, findings and problems."""

from __future__ import annotations

import json

import click

from dftk.case import custody, integrity
from dftk.case.store import CaseStore
from dftk.text import json_text, terminal


@click.group()
def case() -> None:
    """Read a case folder: custody log, findings, problems."""


@case.command()
@click.argument("case_dir", metavar="DIR")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per custody event (JSON lines).")
def log(case_dir: str, as_json: bool) -> None:
    """Print the custody log and check it: the hash chain, and every run's findings, problems, run, plugin,
    seal and evidence rows against the digests its closing event recorded (exit 3 naming the first event or
    run that does not hold). An event dated before the one it follows is noted on stderr.

    \b
    Example:
      dftk case log cases/2026-001
    """
    with CaseStore.open(case_dir, create=False) as store:
        for event in custody.events(store):
            if as_json:
                click.echo(json_text(event, sort_keys=True))
            else:
                click.echo(f"{event['seq']:>5}  {event['time']}  {event['action']:<16} {terminal(event['examiner'])}  "
                           f"{terminal(event['command_line'])}")
        check = integrity.check(store)
    for note in check.notes:
        click.echo(f"dftk: note: {note}", err=True)
    click.echo(f"custody chain intact: {check.events} events, head {check.head}; the findings, problems and rows "
               f"of {check.runs} run(s) as their closing events recorded", err=as_json)


@case.command()
@click.argument("case_dir", metavar="DIR")
@click.option("--kind", help="Only findings of this kind or namespace (e.g. hash or hash/file).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per finding (JSON lines).")
def findings(case_dir: str, kind: str | None, as_json: bool) -> None:
    """Print the findings recorded in a case, in a stable order.

    \b
    Example:
      dftk case findings cases/2026-001 --kind hash/evidence
    """
    with CaseStore.open(case_dir, create=False) as store:
        for row in store.findings(kind):
            row["data"] = json.loads(row["data"])
            if as_json:
                click.echo(json_text(row, sort_keys=True))
            else:
                click.echo(f"{row['kind']}\t{terminal(row['subject'])}\t{json_text(row['data'])}")


@case.command()
@click.argument("case_dir", metavar="DIR")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per problem (JSON lines).")
def problems(case_dir: str, as_json: bool) -> None:
    """Print the problems recorded in a case: items that could not be fully processed.

    \b
    Example:
      dftk case problems cases/2026-001
    """
    with CaseStore.open(case_dir, create=False) as store:
        for row in store.problems():
            if as_json:
                click.echo(json_text(row, sort_keys=True))
            else:
                click.echo(f"{row['plugin']}\t{terminal(row['subject'])}\t{terminal(row['message'])}")
