"""A recorded run: the engine's stream into the case store, between two seals, with custody events.

Records are committed in small transactions as they come; each file's records land in the same transaction
as its completion marks, so an interrupted run leaves a consistent store and the same command resumes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from dftk import clock
from dftk.case import custody, integrity
from dftk.case.seal import Changes, Seal, compare, seal
from dftk.case.store import CaseStore
from dftk.engine.engine import Engine, Settings, Sink, file_key
from dftk.engine.progress import Progress
from dftk.engine.registry import LoadedPlugin
from dftk.engine.state import PluginState
from dftk.engine.units import CORE, FileOutcome, Result
from dftk.errors import EvidenceError
from dftk.evidence import Evidence
from dftk.records import Record


@dataclass(slots=True)
class RunSummary:
    run_id: int
    evidence: dict[str, Any]
    seal_before: Seal
    seal_after: Seal | None = None
    plugins: list[dict[str, Any]] = field(default_factory=list)
    files: int = 0
    status: str = "running"
    notes: list[str] = field(default_factory=list)  # what changed since the last seal but is no failure
    problems: int = 0  # problems this run recorded: its output is incomplete
    failed_checks: list[dict[str, Any]] = field(default_factory=list)  # findings marked ``@check: failed``


class StoreSink(Sink):
    """The engine's records into one case store, for one evidence item and one run."""

    def __init__(self, store: CaseStore, evidence_id: int, run_id: int) -> None:
        self.store = store
        self.evidence_id = evidence_id
        self.run_id = run_id

    def open(self, state: PluginState) -> None:
        state.row = self.store.begin_plugin(self.run_id, state.name, state.loaded.cls.version, state.options)

    def done(self, state: PluginState, subjects: list[str]) -> set[str]:
        return self.store.done_among(self.evidence_id, state.unit, subjects)

    def records(self, state: PluginState, records: list[Record]) -> None:
        with self.store.transaction():
            self.store.write(self.evidence_id, self.run_id, state.name, records, state.row)

    def completed(self, state: PluginState, subject: str) -> None:
        with self.store.transaction():
            self.store.mark_done(self.evidence_id, state.unit, [subject])

    def results(self, results: list[Result], states: dict[str, PluginState]) -> None:
        with self.store.transaction():
            for result in results:
                if isinstance(result, FileOutcome):
                    self._outcome(result, states)
                else:
                    self.store.write(self.evidence_id, self.run_id, CORE, [result])

    def _outcome(self, outcome: FileOutcome, states: dict[str, PluginState]) -> None:
        for name, records in outcome.records:
            row = states[name].row if name in states else None
            self.store.write(self.evidence_id, self.run_id, name, records, row)
        for name in outcome.plugins:
            self.store.mark_done(self.evidence_id, states[name].unit, [file_key(outcome.file)])


