"""File-scope work units: a batch of files, each read once and handed to every pending plugin.

``analyze_batch`` runs inside workers (a local process or, later, a cluster node): everything a unit needs
travels in the unit, the evidence by its spec and each plugin by the import path of its class, so a worker
needs no plugin discovery. Evidence and plugin instances are opened once per worker and cached. In this
process the engine hands ``analyze_batch`` the instances it already holds instead.
"""

from __future__ import annotations

import importlib
import itertools
import mmap
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from dftk.engine.contract import Plugin
from dftk.errors import DftkError, NotApplicable
from dftk.evidence import Evidence, EvidenceFile, EvidenceSpec, WalkItem, reopen
from dftk.fs.walk import content
from dftk.records import Finding, Problem, Record, check_json

CORE = "dftk"  # the name under which the core records its own problems (unreadable files, walk errors)
MAX_BATCH_FILES = 64
MAX_BATCH_BYTES = 32 << 20


@dataclass(frozen=True, slots=True)
class PluginCall:
    """One plugin as a unit carries it: its name, the import path of its class, and its options."""

    name: str
    target: str  # "module:Class"
    options: tuple[tuple[str, Any], ...]

    @classmethod
    def of(cls, plugin: type[Plugin], name: str, options: Mapping[str, Any]) -> PluginCall:
        return cls(name, f"{plugin.__module__}:{plugin.__qualname__}", tuple(sorted(options.items())))


@dataclass(slots=True)
class FileBatch:
    """One unit: the evidence to open, the plugins and options, and the walk's items in order: each file with
    the plugins still pending for it, and the walk's problems where they arose."""

    spec: EvidenceSpec
    calls: tuple[PluginCall, ...]
    items: list[tuple[EvidenceFile, tuple[str, ...]] | Problem] = field(default_factory=list)
    nbytes: int = 0
    limit: int = MAX_BATCH_FILES

    def full(self) -> bool:
        return len(self.items) >= self.limit or self.nbytes >= MAX_BATCH_BYTES

    def files(self) -> Iterator[tuple[EvidenceFile, tuple[str, ...]]]:
        return (item for item in self.items if not isinstance(item, Problem))


@dataclass(frozen=True, slots=True)
class FileOutcome:
    """What the plugins made of one file: records per plugin (in call order), and the plugins that raised."""

    file: EvidenceFile
    records: tuple[tuple[str, tuple[Record, ...]], ...]
    errors: tuple[tuple[str, str], ...]
    plugins: tuple[str, ...]
    seconds: tuple[tuple[str, float], ...] = ()


Result = FileOutcome | Problem  # one item of a batch's result: a file's outcome, or a walk problem


Pending = Callable[[list[EvidenceFile]], list[tuple[str, ...]]]


def plan(walk: Iterable[WalkItem], spec: EvidenceSpec, calls: tuple[PluginCall, ...],
         pending: Pending | None = None, skipped: Callable[[EvidenceFile], None] | None = None) -> Iterator[FileBatch]:
    """Groups the walk's items into units, in walk order, each file with the plugins it still needs.

    Args:
        pending: the names of the plugins still to run on each of some files (a resumed run); all by default.
        skipped: told of each file that needs none of them, and is left out.
    """
    names = tuple(call.name for call in calls)
    # The first units are small and grow to the full size: a few files still reach every worker, and many
    # files travel in units large enough that handing them over costs little.
    ramp = (1 << n for n in range(MAX_BATCH_FILES.bit_length() - 1))
    sizes = itertools.chain(ramp, itertools.repeat(MAX_BATCH_FILES))
    batch = FileBatch(spec, calls, limit=next(sizes))
    for group in _groups(walk):
        files = [item for item in group if not isinstance(item, Problem)]
        needs = iter(pending(files) if pending is not None else [names] * len(files))
        for item in group:
            wanted: tuple[str, ...] = () if isinstance(item, Problem) else next(needs)
            if isinstance(item, Problem):
                batch.items.append(item)
            elif not wanted:
                if skipped is not None:
                    skipped(item)
                continue
            else:
                batch.items.append((item, wanted))
                batch.nbytes += item.size
            if batch.full():
                yield batch
                batch = FileBatch(spec, calls, limit=next(sizes))
    if batch.items:
        yield batch


def _groups(walk: Iterable[WalkItem], size: int = 256) -> Iterator[list[WalkItem]]:
    """The walk in groups, so the completion marks of many files are looked up at once."""
    group: list[WalkItem] = []
    for item in walk:
        group.append(item)
        if len(group) >= size:
            yield group
            group = []
    if group:
        yield group


_instances: dict[str, Plugin] = {}  # per worker process: each plugin class instantiated once


def _instance(call: PluginCall) -> Plugin:
    if call.target not in _instances:
        module, _, name = call.target.partition(":")
        cls = importlib.import_module(module)
        for part in name.split("."):
            cls = getattr(cls, part)
        _instances[call.target] = cls()  # type: ignore[operator]
    return _instances[call.target]


def analyze_batch(batch: FileBatch, plugins: Mapping[str, Plugin] | None = None) -> list[Result]:
    """Reads each file of the batch once and runs every pending plugin over it; walk problems pass through.

    Args:
        plugins: live instances by name (units run in this process); workers make their own.
    """
    evidence = reopen(batch.spec)
    calls = {call.name: call for call in batch.calls}
    live = dict(plugins) if plugins is not None else {n: _instance(c) for n, c in calls.items()}
    options = {name: dict(call.options) for name, call in calls.items()}
    return [item if isinstance(item, Problem) else _analyze_file(evidence, *item, live, options)
            for item in batch.items]


def _analyze_file(evidence: Evidence, file: EvidenceFile, names: tuple[str, ...], plugins: Mapping[str, Plugin],
                  options: dict[str, dict[str, Any]]) -> FileOutcome:
    try:
        data = content(evidence, file)
    except DftkError as e:
        problem = Problem(file.path, f"cannot read the file: {e.args[0].split(': ', 1)[-1]}")
        return FileOutcome(file, ((CORE, (problem,)),), (), names)
    try:
        records, errors, seconds = [], [], []
        for name in names:
            started = time.perf_counter()
            result = _call(plugins[name], name, file, data, options[name])
            seconds.append((name, time.perf_counter() - started))
            if isinstance(result, str):
                errors.append((name, result))
            else:
                records.append((name, result))
        return FileOutcome(file, tuple(records), tuple(errors), names, tuple(seconds))
    finally:
        if isinstance(data, mmap.mmap):
            data.close()


def _call(plugin: Plugin, name: str, file: EvidenceFile, data: Any,
          options: dict[str, Any]) -> tuple[Record, ...] | str:
    """The plugin's records for one file, or the reason it failed on it."""
    try:
        records = tuple(plugin.analyze(file, data, **options))
        for rec in records:
            if isinstance(rec, Finding):
                check_json(rec.data, name)
            elif not isinstance(rec, Problem):
                return f"yielded {type(rec).__name__}, not a Finding or Problem"
        return records
    except NotApplicable:
        return ()
    except Exception as e:  # noqa: BLE001 - a plugin's bug on one file must not stop the run
        return f"{type(e).__name__}: {e}"
