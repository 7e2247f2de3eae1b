"""Options that several commands share, spelled the same everywhere (a discipline's command gets them
through ``dftk.api``)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

import click

from dftk.evidence import FORMATS

F = TypeVar("F", bound=Callable[..., Any])
_FORMAT: dict[str, Any] = {
    "type": click.Choice(FORMATS), "default": "auto", "show_default": True,
    "help": "Evidence format; 'auto' detects it and refuses files with no partition table or file system "
            "(use 'raw' to examine arbitrary bytes).",
}


def evidence_format_param() -> click.Option:
    """``--evidence-format`` (parameter ``fmt``): how to open the evidence; ``auto`` detects it."""
    return click.Option(["--evidence-format", "fmt"], **_FORMAT)


def evidence_format_option(command: F) -> F:
    """The decorator form of :func:`evidence_format_param`, for a command every part of which is static."""
    return click.option("--evidence-format", "fmt", **_FORMAT)(command)


def case_option(command: F) -> F:
    """``--case DIR`` (parameter ``case_dir``) on a command that reads evidence outside ``dftk run``: its
    access to the evidence, and what it exported, go into that case's custody log."""
    return click.option("--case", "case_dir", metavar="DIR", type=click.Path(file_okay=False),
                        help="Record this command in the case folder's custody log (created if missing): the "
                             "access to the evidence with its seal, and an export's manifest digest.")(command)


def _scheduler(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """The address as given, once it has one of the shapes ``--scheduler`` takes and Dask is installed."""
    if value is None:
        return None
    if re.fullmatch(r"local:([1-9][0-9]{0,2})|[a-z][a-z0-9+.-]*://\S+", value):
        from dftk.engine.cluster import require_dask

        require_dask()  # missing, the command stops here, before it touches evidence or a case
        return value
    raise click.BadParameter("expected tcp://HOST:PORT (or tls://HOST:PORT) of a Dask scheduler, or local:N "
                             "(N from 1 to 999)", ctx, param)


_SCHEDULER: dict[str, Any] = {
    "metavar": "ADDRESS", "default": None, "callback": _scheduler,
    "help": "Run the units on a Dask cluster instead of local processes: tcp://HOST:8786 (tls:// with Dask's "
            "TLS settings) uses a running `dask scheduler` whose workers see the evidence at the same path; "
            "local:N starts N local worker processes for this command. Same results as --workers 1; "
            "needs dftk[cluster] (docs/cluster.md).",
}


def scheduler_param() -> click.Option:
    """``--scheduler ADDRESS`` (parameter ``scheduler``): the Dask cluster the command's units run on."""
    return click.Option(["--scheduler"], **_SCHEDULER)


def scheduler_option(command: F) -> F:
    """The decorator form of :func:`scheduler_param`: ``--scheduler ADDRESS`` (``tcp://HOST:8786`` or
    ``local:N``) for a command whose units may run on a Dask cluster (``Settings(scheduler=...)``)."""
    return click.option("--scheduler", **_SCHEDULER)(command)
