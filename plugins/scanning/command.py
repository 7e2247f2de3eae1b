"""``dftk scan``: YARA rules (and indicators) over evidence, matches printed as they are found.

A command of the scanning discipline, registered through the ``dftk.commands`` entry-point group as any
plugin package's command would be.

Without ``--case`` it is a screening scan: the same plugins and work units as ``dftk run`` (one media pass,
one file walk, each file read once for every plugin), results printed and nothing recorded. With
``--case`` it is a ``dftk run`` of the scanning plugins: sealed, custody-logged and resumable.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import click

from dftk.api import (
    INCOMPLETE,
    DftkError,
    EvidenceFile,
    Finding,
    LoadedPlugin,
    Problem,
    Record,
    Screen,
    Settings,
    evidence_format_option,
    json_text,
    open_image,
    record_run,
    scheduler_option,
    screen,
    terminal,
)

_HELP = """Scan EVIDENCE with YARA rules, and with --indicators for indicators, printing each match.

Every file of every file system is scanned (with its path, inode and deleted flag), and the raw media
(unallocated space included) with image offsets, in one read. Rules come from files or folders and are
compiled once; a rule file that does not compile, or uses `include` without --allow-include, is left out
and reported as a problem. Problems go to stderr and make the exit status 4 (output incomplete).
Without --case nothing is recorded; with --case the scan is recorded like `dftk run` (sealed, resumable).

\b
Example:
  dftk scan disk.E01 --rules rules/ --json
  dftk scan ./seized-files --rules malware.yar --rules office.yar --indicators --case cases/2026-001
  dftk carve disk.E01 carved/ && dftk scan disk.E01 --rules rules/ --carved carved/ --json
