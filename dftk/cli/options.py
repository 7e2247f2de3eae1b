"""Options that several commands share, spelled the same everywhere (plugins' commands get them through
``dftk.api``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from dftk.evidence import FORMATS

F = TypeVar("F", bound=Callable[..., Any])

FORMAT_DECLS = ["--evidence-format", "fmt"]
FORMAT_KW: dict[str, Any] = {
    "type": click.Choice(FORMATS), "default": "auto", "show_default": True,
    "help": "Evidence format; 'auto' detects it and refuses files with no partition table or file system "
            "(use 'raw' to examine arbitrary bytes).",
}


def evidence_format_option(command: F) -> F:
    """``--evidence-format`` (parameter ``fmt``): how to open the evidence; ``auto`` detects it."""
    return click.option(*FORMAT_DECLS, **FORMAT_KW)(command)
