"""``dftk evidence``: look at evidence without running anything over it."""

from __future__ import annotations

import json
from typing import Any

import click

from dftk.evidence import FORMATS, open_evidence

FORMAT_DECLS = ["--evidence-format", "fmt"]
FORMAT_KW: dict[str, Any] = {
    "type": click.Choice(FORMATS), "default": "auto", "show_default": True,
    "help": "Evidence format; 'auto' detects it and refuses files with no partition table or file system "
            "(use 'raw' to examine arbitrary bytes).",
}


@click.group()
def evidence() -> None:
    """Inspect evidence items."""


@evidence.command()
@click.argument("path")
@click.option(*FORMAT_DECLS, **FORMAT_KW)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def info(path: str, fmt: str, as_json: bool) -> None:
    """Show an evidence item's format, size, sector size and the hashes stored in it.

    \b
    Example:
      dftk evidence info disk.E01
      dftk evidence info /dev/sdb --json
    """
    with open_evidence(path, fmt) as ev:
        described = ev.describe()
    if as_json:
        click.echo(json.dumps(described, ensure_ascii=False, sort_keys=True))
        return
    for key in ("path", "format", "size", "sector_size"):
        click.echo(f"{key:<12} {described[key]}")
    for algorithm, value in sorted(described["stored_hashes"].items()):  # type: ignore[attr-defined]
        click.echo(f"{'stored ' + algorithm:<12} {value}")
    for key, value in sorted(described["metadata"].items()):  # type: ignore[attr-defined]
        click.echo(f"{key:<12} {value}")
