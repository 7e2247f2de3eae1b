"""Entry points of the installed distributions, read from their ``entry_points.txt`` files.

``importlib.metadata`` answers the same question but its import (email, zipfile, csv parsers) costs about a
twentieth of a second, paid before every plugin command (``dftk carve``) starts its work. This reads what it
reads for ordinary installs: each ``*.dist-info`` or ``*.egg-info`` folder on ``sys.path``, the first of
each distribution name winning, as ``importlib.metadata.entry_points`` does.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from dataclasses import dataclass
from typing import Any

_META = (".dist-info", ".egg-info")
_SECTION = re.compile(r"^\[\s*([^\]]+?)\s*\]$")


@dataclass(frozen=True, slots=True)
class Distribution:
    """The installed distribution an entry point comes from."""

    name: str


@dataclass(frozen=True, slots=True)
class EntryPoint:
    """One ``name = module:attr`` line of a group; ``load`` imports what it names."""

    name: str
    value: str
    group: str
    dist: Distribution | None = None

    def load(self) -> Any:
        module, _, attr = self.value.partition(":")
        obj = importlib.import_module(module.strip())
        for part in attr.split("[")[0].strip().split(".") if attr else ():
            obj = getattr(obj, part)
        return obj


def entry_points(group: str) -> list[EntryPoint]:
    """The entry points registered in ``group`` by the distributions on ``sys.path``."""
    found: list[EntryPoint] = []
    seen: set[str] = set()
    for folder in sys.path:
        for meta in _metadata_folders(folder or "."):
            name = _normalized(os.path.basename(meta).rsplit(".", 1)[0].split("-")[0])
            if name in seen:
                continue
            seen.add(name)
            found += _read(os.path.join(meta, "entry_points.txt"), group, Distribution(name))
    return found


def _metadata_folders(folder: str) -> list[str]:
    try:
        with os.scandir(folder) as entries:
            return sorted(e.path for e in entries if e.name.endswith(_META) and e.is_dir())
    except OSError:
        return []  # not a folder (a zip on sys.path) or unreadable: nothing registered there


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _read(path: str, group: str, dist: Distribution) -> list[EntryPoint]:
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    found, section = [], None
    for line in lines:
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        header = _SECTION.match(line)
        if header:
            section = header.group(1)
        elif section == group and "=" in line:
            name, _, value = line.partition("=")
            found.append(EntryPoint(name.strip(), value.strip(), group, dist))
    return found
