"""``dftk evidence``: look at evidence without running anything over it."""

from __future__ import annotations

import click

from dftk.cli.options import evidence_format_option
from dftk.fs.volumes import open_image
from dftk.text import json_text, terminal


@click.group()
def evidence() -> None:
    """Inspect evidence items."""


@evidence.command()
@click.argument("path")
@evidence_format_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def info(path: str, fmt: str, as_json: bool) -> None:
    """Show an evidence item's format, size, sector size and the hashes stored in it.

    \b
    Example:
      dftk evidence info disk.E01
      dftk evidence info /dev/sdb --json
    """
    with open_image(path, fmt) as ev:
        described = ev.describe()
    if as_json:
        click.echo(json_text(described, sort_keys=True))
        return
    for key in ("path", "format", "size", "sector_size"):
        click.echo(f"{key:<12} {terminal(str(described[key]))}")
    for algorithm, value in sorted(described["stored_hashes"].items()):  # type: ignore[attr-defined]
        click.echo(f"{'stored ' + algorithm:<12} {value}")
    for key, value in sorted(described["metadata"].items()):  # type: ignore[attr-defined]
        click.echo(f"{key:<12} {terminal(str(value))}")
