"""Carving an evidence item end to end: the byte space for the scope, units over workers (which hash each
file they find and, for the command, write it), merged results mapped to image offsets, and the output
folder left holding exactly the files the manifest lists."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dftk.api import (
    Evidence,
    EvidenceError,
    EvidenceFile,
    Problem,
    UnitCrashed,
    content,
    files,
    in_workers,
    run_units,
    unallocated_map,
)
from dftk_plugins.carving.engine import UNIT, Hit, Space, Unit, carve_unit, hit_path, merge, units
from dftk_plugins.carving.formats import TYPE_NAMES
from dftk_plugins.carving.output import Output, store

READ = 4 << 20


@dataclass(frozen=True, slots=True)
class Carved:
    """One recovered file as the manifest describes it (``path`` relative to the output folder).

    ``identical_to`` names the allocated file with the same content (``--scope unallocated``): such a file
    is not reported again, and its output file is removed.
    """

    row: dict[str, Any]
    runs: tuple[tuple[int, int], ...]
    identical_to: str | None = None


class AllocatedFiles:
    """The allocated files of the evidence by size; a size's files are hashed only when a carved file has
    that size, so the cost is one metadata walk plus the reads of a few same-sized files."""

    def __init__(self, evidence: Evidence) -> None:
        self.evidence = evidence
        self.by_size: dict[int, list[EvidenceFile]] = {}
        self.hashed: dict[int, dict[str, str]] = {}
        for item in files(evidence):
            if isinstance(item, EvidenceFile) and not item.deleted and item.size > 0:
                self.by_size.setdefault(item.size, []).append(item)

    def identical(self, size: int, sha256: str) -> str | None:
        """The path of an allocated file with exactly this content, if one exists."""
        if size not in self.by_size:
            return None
        if size not in self.hashed:
            self.hashed[size] = {}
            for file in self.by_size[size]:
                try:
                    data = content(self.evidence, file)
                except EvidenceError:
                    continue  # unreadable: it cannot be shown identical
                self.hashed[size].setdefault(hashlib.sha256(data).hexdigest(), file.path)
        return self.hashed[size].get(sha256)


def parse_types(value: str | None) -> tuple[str, ...]:
    """The carved types named in a comma-separated list (all when empty); ValueError for an unknown one."""
    if not value:
        return tuple(TYPE_NAMES)
    names = tuple(dict.fromkeys(v.strip().lower() for v in value.split(",") if v.strip()))
    unknown = [n for n in names if n not in TYPE_NAMES]
    if unknown:
        raise ValueError(f"unknown type(s) {', '.join(unknown)}; known: {', '.join(TYPE_NAMES)}")
    return tuple(n for n in TYPE_NAMES if n in names)


def space_runs(evidence: Evidence, scope: str) -> tuple[tuple[tuple[int, int], ...], list[Problem]]:
    """The image runs carved for the scope: the whole media, or each volume's unallocated space."""
    if scope == "all":
        return ((0, evidence.size),), []
    found, problems = unallocated_map(evidence)
    runs = tuple((s, min(e, evidence.size) - s) for s, e in zip(found.starts, found.ends, strict=True)
                 if s < evidence.size)
    if not runs and not problems:
        problems.append(Problem("evidence", "no unallocated space found (no file system TSK can open?)"))
    return runs, problems


