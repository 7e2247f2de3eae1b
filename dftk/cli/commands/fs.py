"""``dftk fs``: volumes and file systems inside evidence: list, extract, unallocated space."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import click

from dftk.case.access import record_access, record_export
from dftk.cli.options import case_option, evidence_format_option
from dftk.cli.output import report_problems, separate
from dftk.fs import dfxml
from dftk.fs.filesystem import TYPE_LETTERS
from dftk.fs.listing import ListOptions, list_evidence
from dftk.fs.volumes import open_image, per_volume
from dftk.fs.volumes import volumes as list_volumes
from dftk.hashing.algorithms import ALGORITHMS, parse_algorithms
from dftk.records import Problem
from dftk.text import json_text, terminal


@click.group()
def fs() -> None:
    """Volumes and file systems inside evidence (through The Sleuth Kit)."""


def _algorithms(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[str, ...]:
    try:
        return parse_algorithms(value) if value else ()
    except ValueError as e:
        raise click.BadParameter(str(e)) from e


@fs.command()
@click.argument("evidence")
@evidence_format_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per volume.")
def volumes(evidence: str, fmt: str, as_json: bool) -> None:
    """List the partition table: partitions, unallocated gaps and the table's own structures (like mmls).

    \b
    Example:
      dftk fs volumes disk.E01
    """
    with open_image(evidence, fmt) as ev:
        table, found = list_volumes(ev)
    for volume in found:
        if as_json:
            click.echo(json_text({"table": table, **volume.to_json()}))
        else:
            click.echo(f"{volume.index:>3}  {volume.offset:>14}  {volume.length:>14}  {volume.role:<11}  "
                       f"{terminal(volume.description)}")


@fs.command(name="ls")
@click.argument("evidence")
@evidence_format_option
@click.option("--json", "as_json", is_flag=True, help="JSON lines (the same as --format jsonl).")
@click.option("--format", "output", type=click.Choice(["text", "jsonl", "dfxml"]), default="text",
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
      dftk fs ls disk.E01 --format dfxml > disk.dfxml
    """
    output = "jsonl" if as_json else output
    problems: list[Problem] = []
    with open_image(evidence, fmt) as ev:
        rows = separate(list_evidence(ev, ListOptions(hashes, deleted, not no_file_type)), problems)
        if output == "dfxml":
            for part in dfxml.render(rows, ev.path, ev.size, hashes):
                click.echo(part, nl=False)
        else:
            for row in rows:
                click.echo(json_text(row) if output == "jsonl" else _text_line(row, hashes))
    report_problems(problems)


def _text_line(row: dict[str, Any], hashes: tuple[str, ...]) -> str:
    inode = f"{row['inode']}-{row['attribute']}" if row["attribute"] else str(row["inode"])
    meta = TYPE_LETTERS.get(row["meta_type"] or "unknown", "-")
    mark = "* " if row["deleted"] else ""
    realloc = "(realloc)" if row["reallocated"] else ""
    extra = "".join(f"\t{row.get(a)}" for a in hashes)
    where = f"[{row['volume_index']}] " if row["volume_offset"] else ""
    kind = TYPE_LETTERS.get(row["type"], "-")
    return f"{where}{kind}/{meta} {mark}{inode}{realloc}:\t{terminal(row['path'].lstrip('/'))}{extra}"



@fs.command()
@click.argument("evidence")
@click.argument("outdir", type=click.Path(file_okay=False))
@evidence_format_option
@click.option("--deleted", is_flag=True, help="Also extract deleted files whose content TSK can read.")
@click.option("--path", "pattern", metavar="GLOB", help="Only paths matching GLOB, e.g. '/docs/*.pdf' or '*/证据/*'.")
@case_option
def extract(evidence: str, outdir: str, fmt: str, deleted: bool, pattern: str | None, case_dir: str | None) -> None:
    """Extract files into OUTDIR safely, with a manifest (OUTDIR/manifest.jsonl).

    Names from the evidence never escape OUTDIR: '..', '/', control characters, NUL, reserved and
    over-long names are made safe (percent-encoded), and a name already taken gets a ~N suffix instead
    of overwriting. The manifest maps each original path to the extracted file, its size and sha256.
    On a partitioned disk, paths start with /p<N>, N being the partition's slot (see `dftk fs volumes`).
    With --case, the access and the manifest's digest are recorded in that case's custody log.

    \b
    Example:
      dftk fs extract disk.E01 out/ --deleted --path '*/证据/*' --case cases/2026-001
    """
    from dftk.fs.extract import ExtractOptions, extract_volume

    problems: list[Problem] = []
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    count = 0
    with open_image(evidence, fmt) as ev:
        if case_dir:
            record_access(case_dir, ev, command="fs extract")
        with (out / "manifest.jsonl").open("a", encoding="utf-8") as manifest:
            partitioned = list_volumes(ev)[0] is not None
            options = ExtractOptions(str(out.resolve()), deleted, pattern, partitioned)
            for row in separate(per_volume(ev, extract_volume, options), problems):
                manifest.write(json_text(row) + "\n")
                count += 1
        if case_dir:
            record_export(case_dir, ev, out, out / "manifest.jsonl", files=count, problems=len(problems))
    click.echo(f"{count} files extracted to {out}; manifest: {out / 'manifest.jsonl'}")
    report_problems(problems)


@fs.command()
@click.argument("evidence")
@click.argument("outdir", type=click.Path(file_okay=False))
@evidence_format_option
@case_option
def unalloc(evidence: str, outdir: str, fmt: str, case_dir: str | None) -> None:
    """Write each volume's unallocated space, with a map back to image offsets (for carving).

    For every file system: OUTDIR/vol<N>-<fs>.unalloc holds its unallocated blocks in order (as TSK's
    blkls writes them); space outside any partition goes to OUTDIR/unpartitioned-<N>.bin. OUTDIR/map.jsonl
    has one line per run: file, file_offset, image_offset, length. With --case, the access and the digests
    of the map and of every file written are recorded in that case's custody log.

    \b
    Example:
      dftk fs unalloc disk.E01 unalloc/
    """
    from dftk.fs.unallocated import write_unallocated

    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    problems: list[Problem] = []
    total = 0
    with open_image(evidence, fmt) as ev:
        if case_dir:
            record_access(case_dir, ev, command="fs unalloc")
        with (out / "map.jsonl").open("w", encoding="utf-8") as runs:
            for row in separate(write_unallocated(ev, out), problems):
                runs.write(json_text(row) + "\n")
                total += int(row["length"])
        if case_dir:
            written = {p.name: _sha256(p) for p in sorted(out.iterdir()) if p.name != "map.jsonl"}
            record_export(case_dir, ev, out, out / "map.jsonl", files=written, problems=len(problems))
    click.echo(f"{total} bytes of unallocated space written to {out}; map: {out / 'map.jsonl'}")
    report_problems(problems)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(4 << 20):
            digest.update(chunk)
    return digest.hexdigest()