"""


def _options(rules: tuple[str, ...], allow_include: bool, timeout: int, max_size: int, max_strings: int,
             raw: bool) -> dict[str, dict[str, Any]]:
    return {"yara": {"yara_rules": tuple(str(Path(r).resolve()) for r in rules),
                     "yara_allow_include": allow_include, "yara_timeout": timeout, "yara_max_size": max_size,
                     "yara_max_strings": max_strings, "yara_raw": raw},
            "indicators": {"indicators_kinds": None}}


@click.command("scan", help=_HELP, short_help="Scan evidence with YARA rules and for indicators.")
@click.argument("evidence")
@evidence_format_option
@click.option("--rules", multiple=True, required=True, metavar="PATH", type=click.Path(exists=True),
              help="YARA rule file, or folder of *.yar/*.yara files (repeatable).")
@click.option("--allow-include", is_flag=True, help="Allow `include` in rule files (refused by default).")
@click.option("--timeout", type=click.IntRange(1), default=60, show_default=True,
              help="Seconds YARA may spend on one file; then a problem.")
@click.option("--max-size", type=click.IntRange(0), default=1 << 30, show_default=True,
              help="Larger files are not scanned (a problem says so); 0: no limit.")
@click.option("--max-strings", type=click.IntRange(0), default=100, show_default=True,
              help="String matches reported per rule and file.")
@click.option("--raw/--no-raw", default=True, show_default=True, help="Also scan the raw media with image offsets.")
@click.option("--indicators", is_flag=True, help="Also look for indicators (e-mail, URL, phone, card, ID, ...).")
@click.option("--case", "case_dir", metavar="DIR", help="Record the scan in this case folder, as `dftk run` does.")
@click.option("--carved", "carved_dir", metavar="DIR", type=click.Path(exists=True, file_okay=False),
              help="Also scan the files `dftk carve` recovered into DIR; matches get image offsets (manifest).")
@click.option("--workers", type=click.IntRange(1, 256), default=2, show_default=True,
              help="Parallel file scans (threads for a folder of files, processes for an image).")
@scheduler_option
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr (default: on a terminal).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per match (and per problem on stderr).")
def scan(evidence: str, fmt: str, rules: tuple[str, ...], allow_include: bool, timeout: int, max_size: int,
         max_strings: int, raw: bool, indicators: bool, case_dir: str | None, carved_dir: str | None, workers: int,
         scheduler: str | None,
         progress: bool | None, as_json: bool) -> None:
    # This command belongs to the scanning plugins' package, so it uses them directly instead of loading
    # every installed plugin through discovery (a fifth of a second per scan).
    from dftk_plugins.scanning.yara_rules import YaraPlugin, compile_rules

    options = _options(rules, allow_include, timeout, max_size, max_strings, raw)
    compiled = compile_rules(options["yara"]["yara_rules"], allow_include)
    if compiled.rules is None:
        why = "; ".join(f"{p.subject}: {p.message}" for p in compiled.problems) or "no rule files found"
        raise DftkError(f"no usable YARA rules ({why})")
    chosen = [LoadedPlugin(YaraPlugin, "dftk: dftk_plugins.scanning.yara_rules:YaraPlugin")]
    if indicators:
        from dftk_plugins.scanning.indicators import IndicatorsPlugin

        chosen.append(LoadedPlugin(IndicatorsPlugin, "dftk: dftk_plugins.scanning.indicators:IndicatorsPlugin"))
    printer = _Printer(as_json)
    settings = Settings(workers, progress, scheduler)
    options = {p.name: options[p.name] for p in chosen}
    with open_image(evidence, fmt) as ev:
        if case_dir:
            printer.take(record_run(ev, case_dir, chosen, options, settings))
        else:
            for state in screen(ev, chosen, options, Screen(printer.take), settings):
                if state.outcome.startswith("failed"):
                    printer.take([Problem("evidence", f"plugin {state.name} {state.outcome}")])
    if carved_dir:
        printer.take(scan_carved(Path(carved_dir), options["yara"]))
    printer.finish()


def scan_carved(folder: Path, options: dict[str, Any]) -> Iterator[Record]:
    """YARA over the files a carve recovered; each match says which carved file and where in the image."""
    from dftk_plugins.scanning.yara_rules import YaraPlugin

    manifest = folder / "manifest.jsonl"
    if not manifest.is_file():
        yield Problem(str(folder), "no manifest.jsonl here: not the output of `dftk carve`")
        return
    plugin = YaraPlugin()
    for line in manifest.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        path = folder / entry["path"]
        try:
            data = path.read_bytes()
        except OSError as e:
            yield Problem(f"carved:{entry['path']}", f"cannot read the carved file: {e.strerror}")
            continue
        carved = EvidenceFile(f"carved:{entry['path']}", len(data), locator=str(path))
        for record in plugin.analyze(carved, data, **options):
            if isinstance(record, Finding):
                record = Finding(record.kind, record.subject, _placed(record.data, entry))
            yield record


def _placed(data: Any, entry: dict[str, Any]) -> dict[str, Any]:
    """Adds the carved file's identity and each string's image offset (through its fragments)."""
    strings = [{**s, "image_offset": _image_offset(s["offset"], entry["fragments"])} for s in data["strings"]]
    return {**data, "strings": strings, "scope": "carved", "carved": {
        "path": entry["path"], "type": entry["type"], "offset": entry["offset"], "sha256": entry["sha256"]}}


def _image_offset(offset: int, fragments: list[list[int]]) -> int | None:
    for start, length in fragments:
        if offset < length:
            return start + offset
        offset -= length
    return None


class _Printer:
    """Prints findings as they come; problems to stderr; a histogram of file indicators at the end."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.problems: set[tuple[str, str]] = set()
        self.histogram: dict[str, Counter[str]] = {}

    def take(self, records: Iterable[Record]) -> None:
        for record in records:
            if isinstance(record, Problem):
                self.problem(record)
            else:
                self.finding(record)

    def finding(self, f: Finding) -> None:
        if f.kind.startswith("indicator/") and f.data.get("scope") == "file":
            self.histogram.setdefault(f.data["kind"], Counter())[f.data["value"]] += 1
        if self.as_json:
            row = {"indicator" if k == "kind" else k: v for k, v in f.data.items()}  # an indicator's own kind
            click.echo(json_text({**row, "kind": f.kind, "subject": f.subject}, sort_keys=True))
        elif f.kind == "yara/match":
            where = f" @0x{f.data['offset']:x}" + (" (unallocated)" if f.data.get("unallocated") else "") \
                if f.data.get("scope") == "raw" else (" (deleted)" if f.data.get("deleted") else "")
            click.echo(f"{f.data['namespace']}:{f.data['rule']} {terminal(f.subject)}{where}")
        elif f.kind == "indicator/histogram":
            top = ", ".join(f"{v} ({n})" for v, n in f.data["values"][:10])
            click.echo(f"histogram {f.data['kind']} (raw media): {terminal(top)}")
        else:
            click.echo(terminal(f"{f.data['kind']} {f.data['value']} {f.subject} @{f.data['offset']} "
                                f"({f.data['encoding']})"))

    def problem(self, p: Problem) -> None:
        if (p.subject, p.message) in self.problems:
            return
        self.problems.add((p.subject, p.message))
        if self.as_json:
            click.echo(json_text({"problem": p.message, "subject": p.subject}), err=True)
        else:
            click.echo(f"dftk: problem: {terminal(p.subject)}: {terminal(p.message)}", err=True)

    def finish(self) -> None:
        for kind, counts in sorted(self.histogram.items()):
            values = [[v, n] for v, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]
            self.finding(Finding("indicator/histogram", "files", {"kind": kind, "values": values, "scope": "files"}))
        if self.problems:
            click.echo(f"dftk: {len(self.problems)} problem(s): the scan is incomplete", err=True)
            sys.exit(INCOMPLETE)