def carve(evidence: Evidence, types: tuple[str, ...], scope: str = "all", workers: int = 1,
          outdir: Path | None = None, scheduler: str | None = None) -> Generator[Carved | Problem, None, None]:
    """Carves the evidence; with ``outdir`` writes each file to ``outdir/<type>/<offset>.<ext>``; with
    ``scheduler`` the units run on that Dask cluster (whose workers write into ``outdir`` by its full path)."""
    runs, problems = space_runs(evidence, scope)
    yield from problems
    if not runs:
        return
    space = Space(evidence, runs)
    allocated = AllocatedFiles(evidence) if scope == "unallocated" else None
    # forked workers: a unit needs only the evidence spec (reopened in the worker) and the format tables.
    # They map the evidence: an I/O error under a mapping kills a worker, and that range becomes a problem.
    pool = in_workers(workers, evidence, scheduler)
    written = outdir.resolve() if outdir is not None else None  # the same folder from a worker's working directory
    run = run_units(carve_unit, units(evidence, runs, types, written, mapped=pool), workers, evidence, fork=True,
                    scheduler=scheduler)
    paths: dict[int, str] = {}
    output = _Settled(outdir, space) if outdir is not None else None
    received = 0  # units whose result came back, in order: the rest of the space follows them

    def results() -> Iterator[list[Hit]]:
        nonlocal received
        for result in run:
            received += 1
            if isinstance(result, UnitCrashed):
                unit = result.unit
                assert isinstance(unit, Unit)
                problems.append(Problem(f"offset:{unit.start:#x}", f"range not carved: {result.reason}"))
                if output is not None:
                    output.lost(unit.start, unit.end)
                continue
            if output is not None:
                output.written(result)
            yield result

    try:
        for hit, parent in merge(results()):
            if parent is not None and id(parent) not in paths:
                continue  # inside a file not reported (identical to an allocated one)
            carved = _recover(evidence, space, hit, paths.get(id(parent)) if parent else None, output)
            if allocated is not None and parent is None:
                carved = _unless_allocated(carved, allocated, outdir)
            if carved.identical_to is None:
                paths[id(hit)] = carved.row["path"]
                if output is not None:
                    output.kept.add(carved.row["path"])
            yield carved
            yield from problems
            problems.clear()
    finally:
        run.close()
        if output is not None:
            if received * UNIT < space.size:  # stopped part-way: later units' workers may have written files
                output.lost(received * UNIT, space.size)
            output.remove_unlisted()
    yield from problems


class _Settled(Output):
    """The output folder as the parent sees it: the files the workers wrote, the ones the manifest keeps,
    and the removal of the rest (files the merge dropped, files of units whose results never arrived)."""

    def __init__(self, outdir: Path, space: Space) -> None:
        super().__init__(outdir)
        self.space = space
        self.wrote: set[str] = set()
        self.kept: set[str] = set()
        self.lost_runs: list[tuple[int, int]] = []  # image runs of units whose hits are unknown

    def written(self, hits: list[Hit]) -> None:
        self.wrote.update(hit_path(self.space, hit) for hit in hits)

    def lost(self, start: int, end: int) -> None:
        """Space ``[start, end)`` whose units' workers died part-way, or whose results never came: what they
        wrote is known only by the files' names (image offsets)."""
        self.lost_runs.extend(self.space.image_runs(start, end - start))

    def remove_unlisted(self) -> None:
        for path in self.wrote - self.kept:
            (self.outdir / path).unlink(missing_ok=True)
        if not self.lost_runs:
            return
        for file in self.outdir.glob("*/*"):
            offset = file.name.partition(".")[0]
            if offset.isdigit() and f"{file.parent.name}/{file.name}" not in self.kept and \
                    any(at <= int(offset) < at + n for at, n in self.lost_runs):
                file.unlink(missing_ok=True)


def _recover(evidence: Evidence, space: Space, hit: Hit, parent: str | None, output: Output | None) -> Carved:
    runs = tuple(r for at, n in hit.fragments for r in space.image_runs(at, n))
    path = hit_path(space, hit)
    size, sha256 = hit.size, hit.sha256
    if not sha256:  # cut short by the merge: hashed and written again here
        size, sha256 = store((data for at, n in runs for _, data in evidence.chunks(READ, at, at + n)), output, path)
    row = {"path": path, "type": hit.kind, "offset": runs[0][0], "fragments": [list(r) for r in runs],
           "size": size, "sha256": sha256, "validation": "full" if hit.full else "partial",
           "confidence": round(hit.confidence, 3), "embedded_in": parent}
    return Carved(row, runs)


def _unless_allocated(carved: Carved, allocated: AllocatedFiles, outdir: Path | None) -> Carved:
    same = allocated.identical(carved.row["size"], carved.row["sha256"])
    if same is None:
        return carved
    if outdir is not None:
        (outdir / carved.row["path"]).unlink(missing_ok=True)
    return Carved(carved.row, carved.runs, same)


def manifest_line(carved: Carved) -> str:
    """The manifest.jsonl line of a carved file."""
    return json.dumps(carved.row, sort_keys=True)
