"""``dftk carve``: files recovered from raw bytes by their structure, written with a manifest.

A command of the carving discipline, registered through the ``dftk.commands`` entry-point group as any
plugin package's command would be.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from dftk.commands.evidence import FORMAT_DECLS, FORMAT_KW
from dftk.errors import INCOMPLETE, DftkError
from dftk.evidence import open_evidence
from dftk.plugin import Problem

_HELP = """Carve files from EVIDENCE into OUTDIR by their structure, without file-system metadata.

Candidate headers are found in one read of the media and each is validated by its format's structure
(JPEG entropy-coded data, PNG/ZIP/Ogg/FLAC CRCs, GIF LZW, PDF xref, OLE2 FAT, SQLite pages, ISO-BMFF
boxes, ...), which also finds the real end of the file. A file broken in two fragments is reassembled
when the whole file then validates (every type but PE, MP3 and ADPCM WAV); the manifest lists the
fragments. Types: jpeg, png, gif, bmp, tiff, pdf, zip (docx/xlsx/pptx/odf/jar), ole2 (doc/xls/ppt),
sqlite, riff (wav/avi/webp), pe, mp3, ogg, flac, isobmff (mp4/m4a/mov/heic/avif). Files go to
OUTDIR/<type>/<image offset>.<ext>; OUTDIR/manifest.jsonl has one line per file (path, type, offset,
fragments, size, sha256, validation, confidence, embedded_in). Files found inside other files (a
thumbnail in a JPEG) name their container in embedded_in. Problems go to stderr and make the exit status
4 (output incomplete).

\b
Example:
  dftk carve disk.dd carved/
  dftk carve disk.E01 carved/ --types jpeg,png,pdf --scope unallocated --workers 2
"""


@click.command("carve", help=_HELP, short_help="Carve files from raw media by their structure.")
@click.argument("evidence")
@click.argument("outdir", type=click.Path(file_okay=False, path_type=Path))
@click.option(*FORMAT_DECLS, **FORMAT_KW)
@click.option("--types", "types_", metavar="LIST", default="", help="Comma-separated types to carve (default: all).")
@click.option("--scope", type=click.Choice(["all", "unallocated"]), default="all", show_default=True,
              help="Carve the whole media, or only each volume's unallocated space (offsets stay image offsets; "
                   "files identical to an allocated file are not reported again).")
@click.option("--workers", type=click.IntRange(1, 256), default=os.cpu_count() or 1, show_default="CPU count",
              help="Worker processes; the output is the same for any number.")
def carve(evidence: str, outdir: Path, fmt: str, types_: str, scope: str, workers: int) -> None:
    from dftk_plugins.carving.recovery import carve as carve_evidence
    from dftk_plugins.carving.recovery import manifest_line, parse_types

    try:
        types = parse_types(types_)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--types") from e
    if outdir.exists() and any(outdir.iterdir()):
        raise DftkError(f"{outdir}: output folder is not empty")
    outdir.mkdir(parents=True, exist_ok=True)
    problems = identical = 0
    with open_evidence(evidence, fmt, require_image=False) as ev, (outdir / "manifest.jsonl").open("x") as manifest:
        for item in carve_evidence(ev, types, scope, workers, outdir):
            if isinstance(item, Problem):
                problems += 1
                click.echo(f"dftk: problem: {item.subject}: {item.message}", err=True)
                continue
            if item.identical_to is not None:
                identical += 1
                continue
            manifest.write(manifest_line(item) + "\n")
            row = item.row
            if row["embedded_in"] is None:
                click.echo(f"{row['path']} {row['size']} {row['validation']} {row['confidence']}")
    if identical:
        click.echo(f"dftk: {identical} carved file(s) identical to allocated files not reported again", err=True)
    if problems:
        click.echo(f"dftk: {problems} problem(s): the carve is incomplete", err=True)
        sys.exit(INCOMPLETE)
