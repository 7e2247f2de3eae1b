"""``dftk carve``: files recovered from raw bytes by their structure, written with a manifest.

A command of the carving discipline, registered through the ``dftk.commands`` entry-point group as any
plugin package's command would be.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from collections.abc import Callable, Generator, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import click

from dftk.api import (
    INCOMPLETE,
    INTERRUPTED,
    DftkError,
    Problem,
    case_option,
    collection_paused,
    evidence_format_option,
    open_evidence,
    record_access,
    record_export,
    scheduler_option,
    terminal,
)

_HELP = """Carve files from EVIDENCE into OUTDIR by their structure, without file-system metadata.

Candidate headers are found in one read of the media and each is validated by its format's structure
(JPEG entropy-coded data, PNG/ZIP/Ogg/FLAC CRCs, GIF LZW, PDF xref, OLE2 FAT, SQLite pages, ISO-BMFF
boxes, ...), which also finds the real end of the file. A file broken in two fragments is reassembled
when the whole file then validates (every type but PE, MP3 and ADPCM WAV); the manifest lists the
fragments. Types: jpeg, png, gif, bmp, tiff, pdf, zip (docx/xlsx/pptx/odf/jar), ole2 (doc/xls/ppt),
sqlite, riff (wav/avi/webp), pe, mp3, ogg, flac, isobmff (mp4/m4a/mov/heic/avif). Files go to
OUTDIR/<type>/<image offset>.<ext>; OUTDIR/manifest.jsonl has one line per file (path, type, offset,
fragments, size, sha256, validation, confidence, embedded_in); a summary with counts per type is
printed at the end (a progress bar on a terminal). Files found inside other files (a thumbnail in a
JPEG) name their container in embedded_in. Problems go to stderr and make the exit status 4 (output
incomplete). Interrupted (Ctrl-C), the carve stops with status 130, the manifest listing the files
carved so far and the folder holding just those.

\b
Example:
  dftk carve disk.dd carved/
  dftk carve disk.E01 carved/ --types jpeg,png,pdf --scope unallocated --workers 2
"""


@click.command("carve", help=_HELP, short_help="Carve files from raw media by their structure.")
@click.argument("evidence")
@click.argument("outdir", type=click.Path(file_okay=False, path_type=Path))
@evidence_format_option
@click.option("--types", "types_", metavar="LIST", default="", help="Comma-separated types to carve (default: all).")
@click.option("--scope", type=click.Choice(["all", "unallocated"]), default="all", show_default=True,
              help="Carve the whole media, or only each volume's unallocated space (offsets stay image offsets; "
                   "files identical to an allocated file are not reported again).")
@click.option("--workers", type=click.IntRange(1, 256), default=os.cpu_count() or 1, show_default="CPU count",
              help="Worker processes; the output is the same for any number.")
@case_option
@scheduler_option
def carve(evidence: str, outdir: Path, fmt: str, types_: str, scope: str, workers: int, case_dir: str | None,
          scheduler: str | None) -> None:
    with collection_paused():  # the carving modules' import (numpy, Pillow) makes objects that all live to the end
        from dftk_plugins.carving.recovery import carve as carve_evidence
        from dftk_plugins.carving.recovery import manifest_line, parse_types

    try:
        types = parse_types(types_)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--types") from e
    if outdir.exists() and any(outdir.iterdir()):
        raise DftkError(f"{outdir}: output folder is not empty")
    outdir.mkdir(parents=True, exist_ok=True)
    with open_evidence(evidence, fmt) as ev:
        if case_dir:
            record_access(case_dir, ev, command="carve")
        carving = carve_evidence(ev, types, scope, workers, outdir, scheduler)
        tally = _carve_into(outdir, carving, manifest_line, ev.size)
        if case_dir:
            record_export(case_dir, ev, outdir, outdir / "manifest.jsonl", files=tally.listed, problems=tally.problems)
    click.echo(tally.summary(outdir))
    if tally.identical:
        click.echo(f"dftk: {tally.identical} carved file(s) identical to allocated files not reported again", err=True)
    if tally.problems:
        click.echo(f"dftk: {tally.problems} problem(s): the carve is incomplete", err=True)
        sys.exit(INCOMPLETE)


def _carve_into(outdir: Path, carving: Generator[Any, None, None], manifest_line: Callable[[Any], str],
                size: int) -> _Tally:
    """Lists each carved file in the manifest as it comes; interrupted, the folder holds what it lists."""
    tally = _Tally()
    unlisted: list[Path] = []  # the file of the item in hand until its manifest line is written
    try:
        with (outdir / "manifest.jsonl").open("x") as manifest, _progress(size) as advance, closing(carving):
            # closed on every way out, so the workers stop and the folder is left as the manifest lists it
            for item in carving:
                if isinstance(item, Problem):
                    tally.problems += 1
                    click.echo(f"dftk: problem: {terminal(item.subject)}: {terminal(item.message)}", err=True)
                    continue
                advance(item.row["offset"])
                if item.identical_to is not None:
                    tally.identical += 1
                    continue
                unlisted.append(outdir / item.row["path"])
                manifest.write(manifest_line(item) + "\n")
                unlisted.clear()
                tally.add(item.row)
    except KeyboardInterrupt:
        _remove(unlisted)
        click.echo(f"dftk: interrupted; {outdir / 'manifest.jsonl'} lists the {tally.listed} file(s) carved so far, "
                   "each in the folder (carve again into an empty folder for the rest)", err=True)
        sys.exit(INTERRUPTED)
    except BaseException:
        _remove(unlisted)
        raise
    return tally


def _remove(files: list[Path]) -> None:
    """Files the carve wrote whose manifest lines were never written: the folder holds what the manifest
    lists (the carve itself removes the files it had not handed over yet)."""
    for file in files:
        file.unlink(missing_ok=True)


class _Tally:
    """What the carve found, for the closing summary (the manifest lists every file)."""

    def __init__(self) -> None:
        self.types: Counter[str] = Counter()
        self.validation: Counter[str] = Counter()
        self.embedded = self.fragmented = self.problems = self.identical = 0

    @property
    def listed(self) -> int:
        """Files in the manifest so far."""
        return sum(self.types.values()) + self.embedded

    def add(self, row: dict[str, Any]) -> None:
        if row["embedded_in"] is not None:
            self.embedded += 1
            return
        self.types[row["type"]] += 1
        self.validation[row["validation"]] += 1
        self.fragmented += len(row["fragments"]) > 1

    def summary(self, outdir: Path) -> str:
        top = sum(self.types.values())
        kinds = ", ".join(f"{name} {n}" for name, n in sorted(self.types.items()))
        return (f"carved {top} file(s) ({self.validation['full']} full, {self.validation['partial']} partial, "
                f"{self.fragmented} reassembled from fragments) and {self.embedded} embedded in them; "
                f"manifest: {outdir / 'manifest.jsonl'}" + (f"\n  {kinds}" if kinds else ""))


@contextmanager
def _progress(size: int) -> Iterator[Callable[[int], None]]:
    """Advances a bar on stderr to each carved file's offset (only on a terminal: tqdm is slow to import)."""
    if not sys.stderr.isatty():
        yield lambda offset: None
        return
    from tqdm import tqdm

    tqdm.monitor_interval = 0  # no monitor thread: the carving workers are forked from this process
    bar = tqdm(total=size, desc="carve", unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr,
               dynamic_ncols=True, leave=False)

    def advance(offset: int) -> None:
        bar.update(max(0, offset - bar.n))

    try:
        yield advance
    finally:
        bar.close()
