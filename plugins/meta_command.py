"""``dftk meta``: image, audio and document metadata of loose files, folders or everything inside an image.

It runs the file-scope plugins of the ``image``, ``audio`` and ``document`` disciplines on each file, exactly as
``dftk run`` does inside the pipeline, and prints one record per file. Nothing is recorded.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import click
from PIL import Image

from dftk.errors import EvidenceError
from dftk.evidence import Evidence, EvidenceSpec, open_evidence, reopen
from dftk.executors import UnitCrashed, make_executor
from dftk.files import Buffer, EvidenceFile, WalkItem
from dftk.filetype import mime_of
from dftk.logical import LogicalEvidence
from dftk.plugin import Finding, Plugin, Problem, installed

PLUGINS = ("image", "audio", "document")  # the metadata plugins, by registered name

_HELP = """Print the metadata of PATH... (files, folders, or evidence images): EXIF/GPS/XMP/IPTC of pictures,
tags and stream properties of audio, and author/tool/dates/revisions of PDF and Office documents.

Folders are read recursively; a disk image (raw, E01, VMDK, ...) is opened read-only and every file in its
file systems is read. One record per file: path, mime, fields (normalized, see docs/metadata.md), tags
(grouped as EXIF:Make, GPS:GPSLatitude, XMP:CreatorTool, ID3:TIT2, PDF:Author...), checks (image-forensics
findings) and problems. Nothing is recorded; use `dftk run` for a case.

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
def meta(paths: tuple[str, ...], as_json: bool, workers: int, ela_dir: str | None) -> None:
    executor = make_executor(workers)
    ela = str(Path(ela_dir).resolve()) if ela_dir else None
    try:
        for path in paths:
            with _evidence(path) as evidence:
                for records in executor.map(_describe_batch, _batches(evidence, path, ela)):
                    for record in _records(records):
                        click.echo(json.dumps(record, ensure_ascii=False, sort_keys=True) if as_json else _text(record))
    finally:
        executor.close()


@dataclass(frozen=True, slots=True)
class _Batch:
    spec: EvidenceSpec
    root: str
    items: tuple[EvidenceFile | Problem, ...]
    ela: str | None = None


def _evidence(path: str) -> Evidence:
    """A folder is logical evidence; a disk image is opened as one; any other file is a folder of one."""
    p = Path(path)
    if p.is_dir():
        return open_evidence(p, "logical")
    try:
        return open_evidence(p)
    except EvidenceError:
        return _SingleFile(p)


class _SingleFile(LogicalEvidence):
    """One loose file as logical evidence: its folder, walked for that file alone."""

    def __init__(self, file: Path) -> None:
        self.only = file.name
        super().__init__(file.parent)
        self.spec = EvidenceSpec(str(file.parent), "logical")

    def walk(self) -> Iterator[WalkItem]:
        stat = (self.root / self.only).stat()
        yield EvidenceFile("/" + self.only, stat.st_size, locator=self.only)


def _batches(evidence: Evidence, root: str, ela: str | None, size: int = 16) -> Iterator[_Batch]:
    """Units of work for the executor, in walk order; a folder's path is shown as given."""
    shown_root = root if evidence.format == "logical" and not isinstance(evidence, _SingleFile) else (
        str(Path(root).parent) if isinstance(evidence, _SingleFile) else root)
    items: list[EvidenceFile | Problem] = []
    for item in evidence.walk():
        items.append(item)
        if len(items) >= size:
            yield _Batch(evidence.spec, shown_root, tuple(items), ela)
            items = []
    if items:
        yield _Batch(evidence.spec, shown_root, tuple(items), ela)


def _records(result: list[dict[str, Any]] | UnitCrashed) -> list[dict[str, Any]]:
    if not isinstance(result, UnitCrashed):
        return result
    batch = result.unit
    assert isinstance(batch, _Batch)
    return [_empty(_shown(batch, item), f"not read: {result.reason}") for item in batch.items]


def _describe_batch(batch: _Batch) -> list[dict[str, Any]]:
    """Runs in a worker: reads each file once and runs every metadata plugin over it."""
    evidence = reopen(batch.spec)
    plugins = _plugins()
    records = []
    for item in batch.items:
        shown = _shown(batch, item)
        if isinstance(item, Problem):
            records.append(_empty(shown, item.message))
            continue
        try:
            data = evidence.open_file(item)
        except EvidenceError as e:
            records.append(_empty(shown, str(e)))
            continue
        record = describe(plugins, shown, item, data)
        if batch.ela and record["mime"] == "image/jpeg":
            _add_ela(record, data, shown, Path(batch.ela))
        records.append(record)
    return records


def _add_ela(record: dict[str, Any], data: Buffer, shown: str, outdir: Path) -> None:
    from dftk_plugins.ela import write_ela

    try:
        record["ela"] = str(write_ela(data, shown, outdir))
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        record["problems"].append(f"ela: {type(e).__name__}: {e}")


def _shown(batch: _Batch, item: EvidenceFile | Problem) -> str:
    path = item.path if isinstance(item, EvidenceFile) else item.subject
    if batch.spec.format == "logical":
        return str(Path(batch.root) / path.lstrip("/"))
    return f"{batch.root}:{path}"


def _empty(shown: str, problem: str) -> dict[str, Any]:
    return {"path": shown, "mime": None, "fields": {}, "tags": {}, "checks": [], "problems": [problem]}


@cache
def _plugins() -> list[Plugin]:
    plugins = installed()
    return [plugins[name].cls() for name in PLUGINS if name in plugins]


def describe(plugins: list[Plugin], shown: str, file: EvidenceFile, data: Buffer) -> dict[str, Any]:
    """One file's record: the media finding's fields and tags, the checks, and every problem."""
    record: dict[str, Any] = {"path": shown, "mime": None, "fields": {}, "tags": {}, "checks": [], "problems": []}
    for plugin in plugins:
        for result in plugin.analyze(file, data):
            if isinstance(result, Problem):
                record["problems"].append(f"{plugin.name}: {result.message}")
            elif result.kind.startswith("media/"):
                _take_media(record, result)
            else:
                record["checks"].append({"kind": result.kind, **result.data})
    if record["mime"] is None:
        record["mime"] = mime_of(bytes(data[:8192]))
    return record


def _take_media(record: dict[str, Any], finding: Finding) -> None:
    data = dict(finding.data)
    record["mime"] = data.pop("mime", None) or record["mime"]
    record["tags"].update(data.pop("tags", {}) or {})
    record["fields"].update(data)


def _text(record: dict[str, Any]) -> str:
    lines = [f"{record['path']}  ({record['mime'] or 'unreadable'})"]
    lines += [f"  {k}: {json.dumps(v, ensure_ascii=False)}" for k, v in sorted(record["fields"].items())]
    lines += [f"  check {c['kind']}: {json.dumps({k: v for k, v in c.items() if k != 'kind'}, ensure_ascii=False)}"
              for c in record["checks"]]
    lines += [f"  problem: {p}" for p in record["problems"]]
    return "\n".join(lines)
