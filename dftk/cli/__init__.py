"""The ``dftk`` command: a click group that loads each command only when it is asked for.

Every error reaches the examiner as one line on stderr with an exit status: 0 ok, 1 error, 2 usage,
3 verification failure, 130 interrupted. Tracebacks only with DFTK_DEBUG=1.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

from dftk import __version__
from dftk.errors import INTERRUPTED, DftkError, PluginLoadError, one_line
from dftk.shortcuts import exit_now
from dftk.text import terminal

_COMMANDS = {
    "run": "dftk.cli.commands.run:run",
    "plugins": "dftk.cli.commands.plugins:plugins",
    "case": "dftk.cli.commands.case:case",
    "evidence": "dftk.cli.commands.evidence:evidence",
    "fs": "dftk.cli.commands.fs:fs",
    "timeline": "dftk.cli.commands.timeline:timeline",
    "keygen": "dftk.cli.commands.keygen:keygen",
    "report": "dftk.cli.commands.report:report",
    "verify": "dftk.cli.commands.report:verify",
    "hash": "dftk.cli.commands.hash:hash_command",
    "acquire": "dftk.cli.commands.acquire:acquire",
}


COMMAND_GROUP = "dftk.commands"


def entry_points(group: str) -> Any:
    """The entry points of a group, read only when a plugin command is looked for: a core command does not
    import ``importlib.metadata``."""
    from importlib.metadata import entry_points as registered

    return registered(group=group)


def plugin_commands(core: dict[str, str]) -> dict[str, str]:
    """Commands that plugin packages add through the ``dftk.commands`` entry-point group.

    Raises:
        PluginLoadError: a plugin command takes a name that is already used, naming both sources.
    """
    found: dict[str, str] = {}
    for ep in entry_points(group=COMMAND_GROUP):
        if ep.name in core or ep.name in found:
            other = core.get(ep.name) or found[ep.name]
            raise PluginLoadError(f"duplicate command {ep.name!r}: {other} and {ep.value}")
        found[ep.name] = ep.value
    return found


class LazyGroup(click.Group):
    """Imports a command's module on first use, so ``dftk --help`` stays fast and plugin-independent.

    The core's commands and those plugin packages register (``dftk.commands``) are loaded alike.
    """

    def __init__(self, *args: Any, lazy: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.core = lazy or {}
        self._all: dict[str, str] | None = None

    @property
    def lazy(self) -> dict[str, str]:
        """Core commands, and plugin packages' commands once a name is not a core one (reading entry
        points costs a twentieth of a second that core commands need not pay)."""
        if self._all is None:
            self._all = {**self.core, **plugin_commands(self.core)}
        return self._all

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = self.core.get(cmd_name) or self.lazy.get(cmd_name)
        if target:
            module, attr = target.split(":")
            command = getattr(importlib.import_module(module), attr)
            return command() if not isinstance(command, click.Command) else command
        return super().get_command(ctx, cmd_name)


class DftkGroup(LazyGroup):
    """The top-level group: turns every failure into one line and an exit status."""

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        try:
            rv = super().main(args, prog_name or "dftk", complete_var, standalone_mode=False, **extra)
        except click.ClickException as e:
            e.show()
            sys.exit(e.exit_code)
        except click.Abort:
            click.echo("dftk: interrupted; the case store is consistent: run the same command again to resume",
                       err=True)
            sys.exit(INTERRUPTED)
        except DftkError as e:
            click.echo(f"dftk: error: {terminal(one_line(e))}", err=True)
            sys.exit(e.exit_code)
        except Exception as e:  # noqa: BLE001 - the last line of defence: never a traceback by default
            if os.environ.get("DFTK_DEBUG"):
                raise
            click.echo(f"dftk: internal error: {type(e).__name__}: {terminal(one_line(e))} "
                       "(set DFTK_DEBUG=1 for the traceback)", err=True)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)


@click.group(cls=DftkGroup, lazy=_COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="dftk", message="%(prog)s %(version)s")
def cli() -> None:
    """dftk: a digital forensics toolkit.

    It opens evidence read-only (raw, split raw, E01, block devices, directories), runs forensic
    plugins over it in one pass, and keeps findings and a hash-chained custody log in a case folder.

    \b
    Example:
      dftk run disk.E01 --case cases/2026-001
      dftk case findings cases/2026-001 --json
    """


def main() -> None:
    """Console entry point: runs the command, then ends the process (``dftk.shortcuts.exit_now``)."""
    try:
        cli.main()
    except SystemExit as e:
        exit_now(e.code)