class Pipeline:
    """Runs the selected plugins over one evidence item into one case store."""

    def __init__(self, evidence: Evidence, store: CaseStore, plugins: list[LoadedPlugin],
                 options: dict[str, dict[str, Any]], settings: Settings | None = None,
                 examiner: str = "unknown", seal_sm3: bool = False) -> None:
        self.evidence = evidence
        self.store = store
        self.plugins = plugins
        self.options = options
        self.settings = settings or Settings()
        self.seal_sm3 = seal_sm3
        self.examiner = examiner
        self.states: list[PluginState] = []

    def run(self) -> RunSummary:
        """Runs everything; on Ctrl-C the store stays consistent and a rerun resumes.

        Raises:
            SignatureError: the case's custody chain or a run's recorded digests do not hold (nothing is
                appended to a case whose history cannot be trusted).
        """
        with self.store.lock():
            return self._run()

    def _run(self) -> RunSummary:
        list(integrity.close_abandoned(self.store, self.examiner))
        integrity.check(self.store)
        summary, evidence_id = self._start()
        engine = Engine(self.evidence, self.plugins, self.options,
                        StoreSink(self.store, evidence_id, summary.run_id), self.settings)
        self.states = engine.states
        try:
            summary.files = engine.run()
        except BaseException:
            self._finish(summary, evidence_id, "interrupted")
            raise
        self._finish(summary, evidence_id, "completed")
        return summary

    def _start(self) -> tuple[RunSummary, int]:
        cluster = self.settings.custody()  # connected (or started) before the case records anything
        info = self.evidence.describe()
        evidence_id = self.store.add_evidence(info)
        before = self._seal("sealing evidence")
        changes = self._since_last(evidence_id, before)
        run_id = self.store.begin_run(evidence_id, custody.command_line(), self.settings.workers, self.examiner)
        self.store.record_seal(evidence_id, run_id, "before", before)
        custody.append(self.store, "run.start", self.examiner, before.sha256, run=run_id,
                       evidence=info["path"], plugins={p.name: p.cls.version for p in self.plugins},
                       host_clock=clock.host_clock(), seal_notes=list(changes.times), **cluster)
        return RunSummary(run_id, info, before, notes=list(changes.times)), evidence_id

    def _since_last(self, evidence_id: int, now: Seal) -> Changes:
        """What changed since the case last sealed this evidence; a content change is refused, and logged."""
        last = self.store.last_seal(evidence_id)
        if last is None:
            return Changes((), ())
        recorded, sources, files = last
        changes = compare(sources, now, None if len(sources) == files else files)
        # the combined digest decides only when the earlier seal lists some of the files (an older case)
        if changes.content or (len(sources) < files and recorded != now.sha256):
            said = changes.said() or f"a file the earlier seal does not list (sha256 {recorded[:16]}... then)"
            custody.append(self.store, "evidence.changed", self.examiner, now.sha256, recorded=recorded,
                           changes=list(changes.content))
            raise EvidenceError(f"{self.evidence.path}: evidence changed since the last run of this case: {said}")
        return changes

    def _seal(self, label: str) -> Seal:
        bar = Progress(label, self.evidence.size if self.evidence.has_media else None, self.settings.progress)
        try:
            return seal(self.evidence, bar.advance, self.seal_sm3)
        finally:
            bar.close()

    def _finish(self, summary: RunSummary, evidence_id: int, status: str) -> None:
        self.store.rollback_open_transaction()  # an interrupt can land between BEGIN and the block that owns it
        for state in self.states:
            outcome = "interrupted" if status == "interrupted" and state.outcome == "ok" else state.final_outcome()
            self.store.end_plugin(state.row, outcome, state.seconds)
        summary.plugins = self.store.plugin_runs(summary.run_id)
        if status == "completed":
            summary.seal_after = self._seal("re-sealing evidence")
            self.store.record_seal(evidence_id, summary.run_id, "after", summary.seal_after)
        summary.status = status
        summary.problems = self.store.problem_count(summary.run_id)
        summary.failed_checks = self.store.failed_checks(summary.run_id)
        self.store.end_run(summary.run_id, status)
        custody.append(self.store, f"run.{status}", self.examiner,
                       summary.seal_after.sha256 if summary.seal_after else None, run=summary.run_id,
                       outcomes={p["plugin"]: p["outcome"] for p in summary.plugins},
                       written=integrity.run_digest(self.store, summary.run_id))
        if summary.seal_after and summary.seal_after.sha256 != summary.seal_before.sha256:
            said = compare(summary.seal_before.recorded(), summary.seal_after).said()
            raise EvidenceError(f"{self.evidence.path}: evidence changed during the run: {said}")


def recorded(store: CaseStore, evidence_path: str, plugins: Iterable[str]) -> Iterable[Record]:
    """The findings, then the problems (the core's too), that the named plugins recorded for one evidence item."""
    names = set(plugins)
    yield from store.records_of(evidence_path, names, findings=True)
    yield from store.records_of(evidence_path, names | {CORE}, findings=False)
