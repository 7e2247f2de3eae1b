"""One pass over the evidence: seal, evidence-scope plugins, one file walk feeding every file-scope
plugin, seal again. Records stream into the case store; completion marks make a rerun resume."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from dftk import custody
from dftk.case import CaseStore
from dftk.errors import EvidenceError, NotApplicable
from dftk.evidence import Evidence
from dftk.executors import Executor, InProcessExecutor, UnitCrashed
from dftk.files import EvidenceFile
from dftk.mediascope import run_media_pass
from dftk.plugin import Finding, LoadedPlugin, Problem, Record, check_json
from dftk.pluginstate import PluginState as PluginState  # re-exported: plugins' commands build runs
from dftk.pluginstate import guard
from dftk.progress import Progress
from dftk.seal import Seal, seal
from dftk.work import CORE, FileBatch, FileOutcome, PluginCall, analyze_batch, share

_EVIDENCE_UNIT = "@evidence"
_MEDIA_UNIT = "@media"
_COMMIT_EVERY = 500


@dataclass(slots=True)
class RunSummary:
    run_id: int
    evidence: dict[str, Any]
    seal_before: Seal
    seal_after: Seal | None = None
    plugins: list[dict[str, Any]] = field(default_factory=list)
    files: int = 0
    status: str = "running"


class Pipeline:
    """Runs the selected plugins over one evidence item into one case store."""

    def __init__(self, evidence: Evidence, store: CaseStore, plugins: list[LoadedPlugin],
                 options: dict[str, dict[str, Any]], executor: Executor | None = None,
                 examiner: str = "unknown", progress: bool | None = None) -> None:
        self.evidence = evidence
        self.store = store
        self.states = [PluginState(p, options.get(p.name, {})) for p in plugins]
        self.executor = executor or InProcessExecutor()
        self.examiner = examiner
        self.progress = progress
        self.evidence_id = 0
        self.run_id = 0

    def run(self) -> RunSummary:
        """Runs everything; on Ctrl-C the store stays consistent and a rerun resumes."""
        summary = self._start()
        try:
            self._check_plugins()
            self._run_media_scope()
            self._run_evidence_scope()
            summary.files = self._run_file_scope()
        except BaseException:
            self._finish(summary, "interrupted")
            raise
        self._finish(summary, "completed")
        return summary

    def _start(self) -> RunSummary:
        info = self.evidence.describe()
        self.evidence_id = self.store.add_evidence(info)
        before = self._seal("sealing evidence")
        previous = self.store.last_seal(self.evidence_id)
        if previous is not None and previous != before.sha256:
            custody.append(self.store, "evidence.changed", self.examiner, before.sha256, recorded=previous)
            raise EvidenceError(
                f"{self.evidence.path}: evidence changed since the last run of this case "
                f"(sha256 {previous[:16]}... then, {before.sha256[:16]}... now)"
            )
        self.run_id = self.store.begin_run(self.evidence_id, custody.command_line(), self.executor.workers,
                                           self.examiner)
        self.store.record_seal(self.evidence_id, self.run_id, "before", before.sha256, before.summary())
        custody.append(self.store, "run.start", self.examiner, before.sha256, run=self.run_id,
                       evidence=info["path"], plugins={s.name: s.loaded.cls.version for s in self.states})
        return RunSummary(self.run_id, info, before)

    def _seal(self, label: str) -> Seal:
        bar = Progress(label, self.evidence.size if self.evidence.has_media else None, self.progress)
        try:
            return seal(self.evidence, bar.advance)
        finally:
            bar.close()

    def _check_plugins(self) -> None:
        for state in self.states:
            state.row = self.store.begin_plugin(self.run_id, state.name, state.loaded.cls.version, state.options)
            try:
                state.instance = state.loaded.cls()
                state.instance.check(self.evidence)
            except NotApplicable as e:
                state.outcome = f"skipped: {e}"
            except Exception as e:  # noqa: BLE001 - one plugin failing must not stop the others
                state.outcome = f"failed: {type(e).__name__}: {e}"

    def _active(self, scope: str) -> list[PluginState]:
        return [s for s in self.states if s.outcome == "ok" and getattr(s.loaded.cls, f"has_{scope}_scope")()]

    # media scope

    def _run_media_scope(self) -> None:
        if not self.evidence.has_media:
            return
        pending = [s for s in self._active("media")
                   if not self.store.done_among(self.evidence_id, s.unit, [_MEDIA_UNIT])]
        if not pending:
            return
        for state in run_media_pass(self.evidence, pending, self._commit, self.progress):
            with self.store.transaction():
                self.store.mark_done(self.evidence_id, state.unit, [_MEDIA_UNIT])

    # evidence scope

    def _run_evidence_scope(self) -> None:
        for state in self._active("evidence"):
            if self.store.done_among(self.evidence_id, state.unit, [_EVIDENCE_UNIT]):
                continue
            bar = Progress(f"{state.name} (evidence)", self.evidence.size or None, self.progress)
            self.evidence.observer = bar.advance
            try:
                if guard(state, "evidence", self._stream, state, state.instance.run(  # type: ignore[union-attr]
                        self.evidence, **state.options)) is not None:
                    with self.store.transaction():
                        self.store.mark_done(self.evidence_id, state.unit, [_EVIDENCE_UNIT])
            finally:
                self.evidence.observer = None
                bar.close()

    def _stream(self, state: PluginState, records: Iterable[Record]) -> bool:
        """Commits records in small transactions as they come; nothing holds them all."""
        batch: list[Record] = []
        try:
            for record in records:
                if isinstance(record, Finding):
                    check_json(record.data, state.name)  # fail here, so the records before it still land
                batch.append(record)
                if len(batch) >= _COMMIT_EVERY:
                    self._commit(state, batch)
                    batch = []
        finally:
            # what a plugin found before it failed is still evidence: keep it
            self._commit(state, batch)
        return True

    def _commit(self, state: PluginState, records: Iterable[Record]) -> None:
        records = list(records)
        for record in records:
            if isinstance(record, Finding):
                check_json(record.data, state.name)
        with self.store.transaction():
            self.store.write(self.evidence_id, self.run_id, state.name, records, state.row)

    # file scope

    def _run_file_scope(self) -> int:
        states = self._active("file")
        if not states:
            return 0
        by_name = {s.name: s for s in states}
        calls = tuple(PluginCall(s.name, tuple(sorted(s.options.items()))) for s in states)
        bar = Progress("files", self.evidence.size or None, self.progress)
        if isinstance(self.executor, InProcessExecutor):
            share({s.name: s.instance for s in states if s.instance is not None})
        files = 0
        try:
            batches = self._batches(calls, by_name, bar)
            for result in self.executor.map(analyze_batch, batches):
                outcomes = _crashed(result) if isinstance(result, UnitCrashed) else result
                self._store_outcomes(outcomes, by_name)
                files += len(outcomes)
                bar.advance(sum(o.file.size for o in outcomes), len(outcomes))
        except BaseException:
            self.executor.close(cancel=True)
            raise
        finally:
            bar.close()
        self.executor.close()
        return files

    def _batches(self, calls: tuple[PluginCall, ...], by_name: dict[str, PluginState],
                 bar: Progress) -> Iterator[FileBatch]:
        pending: list[EvidenceFile] = []
        for item in self.evidence.walk():
            if isinstance(item, Problem):
                self._write_core([item])
                continue
            pending.append(item)
            if len(pending) >= 256:
                yield from self._plan(pending, calls, by_name, bar)
                pending = []
        yield from self._plan(pending, calls, by_name, bar)

    def _plan(self, files: list[EvidenceFile], calls: tuple[PluginCall, ...],
              by_name: dict[str, PluginState], bar: Progress) -> Iterator[FileBatch]:
        """Groups files into units, leaving out the plugins each file has already been through."""
        keys = [_key(f) for f in files]
        done = {n: self.store.done_among(self.evidence_id, s.unit, keys) for n, s in by_name.items()}
        batch = FileBatch(self.evidence.spec, calls)
        for file, key in zip(files, keys, strict=True):
            names = tuple(n for n in by_name if key not in done[n])
            if not names:
                bar.advance(file.size, 1)
                continue
            batch.items.append((file, names))
            batch.nbytes += file.size
            if batch.full():
                yield batch
                batch = FileBatch(self.evidence.spec, calls)
        if batch.items:
            yield batch

    def _store_outcomes(self, outcomes: list[FileOutcome], by_name: dict[str, PluginState]) -> None:
        with self.store.transaction():
            for outcome in outcomes:
                for name, records in outcome.records:
                    row = by_name[name].row if name in by_name else None
                    self.store.write(self.evidence_id, self.run_id, name, records, row)
                for name, reason in outcome.errors:
                    by_name[name].fail(f"{outcome.file.path}: {reason}")
                    self.store.write(self.evidence_id, self.run_id, name,
                                     [Problem(outcome.file.path, f"plugin {name} raised {reason}")], by_name[name].row)
                for name, seconds in outcome.seconds:
                    by_name[name].seconds += seconds
                for name in outcome.plugins:
                    self.store.mark_done(self.evidence_id, by_name[name].unit, [_key(outcome.file)])

    def _write_core(self, problems: list[Record]) -> None:
        with self.store.transaction():
            self.store.write(self.evidence_id, self.run_id, CORE, problems)

    # closing

    def _finish(self, summary: RunSummary, status: str) -> None:
        if self.store.db.in_transaction:  # an interrupt can land between BEGIN and the block that owns it
            self.store.db.execute("ROLLBACK")
        for state in self.states:
            outcome = "interrupted" if status == "interrupted" and state.outcome == "ok" else state.final_outcome()
            self.store.end_plugin(state.row, outcome, state.seconds)
        summary.plugins = self.store.plugin_runs(self.run_id)
        if status == "completed":
            summary.seal_after = self._seal("re-sealing evidence")
            self.store.record_seal(self.evidence_id, self.run_id, "after", summary.seal_after.sha256,
                                   summary.seal_after.summary())
        summary.status = status
        self.store.end_run(self.run_id, status)
        custody.append(self.store, f"run.{status}", self.examiner,
                       summary.seal_after.sha256 if summary.seal_after else None, run=self.run_id,
                       outcomes={p["plugin"]: p["outcome"] for p in summary.plugins})
        if summary.seal_after and summary.seal_after.sha256 != summary.seal_before.sha256:
            raise EvidenceError(f"{self.evidence.path}: evidence changed during the run (seal before and after differ)")


def _crashed(result: UnitCrashed) -> list[FileOutcome]:
    """Every file of a unit whose worker died gets a Problem; the run goes on with the next unit."""
    batch = result.unit
    assert isinstance(batch, FileBatch)
    problem = f"not analysed: {result.reason} while reading one of the {len(batch.items)} files of its batch"
    return [FileOutcome(file, ((CORE, (Problem(file.path, problem),)),), (), names) for file, names in batch.items]


def _key(file: EvidenceFile) -> str:
    return f"{file.inode}:{file.path}" if file.inode is not None else file.path
