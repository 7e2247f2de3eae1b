"""``dftk meta``: image, audio and document metadata of loose files, folders or everything inside an image.

It runs the file-scope plugins of the ``image``, ``audio`` and ``document`` disciplines on each file, exactly as
``dftk run`` does inside the pipeline, and prints one record per file. Nothing is recorded.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from dftk.errors import EvidenceError
from dftk.evidence import Evidence, open_evidence
from dftk.files import Buffer, EvidenceFile
from dftk.filetype import mime_of
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
def meta(paths: tuple[str, ...], as_json: bool) -> None:
    plugins = _plugins()
    for path in paths:
        for shown, file, data, walk_problem in _files(path):
            record = describe(plugins, shown, file, data) if file is not None and data is not None else {
                "path": shown, "mime": None, "fields": {}, "tags": {}, "checks": [], "problems": [walk_problem]}
            click.echo(json.dumps(record, ensure_ascii=False, sort_keys=True) if as_json else _text(record))


def _plugins() -> list[Plugin]:
    plugins = installed()
    return [plugins[name].cls() for name in PLUGINS if name in plugins]


def _files(path: str) -> Iterator[tuple[str, EvidenceFile | None, Buffer | None, str]]:
    p = Path(path)
    if p.is_file():
        try:
            evidence = open_evidence(p)
        except EvidenceError:
            data = p.read_bytes()
            yield path, EvidenceFile(str(p), len(data)), data, ""
            return
    else:
        evidence = open_evidence(p, "logical")
    with evidence:
        yield from _walk(evidence, path)


def _walk(evidence: Evidence, root: str) -> Iterator[tuple[str, EvidenceFile | None, Buffer | None, str]]:
    logical = evidence.format == "logical"
    for item in evidence.walk():
        if isinstance(item, Problem):
            yield item.subject, None, None, item.message
            continue
        shown = str(Path(root) / item.path.lstrip("/")) if logical else f"{root}:{item.path}"
        try:
            yield shown, item, evidence.open_file(item), ""
        except EvidenceError as e:
            yield shown, None, None, str(e)


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
