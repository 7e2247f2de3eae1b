"""What commands print besides their results: problems on stderr and the exit status they imply."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

import click

from dftk.errors import INCOMPLETE
from dftk.records import Problem
from dftk.text import terminal

T = TypeVar("T")


def separate(items: Iterable[T | Problem], problems: list[Problem]) -> Iterator[T]:
    """The items that are not Problems; the Problems are collected into ``problems``."""
    for item in items:
        if isinstance(item, Problem):
            problems.append(item)
        else:
            yield item


def report_problems(problems: list[Problem]) -> None:
    """Problems go to stderr; any problem means the output is incomplete (exit status 4)."""
    for problem in problems:
        click.echo(f"dftk: problem: {terminal(problem.subject)}: {terminal(problem.message)}", err=True)
    if problems:
        click.echo(f"dftk: {len(problems)} problem(s): the output is incomplete", err=True)
        sys.exit(INCOMPLETE)
