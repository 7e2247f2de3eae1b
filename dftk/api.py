"""The public plugin surface: everything a plugin, and a discipline's command, may import from dftk.

Plugins import this module and nothing else of dftk (a test holds the repository's own plugins to it);
docs/plugins.md documents every name below. Anything a discipline needs from the core and does not find
here belongs here, added in a change of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dftk.case import custody
from dftk.case.access import record_access, record_export
from dftk.case.run import Pipeline, recorded
from dftk.case.store import CaseStore
from dftk.cli.options import case_option, evidence_format_option, evidence_format_param, scheduler_option
from dftk.engine.contract import MediaConsumer, Plugin, content_digests
from dftk.engine.engine import Screen, Settings, Sink, screen
from dftk.engine.executors import UnitCrashed, in_workers, run_units
from dftk.engine.registry import LoadedPlugin, installed
from dftk.engine.state import PluginState
from dftk.engine.units import CORE, FileOutcome
from dftk.errors import (
    INCOMPLETE,
    INTERRUPTED,
    DftkError,
    EvidenceError,
    NotApplicable,
    PluginError,
    one_line,
)
from dftk.evidence import (
    FORMATS,
    Buffer,
    Evidence,
    EvidenceFile,
    EvidenceSpec,
    LogicalEvidence,
    WalkItem,
    open_evidence,
    reopen,
)
from dftk.fs.extract import safe_component, safe_relative
from dftk.fs.filetype import contradicts_extension, mime_of
from dftk.fs.paths import LooseFiles, Shown, evidence_items
from dftk.fs.unallocated import UnallocatedMap, unallocated_map
from dftk.fs.volumes import open_image
from dftk.fs.walk import content, files
from dftk.hashing.algorithms import ALGORITHMS, digest_all, new_hasher, parse_algorithms
from dftk.hashing.hashdeep import HASHDEEP_MAGIC, read_hashdeep
from dftk.records import CHECK, FILE_TIMES, IMAGE, POSITION, TIMES, VALUE, Finding, Problem, Record, is_hint
from dftk.shortcuts import collection_paused
from dftk.text import json_text, terminal

__all__ = [
    # the contract
    "Plugin", "MediaConsumer", "Finding", "Problem", "Record", "content_digests",
    # finding-data conventions (how findings reach the report and the timeline)
    "TIMES", "POSITION", "IMAGE", "VALUE", "CHECK", "FILE_TIMES", "is_hint",
    # errors and exit statuses
    "DftkError", "EvidenceError", "PluginError", "NotApplicable", "INCOMPLETE", "INTERRUPTED", "one_line",
    # evidence and its files
    "Evidence", "EvidenceFile", "EvidenceSpec", "Buffer", "WalkItem", "LogicalEvidence", "FORMATS", "open_evidence",
    "open_image", "reopen", "files", "content", "UnallocatedMap", "unallocated_map",
    "evidence_items", "LooseFiles", "Shown",
    # content helpers
    "mime_of", "contradicts_extension", "safe_component", "safe_relative",
    "ALGORITHMS", "new_hasher", "parse_algorithms", "digest_all", "HASHDEEP_MAGIC", "read_hashdeep",
    # running plugins (for a discipline's command)
    "LoadedPlugin", "installed", "PluginState", "Settings", "Sink", "Screen", "screen", "FileOutcome", "CORE",
    "run_units", "in_workers", "UnitCrashed", "record_run", "collection_paused",
    # text from the evidence, escaped for a terminal or for JSON (dftk/text.py)
    "terminal", "json_text",
    # options shared by commands
    "evidence_format_option", "evidence_format_param", "case_option", "scheduler_option",
    # custody of a discipline's command (with --case)
    "record_access", "record_export",
]


def record_run(evidence: Evidence, case_dir: str | Path, plugins: list[LoadedPlugin],
               options: dict[str, dict[str, Any]], settings: Settings | None = None,
               examiner: str | None = None) -> Iterator[Record]:
    """Runs plugins over the evidence as ``dftk run`` does (sealed, custody-logged, resumable) into the case
    folder, then yields every record those plugins (and the core) hold for this evidence in the case."""
    with CaseStore.open(case_dir) as store:
        summary = Pipeline(evidence, store, plugins, options, settings, custody.examiner_name(examiner)).run()
        yield from recorded(store, summary.evidence["path"], [p.name for p in plugins])
