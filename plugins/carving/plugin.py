"""The carving plugin: what ``dftk carve`` recovers, recorded as findings of a ``dftk run``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import click

from dftk.api import Evidence, Finding, NotApplicable, Plugin, Problem, Record
from dftk_plugins.carving.formats import TYPE_NAMES
from dftk_plugins.carving.recovery import carve, parse_types


class CarvingPlugin(Plugin):
    """Carve files from the raw media by structure and reassemble two-fragment files (15 type families)."""

    name: ClassVar[str] = "carving"
    discipline: ClassVar[str] = "digital"
    version: ClassVar[str] = "0.1.0"
    options: ClassVar[tuple[click.Option, ...]] = (
        click.Option(["--carving-types"], metavar="LIST", default="", show_default=False,
                     help=f"Comma-separated types to carve (default all: {','.join(TYPE_NAMES)})."),
        click.Option(["--carving-scope"], type=click.Choice(["all", "unallocated"]), default="unallocated",
                     show_default=True, help="Carve the whole media or only unallocated space."),
    )

    def check(self, evidence: Evidence) -> None:
        if not evidence.has_media:
            raise NotApplicable("carving needs a disk image or media, not loose files")

    def run(self, evidence: Evidence, **opts: Any) -> Iterator[Record]:
        try:
            types = parse_types(opts.get("carving_types"))
        except ValueError as e:
            raise NotApplicable(str(e)) from e
        for item in carve(evidence, types, opts.get("carving_scope") or "unallocated"):
            if isinstance(item, Problem):
                yield item
                continue
            if item.identical_to is not None:
                continue  # the file walk reports the allocated file
            row = {k: v for k, v in item.row.items() if k != "path"}
            yield Finding(f"carve/{row['type']}", f"offset:{row['offset']:#x}", row)
