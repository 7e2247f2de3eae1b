"""Options that several commands share, spelled the same everywhere (a discipline's command gets them
through ``dftk.api``)."""

from __future__ import annotations

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
