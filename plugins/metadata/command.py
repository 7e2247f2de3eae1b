"""``dftk meta``: image, audio and document metadata of loose files, folders or everything inside an image.

It runs the file-scope plugins of the ``image``, ``audio`` and ``document`` disciplines on each file, exactly as
``dftk run`` does inside the pipeline, and prints one record per file (with ``--case``, the access is logged).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
from PIL import Image

from dftk.api import (
    CORE,
    INCOMPLETE,
    Buffer,
    EvidenceFile,
    FileOutcome,
    Finding,
    LoadedPlugin,
    Plugin,
    PluginState,
    Problem,
    Record,
    Settings,
    Shown,
    Sink,
    case_option,
    evidence_items,
    is_hint,
    json_text,
    mime_of,
    record_access,
    scheduler_option,
    screen,
    terminal,
)
from dftk_plugins.metadata.audio import AudioMetaPlugin
from dftk_plugins.metadata.document import DocumentMetaPlugin
from dftk_plugins.metadata.image import ImageMetaPlugin

# The metadata plugins, in the order their fields are merged into a file's record (a later one wins).
PLUGINS = (ImageMetaPlugin, AudioMetaPlugin, DocumentMetaPlugin)

_HELP = """Print the metadata of PATH... (files, folders, or evidence images): EXIF/GPS/XMP/IPTC of pictures,
tags and stream properties of audio, and author/tool/dates/revisions of PDF and Office documents.

Folders are read recursively; a disk image (raw, E01, VMDK, ...) is opened read-only and every file in its
file systems is read. One record per file: path, mime, fields (normalized, see docs/metadata.md), tags
(grouped as EXIF:Make, GPS:GPSLatitude, XMP:CreatorTool, ID3:TIT2, PDF:Author...), checks (image-forensics
findings) and problems. The metadata is not recorded (use `dftk run` for a case); with --case the access to
the evidence is recorded in the case's custody log.

\b
Example:
  dftk meta photo.jpg report.pdf
  dftk meta ./seized-files --json > meta.jsonl
  dftk meta disk.E01 --json
"""


@click.command("meta", help=_HELP, short_help="Image, audio and document metadata of files, folders or images.")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file.")
@click.option("--workers", type=click.IntRange(1, 256), default=os.cpu_count() or 1, show_default="CPU count",
              help="Processes reading and parsing files; the output and its order are the same for any N.")
@click.option("--ela", "ela_dir", type=click.Path(file_okay=False), metavar="DIR",
              help="Write an error-level-analysis picture of every JPEG into DIR (see docs/metadata.md).")
@case_option
@scheduler_option
def meta(paths: tuple[str, ...], as_json: bool, workers: int, ela_dir: str | None, case_dir: str | None,
         scheduler: str | None) -> None:
    ela = str(Path(ela_dir).resolve()) if ela_dir else None
    emit = _Count((lambda record: click.echo(json_text(record, sort_keys=True))) if as_json else (
        lambda record: click.echo(_text(record))))
    for given, evidence in evidence_items(paths):
        with evidence:
            if case_dir:
                record_access(case_dir, evidence, command="meta")
            shown = Shown(evidence, given)
            steps = [LoadedPlugin(cls, f"dftk: {cls.__module__}:{cls.__name__}") for cls in (*PLUGINS, FileType)]
            options: dict[str, dict[str, Any]] = {}
            if ela is not None:
                steps.append(LoadedPlugin(ErrorLevels, f"dftk: {__name__}:ErrorLevels"))
                options["ela"] = {"ela_dir": ela, "ela_root": shown.root, "ela_logical": shown.logical}
            settings = Settings(workers, progress=False, scheduler=scheduler)
            screen(evidence, steps, options, _Records(shown, emit), settings)
    if emit.incomplete:
        click.echo(f"dftk: {emit.incomplete} of {emit.files} file(s) with problems: the output is incomplete", err=True)
        sys.exit(INCOMPLETE)


class _Count:
    """Prints each record and counts the files whose records carry problems (the exit status says so)."""

    def __init__(self, emit: Any) -> None:
        self.emit = emit
        self.files = self.incomplete = 0

    def __call__(self, record: dict[str, Any]) -> None:
        self.files += 1
        self.incomplete += bool(record["problems"])
        self.emit(record)


class FileType(Plugin):
    """The file's type by its content (libmagic), for files no metadata plugin names a type for."""

    name = "mime"
    discipline = "digital"
    version = "1.0.0"

    def analyze(self, file: EvidenceFile, data: Buffer, **opts: Any) -> Iterator[Record]:
        yield Finding("file/type", file.path, {"mime": mime_of(bytes(data[:8192]))})


