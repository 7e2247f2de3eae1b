"""``dftk acquire``: image a device or file to raw, split raw or E01, hashing while imaging."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from dftk.acquire.acquisition import acquire as run_acquisition
from dftk.acquire.acquisition import log_path
from dftk.acquire.options import Options
from dftk.acquire.sources import FileSource
from dftk.case import custody
from dftk.case.store import CaseStore
from dftk.cli.commands.hash import _algorithms, _size_option
from dftk.ewf.sections import CaseFields


@click.command()
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("dest", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["raw", "e01"]), default="raw", show_default=True,
              help="Raw (dd) image, or E01 (EnCase 6, readable by libewf, EnCase, FTK, TSK).")
@click.option("--split", metavar="SIZE", callback=_size_option,
              help="Segment size, e.g. 2G: raw writes DEST.001, DEST.002...; E01 writes .E01, .E02...")
@click.option("-a", "--algorithms", default="md5,sha256", show_default=True, callback=_algorithms,
              help="Hashes computed while imaging (E01 always adds md5 and sha1, which it stores).")
@click.option("--compression", type=click.Choice(["none", "fast", "best"]), default="fast", show_default=True,
              help="E01 chunk compression.")
@click.option("--case-number", default="", help="E01 case number.")
@click.option("--evidence-number", default="", help="E01 evidence number.")
@click.option("--examiner", default=None, help="Examiner name (default: $DFTK_EXAMINER or the login name).")
@click.option("--description", default="", help="E01 description.")
@click.option("--notes", default="", help="E01 notes.")
@click.option("--retries", type=click.IntRange(0, 100), default=2, show_default=True,
              help="Re-reads of a failing block before it is read sector by sector.")
@click.option("--verify", is_flag=True, help="Re-read the written image and compare its hashes.")
@click.option("--resume", is_flag=True,
              help="Continue an interrupted acquisition (raw, split raw, E01, split E01) with the same options.")
@click.option("--case", "case_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Record the acquisition as an event in this case's custody log.")
def acquire(source: Path, dest: Path, fmt: str, split: int | None, algorithms: tuple[str, ...], compression: str,
            case_number: str, evidence_number: str, examiner: str | None, description: str, notes: str,
            retries: int, verify: bool, resume: bool, case_dir: Path | None) -> None:
    """Image SOURCE (block device or file) to DEST, hashing while imaging.

    Unreadable sectors are retried, then read one by one; only those are zero-filled, listed in the
    acquisition log (DEST.acquire.json and .txt) and the result is "qualified". Exit 3 when --verify
    finds a difference.

    \b
    Example:
      dftk acquire /dev/sdb evidence.raw --split 2G -a md5,sha256 --verify
      dftk acquire /dev/sdb case1 --format e01 --case-number 2026-001 --examiner "A. Smith"
    """
    who = custody.examiner_name(examiner)
    fields = CaseFields(case_number, evidence_number, who, description, notes)
    options = Options(fmt=fmt, split=split, algorithms=algorithms, compression=compression, fields=fields,
                      retries=retries, verify=verify, resume=resume, command_line=custody.command_line())
    src = FileSource(source)
    if src.is_device:
        ident = src.identity()
        options.fields = CaseFields(case_number, evidence_number, who, description, notes,
                                    ident.get("model", ""), ident.get("serial", ""))
    try:
        log = _with_progress(src, dest, options)
    except KeyboardInterrupt:
        click.echo(f"dftk: acquisition interrupted; continue it with --resume ({log_path(dest)})", err=True)
        raise
    finally:
        src.close()
    _report(log)
    if case_dir is not None:
        _record_custody(case_dir, who, log)


def _with_progress(src: FileSource, dest: Path, options: Options) -> dict[str, Any]:
    if not sys.stderr.isatty():  # tqdm is slow to import: only for a terminal
        return run_acquisition(src, dest, options, None)
    from tqdm import tqdm

    bar = tqdm(total=src.size, desc="acquire", unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr,
               dynamic_ncols=True, leave=False)

    def observe(nbytes: int, errors: int) -> None:
        bar.update(nbytes)
        if errors:
            bar.set_postfix_str(f"{errors} bad ranges", refresh=False)

    try:
        return run_acquisition(src, dest, options, observe)
    finally:
        bar.close()


def _report(log: dict[str, Any]) -> None:
    click.echo(f"status       {log['status']}")
    for name in log["files"]:
        click.echo(f"wrote        {name}")
    for algorithm, value in log["hashes"].items():
        click.echo(f"{algorithm:<12} {value}")
    bad = sum(b["count"] for b in log["bad_sectors"])
    if bad:
        click.echo(f"unreadable   {bad} sectors in {len(log['bad_sectors'])} ranges (zero-filled; see the log)")
    if log["verification"]:
        click.echo(f"verify       {log['verification']['outcome']}")
    click.echo(f"log          {log_path(Path(log['destination']))}")


def _record_custody(case_dir: Path, examiner: str, log: dict[str, Any]) -> None:
    with CaseStore.open(case_dir) as store:
        custody.append(store, "evidence.acquire", examiner, log["hashes"].get("sha256"),
                       source=log["source"], files=log["files"], status=log["status"], hashes=log["hashes"],
                       bad_sectors=log["bad_sectors"], verification=log["verification"])
