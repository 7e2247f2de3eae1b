"""File-scope work units: a batch of files, each read once and handed to every pending plugin.

This module runs inside workers (a local process or, later, a cluster node): everything a unit needs
travels in the unit; evidence and plugin instances are opened once per worker and cached.
"""

from __future__ import annotations

import mmap
import time
from dataclasses import dataclass, field
from typing import Any

from dftk.errors import DftkError, NotApplicable
from dftk.evidence import Evidence, EvidenceSpec, reopen
from dftk.files import EvidenceFile
from dftk.plugin import Finding, Plugin, Problem, Record, check_json, installed

CORE = "dftk"  # the name under which the core records its own problems (unreadable files, walk errors)
MAX_BATCH_FILES = 64
MAX_BATCH_BYTES = 32 << 20


@dataclass(frozen=True, slots=True)
class PluginCall:
    name: str
    options: tuple[tuple[str, Any], ...]


@dataclass(slots=True)
class FileBatch:
    """One unit: the evidence to open, the plugins and options, and the files with their pending plugins."""

    spec: EvidenceSpec
    calls: tuple[PluginCall, ...]
    items: list[tuple[EvidenceFile, tuple[str, ...]]] = field(default_factory=list)
    nbytes: int = 0

    def full(self) -> bool:
        return len(self.items) >= MAX_BATCH_FILES or self.nbytes >= MAX_BATCH_BYTES


@dataclass(frozen=True, slots=True)
class FileOutcome:
    """What the plugins made of one file: records per plugin, and the plugins that raised."""

    file: EvidenceFile
    records: tuple[tuple[str, tuple[Record, ...]], ...]
    errors: tuple[tuple[str, str], ...]
    plugins: tuple[str, ...]
    seconds: tuple[tuple[str, float], ...] = ()


_plugins: dict[str, Plugin] = {}


def share(plugins: dict[str, Plugin]) -> None:
    """Lets in-process units use the plugin instances the pipeline already holds."""
    _plugins.update(plugins)


def _plugin(name: str) -> Plugin:
    if name not in _plugins:
        _plugins[name] = installed()[name].cls()
    return _plugins[name]


def analyze_batch(batch: FileBatch) -> list[FileOutcome]:
    """Reads each file of the batch once and runs every pending plugin over it."""
    evidence = reopen(batch.spec)
    options = {call.name: dict(call.options) for call in batch.calls}
    return [_analyze_file(evidence, file, names, options) for file, names in batch.items]


def _analyze_file(evidence: Evidence, file: EvidenceFile, names: tuple[str, ...],
                  options: dict[str, dict[str, Any]]) -> FileOutcome:
    try:
        data = evidence.open_file(file)
    except DftkError as e:
        problem = Problem(file.path, f"cannot read the file: {e.args[0].split(': ', 1)[-1]}")
        return FileOutcome(file, ((CORE, (problem,)),), (), names)
    try:
        records, errors, seconds = [], [], []
        for name in names:
            started = time.perf_counter()
            result = _call(name, file, data, options[name])
            seconds.append((name, time.perf_counter() - started))
            if isinstance(result, str):
                errors.append((name, result))
            else:
                records.append((name, result))
        return FileOutcome(file, tuple(records), tuple(errors), names, tuple(seconds))
    finally:
        if isinstance(data, mmap.mmap):
            data.close()


def _call(name: str, file: EvidenceFile, data: Any, options: dict[str, Any]) -> tuple[Record, ...] | str:
    """The plugin's records for one file, or the reason it failed on it."""
    try:
        records = tuple(_plugin(name).analyze(file, data, **options))
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