class ErrorLevels(Plugin):
    """An error-level-analysis picture of every JPEG, written into the folder ``--ela`` names."""

    name = "ela"
    discipline = "image"
    version = "1.0.0"

    def analyze(self, file: EvidenceFile, data: Buffer, **opts: Any) -> Iterator[Record]:
        from dftk_plugins.metadata.ela import write_ela

        if mime_of(bytes(data[:8192])) != "image/jpeg":
            return
        shown = _shown(opts["ela_root"], opts["ela_logical"], file.path)
        try:
            yield Finding("image/ela", file.path, {"path": str(write_ela(data, shown, Path(opts["ela_dir"])))})
        except (OSError, ValueError, Image.DecompressionBombError) as e:
            yield Problem(file.path, f"{type(e).__name__}: {e}")


def _shown(root: str, logical: bool, path: str) -> str:
    return str(Path(root) / path.lstrip("/")) if logical else f"{root}:{path}"


class _Records(Sink):
    """The engine's results as one record per file, printed in walk order (the metadata plugins have no
    media or evidence scope)."""

    def __init__(self, shown: Shown, emit: Any) -> None:
        self.shown = shown
        self.emit = emit

    def results(self, results: list[FileOutcome | Problem], states: dict[str, PluginState]) -> None:
        for result in results:
            if isinstance(result, Problem):
                self.emit(_empty(self.shown(result.subject), result.message))
            else:
                self.emit(describe(self.shown(result.file.path), result))


def _empty(shown: str, problem: str) -> dict[str, Any]:
    return {"path": shown, "mime": None, "fields": {}, "tags": {}, "checks": [], "problems": [problem]}


def describe(shown: str, outcome: FileOutcome) -> dict[str, Any]:
    """One file's record: the media findings' fields and tags, the checks, and every problem."""
    record: dict[str, Any] = {"path": shown, "mime": None, "fields": {}, "tags": {}, "checks": [], "problems": []}
    typed = None
    for name, records in outcome.records:
        for result in records:
            if isinstance(result, Problem):
                record["problems"].append(result.message if name == CORE else f"{name}: {result.message}")
            elif result.kind == "file/type":
                typed = result.data["mime"]
            elif result.kind == "image/ela":
                record["ela"] = result.data["path"]
            elif result.kind.startswith("media/"):
                _take_media(record, result)
            else:
                record["checks"].append({"kind": result.kind, **result.data})
    if record["mime"] is None and not any(name == CORE for name, _ in outcome.records):
        record["mime"] = typed
    return record


def _take_media(record: dict[str, Any], finding: Finding) -> None:
    data = {k: v for k, v in finding.data.items() if not is_hint(k)}
    record["mime"] = data.pop("mime", None) or record["mime"]
    record["tags"].update(data.pop("tags", {}) or {})
    record["fields"].update(data)


def _text(record: dict[str, Any]) -> str:
    lines = [f"{terminal(record['path'])}  ({record['mime'] or 'unreadable'})"]
    lines += [f"  {k}: {json_text(v)}" for k, v in sorted(record["fields"].items())]
    lines += [f"  check {c['kind']}: {json_text({k: v for k, v in c.items() if k != 'kind'})}"
              for c in record["checks"]]
    lines += [f"  problem: {terminal(p)}" for p in record["problems"]]
    return "\n".join(lines)
