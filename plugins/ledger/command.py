"""``dftk ledger``: the ledgers in files, folders or disk images, tested, outside a case.

It runs the ledger plugin on dftk's engine (``dftk.api.screen``) exactly as ``dftk run`` does, with a sink
that prints one record per file holding a ledger (or a problem), in walk order, and at the end the flow graph
of every ledger examined (``graph.py``). With ``--case`` the access to the evidence is recorded.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import click

from dftk.api import (
    CORE,
    INCOMPLETE,
    FileOutcome,
    Finding,
    LoadedPlugin,
    PluginState,
    Problem,
    Settings,
    Shown,
    Sink,
    case_option,
    evidence_items,
    is_hint,
    json_text,
    record_access,
    scheduler_option,
    screen,
    terminal,
)
from dftk_plugins.ledger.config import ledger_options
from dftk_plugins.ledger.graph import flow_graph
from dftk_plugins.ledger.plugin import LedgerPlugin

_HELP = """Find the ledgers in PATH... (files, folders, or disk images) and test them: Benford's law, exact and
near duplicates, round amounts, amounts just below reporting thresholds and split payments, postings on
weekends, Chinese public holidays and at night, gaps and repeats in voucher and invoice numbers, and a
summary per counterparty. CSV/TSV (UTF-8, GBK, GB18030), XLSX, XLS, ODS and SQLite tables are read;
inside a disk image, deleted files too.

One JSON object per file that holds a ledger (path, deleted, findings, problems), then the flow graph
of money between the accounts of every ledger examined. Nothing is recorded (use `dftk run --plugin
ledger` for a case); with --case the access to the evidence is recorded in the case's custody log. What
each test can and cannot show: docs/ledger.md.

\b
Example:
  dftk ledger statement.csv books.xlsx
  dftk ledger ./seized --json > ledgers.jsonl
  dftk ledger disk.E01 --ledger-thresholds cash=50000 --json
"""


@click.command("ledger", help=_HELP, short_help="Ledgers in files, folders or images, and forensic-accounting tests.")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option("--workers", type=click.IntRange(1, 256), default=os.cpu_count() or 1, show_default="CPU count",
              help="Processes reading files; the output and its order are the same for any N.")
@case_option
@scheduler_option
def ledger(paths: tuple[str, ...], as_json: bool, workers: int, case_dir: str | None, scheduler: str | None,
           **opts: Any) -> None:
    emit: Callable[[dict[str, Any]], None] = (
        (lambda record: click.echo(json_text(record, sort_keys=True))) if as_json else (
            lambda record: click.echo(_text(record))))
    sink = _Records(emit)
    steps = [LoadedPlugin(LedgerPlugin, f"dftk: {LedgerPlugin.__module__}:{LedgerPlugin.__name__}")]
    for given, evidence in evidence_items(paths):
        with evidence:
            if case_dir:
                record_access(case_dir, evidence, command="ledger")
            sink.shown = Shown(evidence, given)
            screen(evidence, steps, {"ledger": opts}, sink, Settings(workers, progress=False, scheduler=scheduler))
    emit(flow_graph(sink.summaries))
    if sink.incomplete:
        click.echo(f"dftk: {sink.incomplete} file(s) with problems: the output is incomplete", err=True)
        sys.exit(INCOMPLETE)


ledger.params.extend(ledger_options())


class _Records(Sink):
    """Each file's ledger findings and problems as one record, in walk order; the counterparty summaries kept
    for the flow graph."""

    def __init__(self, emit: Callable[[dict[str, Any]], None]) -> None:
        self.emit = emit
        self.shown: Callable[[str], str] = str
        self.summaries: list[tuple[str, dict[str, Any]]] = []
        self.incomplete = 0

    def results(self, results: list[FileOutcome | Problem], states: dict[str, PluginState]) -> None:
        for result in results:
            if isinstance(result, Problem):
                self._record(self.shown(result.subject), None, [], [result.message])
                continue
            findings, problems = [], []
            for name, records in result.records:
                for item in records:
                    if isinstance(item, Finding):
                        findings.append(item)
                    else:
                        problems.append(item.message if name == CORE else f"{name}: {item.message}")
            if findings or problems:
                self._record(self.shown(result.file.path), bool(result.file.deleted), findings, problems)

    def _record(self, path: str, deleted: bool | None, findings: list[Finding], problems: list[str]) -> None:
        self.incomplete += bool(problems)
        self.summaries += [(path, dict(f.data)) for f in findings if f.kind == "ledger/counterparty"]
        shown = [{"kind": f.kind, **{k: v for k, v in f.data.items() if not is_hint(k)}} for f in findings]
        self.emit({"path": path, "deleted": deleted, "findings": shown, "problems": problems})


def _text(record: dict[str, Any]) -> str:
    if record.get("kind") == "ledger/flow-graph":
        lines = [f"flow graph: {len(record['nodes'])} accounts, {len(record['edges'])} flows, "
                 f"{len(record['cycles'])} cycles"]
        lines += [f"  {terminal(e['source'])} -> {terminal(e['target'])}: payer {e['payer_total']}, "
                  f"payee {e['payee_total']}{' (both ledgers)' if e['corroborated'] else ''}" for e in record["edges"]]
        lines += [f"  cycle: {' -> '.join(terminal(n) for n in c['accounts'])}" for c in record["cycles"]]
        return "\n".join(lines)
    lines = [terminal(record["path"]) + ("  (deleted)" if record["deleted"] else "")]
    for finding in record["findings"]:
        rest = {k: v for k, v in finding.items() if k not in ("kind", "table", "value")}
        lines.append(f"  {finding['kind']} [{terminal(finding['table'])}] {json_text(rest)}")
    lines += [f"  problem: {terminal(p)}" for p in record["problems"]]
    return "\n".join(lines)
