"""``dftk plugins``: what is installed."""

from __future__ import annotations

import click

from dftk.engine.registry import installed
from dftk.text import json_text


@click.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per plugin (JSON lines).")
def plugins(as_json: bool) -> None:
    """List the installed plugins: name, discipline, version, scopes and options.

    \b
    Example:
      dftk plugins
      dftk plugins --json | jq -r .name
    """
    for plugin in installed().values():
        info = plugin.describe()
        if as_json:
            click.echo(json_text(info, sort_keys=True))
        else:
            options = " ".join(info["options"])
            click.echo(f"{info['name']:<16} {info['discipline']:<12} {info['version']:<9} "
                       f"{'+'.join(info['scopes']):<14} {info['help']}" + (f"  [{options}]" if options else ""))
