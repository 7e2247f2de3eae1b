"""``dftk run``: the single-pass pipeline. Its options include every installed plugin's own options."""

from __future__ import annotations

import sys
from typing import Any

import click

from dftk.case import custody
from dftk.case.run import Pipeline, RunSummary
from dftk.case.store import CaseStore
from dftk.cli.options import evidence_format_param, scheduler_param
from dftk.engine.engine import Settings
from dftk.engine.registry import LoadedPlugin, installed, select
from dftk.errors import INCOMPLETE, SignatureError
from dftk.fs.volumes import open_image
from dftk.text import json_text, terminal

_HELP = """Run plugins over EVIDENCE in one pass and record the results in the case folder.

Opens the evidence read-only and seals it (hashes every source file) before and after. Evidence-scope
plugins see the whole evidence; the files are walked once and each file is read once for all
file-scope plugins. Interrupted runs resume when the same command is run again.

\b
Example:
  dftk run disk.E01 --case cases/2026-001
  dftk run ./seized-files --case cases/2026-001 --plugin hashing --workers 4
  dftk run /lab/evidence/disk.E01 --case cases/2026-001 --scheduler tcp://dask-scheduler:8786
"""


def _plugin_options(plugins: dict[str, LoadedPlugin]) -> list[click.Parameter]:
    return [option for plugin in plugins.values() for option in plugin.cls.options]


def run() -> click.Command:
    """Builds the command once the installed plugins (and so their options) are known."""
    plugins = installed()
    params: list[click.Parameter] = [
        click.Argument(["evidence"]),
        click.Option(["--case", "case_dir"], required=True, metavar="DIR",
                     help="Case folder (created if missing) holding the case store."),
        click.Option(["--plugin", "plugin_names"], multiple=True, metavar="NAME",
                     type=click.Choice(sorted(plugins)) if plugins else None,
                     help="Run only this plugin (repeatable). Default: every installed plugin."),
        click.Option(["--workers"], type=click.IntRange(1, 256), default=1, show_default=True,
                     help="Worker processes for file-scope work; results are identical for any N."),
        scheduler_param(),
        click.Option(["--examiner"], metavar="NAME",
                     help="Examiner recorded in the custody log (default: $DFTK_EXAMINER or login name)."),
        click.Option(["--progress/--no-progress"], default=None,
                     help="Progress bar on stderr (default: when stderr is a terminal)."),
        click.Option(["--json", "as_json"], is_flag=True, help="Print the run summary as one JSON object."),
        click.Option(["--seal-sm3"], is_flag=True,
                     help="Also record each evidence file's SM3 in the seals (the integrity check value Chinese "
                          "rules name; about five times SHA-256's work on each of the two seals)."),
        *_plugin_options(plugins),
    ]
    params.insert(2, evidence_format_param())
    return click.Command("run", callback=_run, params=params, help=_HELP, short_help="Run plugins over evidence.")


def _run(evidence: str, case_dir: str, plugin_names: tuple[str, ...], workers: int, scheduler: str | None, fmt: str,
         examiner: str | None, progress: bool | None, as_json: bool, seal_sm3: bool, **plugin_opts: Any) -> None:
    chosen = select(plugin_names)
    options = {p.name: {n: plugin_opts[n] for n in p.cls.option_names()} for p in chosen}
    who = custody.examiner_name(examiner)
    with open_image(evidence, fmt) as ev, CaseStore.open(case_dir) as store:
        summary = Pipeline(ev, store, chosen, options, Settings(workers, progress, scheduler), who, seal_sm3).run()
    _print(summary, case_dir, as_json)
    _exit_status(summary, case_dir)


def _exit_status(summary: RunSummary, case_dir: str) -> None:
    """A failed check (a hash stored in the image that the media no longer has) is exit 3; problems or a failed
    plugin make the output incomplete (exit 4); both said in one line on stderr."""
    if summary.failed_checks:
        first = summary.failed_checks[0]
        raise SignatureError(f"{len(summary.failed_checks)} check(s) failed, first {first['kind']} about "
                             f"{terminal(first['subject'])}: {json_text(first['data'])}")
    failed = [p["plugin"] for p in summary.plugins if p["outcome"].startswith("failed")]
    if summary.problems or failed:
        said = f"{summary.problems} problem(s)" + (f", plugin(s) failed: {', '.join(failed)}" if failed else "")
        click.echo(f"dftk: {said}: the output is incomplete (see `dftk case problems {case_dir}`)", err=True)
        sys.exit(INCOMPLETE)


def _print(summary: RunSummary, case_dir: str, as_json: bool) -> None:
    plugins = [{k: p[k] for k in ("plugin", "version", "outcome", "findings", "problems", "seconds")}
               for p in summary.plugins]
    data: dict[str, Any] = {
        "run": summary.run_id,
        "status": summary.status,
        "case": case_dir,
        "evidence": summary.evidence,
        "seal_before": summary.seal_before.sha256,
        "seal_after": summary.seal_after.sha256 if summary.seal_after else None,
        "files": summary.files,
        "plugins": plugins,
        "seal_notes": summary.notes,
    }
    if as_json:
        click.echo(json_text(data, sort_keys=True))
        return
    ev = summary.evidence
    click.echo(f"evidence  {terminal(ev['path'])} ({ev['format']}, {ev['size']} bytes)")
    click.echo(f"sealed    sha256 {data['seal_before']} before and after: unchanged")
    for note in summary.notes:
        click.echo(f"note      {terminal(note)} (since the last run of this case)")
    click.echo(f"files     {summary.files} walked")
    for p in plugins:
        click.echo(f"plugin    {p['plugin']} {p['version']}: {terminal(p['outcome'])} "
                   f"({p['findings']} new findings, {p['problems']} new problems, {p['seconds'] or 0:.2f} s)")
    click.echo(f"case      {case_dir}: see `dftk case findings {case_dir}` and `dftk case log {case_dir}`")
