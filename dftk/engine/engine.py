"""The engine: every command that runs plugins drives this one loop.

For one evidence item and a set of plugins it checks each plugin, runs the media pass (one sequential read
shared by every media-scope plugin), the evidence-scope plugins, and the file scope: one walk, the files
grouped into units (``units.py``), each unit run on an executor (``executors.py``) where each file is read
once for every file-scope plugin. Every plugin step runs in the same guard, so a plugin that fails becomes
that plugin's outcome and the others go on.

What happens to the records is the sink's business: the case store for ``dftk run`` (``dftk.case.run``),
the screen for ``dftk scan`` without a case, one record per file for ``dftk meta``. The engine knows
nothing of SQLite, and nothing of any plugin.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from dftk.engine.executors import Executor, InProcessExecutor, ThreadExecutor, UnitCrashed, executor_for
from dftk.engine.media import run_media_pass
from dftk.engine.progress import Progress
from dftk.engine.registry import LoadedPlugin
from dftk.engine.state import PluginState, guard
from dftk.engine.units import CORE, FileBatch, FileOutcome, PluginCall, Result, analyze_batch, plan
from dftk.errors import NotApplicable
from dftk.evidence import Evidence, EvidenceFile
from dftk.fs.walk import files as walk_files
from dftk.records import Finding, Problem, Record, check_json

MEDIA_UNIT = "@media"
EVIDENCE_UNIT = "@evidence"
_COMMIT_EVERY = 500


class Sink:
    """Where a run's records go; every method is called from this process, in order. This base keeps nothing
    and has done nothing: a sink overrides what it needs."""

    def open(self, state: PluginState) -> None:
        """A plugin joins the run (before its check)."""

    def done(self, state: PluginState, subjects: list[str]) -> set[str]:
        """Which of ``subjects`` (``@media``, ``@evidence``, file keys) this plugin has already completed."""
        return set()

    def records(self, state: PluginState, records: list[Record]) -> None:
        """Media- and evidence-scope records, as they come."""

    def completed(self, state: PluginState, subject: str) -> None:
        """A plugin finished a whole scope (``@media``, ``@evidence``)."""

    def results(self, results: list[Result], states: dict[str, PluginState]) -> None:
        """One unit's results in walk order: each file's outcome, or a problem of the walk."""


@dataclass(frozen=True, slots=True)
class Settings:
    """How the work runs: the same results for any of them.

    Attributes:
        workers: local worker processes (or threads) for units; 1 runs them in this process.
        progress: a progress bar on stderr; None: when stderr is a terminal.
        scheduler: a Dask cluster for the units instead (``tcp://host:8786``, ``tls://...``, or ``local:N``
            for N local worker processes started for this process's lifetime); see docs/cluster.md.
    """

    workers: int = 1
    progress: bool | None = None
    scheduler: str | None = None

    def custody(self) -> dict[str, Any]:
        """What a run's custody event records of how its work ran: nothing on this host; on a cluster, the
        scheduler's address and the number of workers (connecting to it, or starting it, when needed)."""
        if self.scheduler is None:
            return {}
        from dftk.engine.cluster import session

        return {"cluster": session(self.scheduler).describe()}


def file_key(file: EvidenceFile) -> str:
    """The subject under which a file's completion is marked."""
    return f"{file.inode}:{file.path}" if file.inode is not None else file.path


class Engine:
    """Runs plugins over one evidence item into a sink."""

    def __init__(self, evidence: Evidence, plugins: list[LoadedPlugin], options: dict[str, dict[str, Any]],
                 sink: Sink, settings: Settings | None = None) -> None:
        self.evidence = evidence
        self.states = [PluginState(p, options.get(p.name, {})) for p in plugins]
        self.sink = sink
        self.settings = settings or Settings()

    def run(self) -> int:
        """Runs every scope; returns the number of files analysed."""
        self.check()
        self.media_scope()
        self.evidence_scope()
        return self.file_scope()

    def check(self) -> None:
        for state in self.states:
            self.sink.open(state)
            try:
                state.instance = state.loaded.cls()
                state.instance.check(self.evidence)
            except NotApplicable as e:
                state.outcome = f"skipped: {e}"
            except Exception as e:  # noqa: BLE001 - one plugin failing must not stop the others
                state.outcome = f"failed: {type(e).__name__}: {e}"

    def active(self, scope: str) -> list[PluginState]:
        return [s for s in self.states if s.outcome == "ok" and scope in s.loaded.cls.scopes()]

    def _pending(self, scope: str, unit: str) -> list[PluginState]:
        return [s for s in self.active(scope) if not self.sink.done(s, [unit])]

    # media scope

    def media_scope(self) -> None:
        if not self.evidence.has_media:
            return
        pending = self._pending("media", MEDIA_UNIT)
        if pending:
            for state in run_media_pass(self.evidence, pending, self._commit, self.settings.progress):
                self.sink.completed(state, MEDIA_UNIT)

    # evidence scope

    def evidence_scope(self) -> None:
        for state in self._pending("evidence", EVIDENCE_UNIT):
            bar = Progress(f"{state.name} (evidence)", self.evidence.size or None, self.settings.progress)
            self.evidence.observer = bar.advance
            try:
                records = state.instance.run(self.evidence, **state.options)  # type: ignore[union-attr]
                if guard(state, "evidence", self._stream, state, records) is not None:
                    self.sink.completed(state, EVIDENCE_UNIT)
            finally:
                self.evidence.observer = None
                bar.close()

    def _stream(self, state: PluginState, records: Iterable[Record]) -> bool:
        """Hands records on in small groups as they come; nothing holds them all."""
        batch: list[Record] = []
        try:
            for record in records:
                if isinstance(record, Finding):
                    check_json(record.data, state.name)  # fail here, so the records before it still land
                batch.append(record)
                if len(batch) >= _COMMIT_EVERY:
                    self.sink.records(state, batch)
                    batch = []
        finally:
            # what a plugin found before it failed is still evidence: keep it
            self.sink.records(state, batch)
        return True

    def _commit(self, state: PluginState, records: Iterable[Record]) -> None:
        """The media pass's records for a sink, each finding's data checked first."""
        records = list(records)
        for record in records:
            if isinstance(record, Finding):
                check_json(record.data, state.name)
        self.sink.records(state, records)

    # file scope

    def file_scope(self) -> int:
        states = self.active("file")
        if not states:
            return 0
        by_name = {s.name: s for s in states}
        calls = tuple(PluginCall.of(s.loaded.cls, s.name, s.options) for s in states)
        executor = self._executor(states)
        bar = Progress("files", self.evidence.size or None, self.settings.progress)
        analyzed = 0
        try:
            batches = plan(walk_files(self.evidence), self.evidence.spec, calls, partial(self._needs, by_name),
                           lambda file: bar.advance(file.size, 1))
            for result in executor.map(self._analyzer(executor, states), batches):
                results = _crashed(result) if isinstance(result, UnitCrashed) else result
                results = [self._settle(r, by_name) for r in results]
                self.sink.results(results, by_name)
                outcomes = [r for r in results if isinstance(r, FileOutcome)]
                analyzed += len(outcomes)
                bar.advance(sum(o.file.size for o in outcomes), len(outcomes))
        except BaseException:
            executor.close(cancel=True)
            raise
        finally:
            bar.close()
        executor.close()
        return analyzed

    def _executor(self, states: list[PluginState]) -> Executor:
        threads = all(s.loaded.cls.threads for s in states)
        return executor_for(self.settings.workers, self.evidence, threads=threads, scheduler=self.settings.scheduler)

    @staticmethod
    def _analyzer(executor: Executor, states: list[PluginState]) -> Any:
        """``analyze_batch``, handed the live plugin instances when its units run in this process."""
        if isinstance(executor, (InProcessExecutor, ThreadExecutor)):
            return partial(analyze_batch, plugins={s.name: s.instance for s in states if s.instance is not None})
        return analyze_batch

    def _needs(self, by_name: dict[str, PluginState], files: list[EvidenceFile]) -> list[tuple[str, ...]]:
        keys = [file_key(f) for f in files]
        done = {name: self.sink.done(state, keys) for name, state in by_name.items()}
        return [tuple(n for n in by_name if key not in done[n]) for key in keys]

    @staticmethod
    def _settle(result: Result, by_name: dict[str, PluginState]) -> Result:
        """A plugin that raised on a file: counted against the plugin, and a problem recorded under it."""
        if isinstance(result, Problem) or not result.errors:
            _add_seconds(result, by_name)
            return result
        records = list(result.records)
        for name, reason in result.errors:
            by_name[name].fail(f"{result.file.path}: {reason}")
            records.append((name, (Problem(result.file.path, f"plugin {name} raised {reason}"),)))
        settled = FileOutcome(result.file, tuple(records), result.errors, result.plugins, result.seconds)
        _add_seconds(settled, by_name)
        return settled


def _add_seconds(result: Result, by_name: dict[str, PluginState]) -> None:
    if isinstance(result, FileOutcome):
        for name, seconds in result.seconds:
            by_name[name].seconds += seconds


def _crashed(result: UnitCrashed) -> list[Result]:
    """Every file of a unit whose worker died gets a Problem; the run goes on with the next unit."""
    batch = result.unit
    assert isinstance(batch, FileBatch)
    count = sum(1 for _ in batch.files())
    problem = f"not analysed: {result.reason} while reading one of the {count} files of its batch"
    return [item if isinstance(item, Problem) else
            FileOutcome(item[0], ((CORE, (Problem(item[0].path, problem),)),), (), item[1])
            for item in batch.items]


def screen(evidence: Evidence, plugins: list[LoadedPlugin], options: dict[str, dict[str, Any]], sink: Sink,
           settings: Settings | None = None) -> list[PluginState]:
    """Runs plugins into a sink that records nothing (nothing is done already); returns their states."""
    engine = Engine(evidence, plugins, options, sink, settings)
    engine.run()
    return engine.states


class Screen(Sink):
    """A sink for a run that records nothing: every record is handed to ``emit`` as it comes."""

    def __init__(self, emit: Any) -> None:
        self.emit = emit

    def records(self, state: PluginState, records: list[Record]) -> None:
        self.emit(records)

    def results(self, results: list[Result], states: dict[str, PluginState]) -> None:
        self.emit(_flatten(results))


def _flatten(results: list[Result]) -> Iterator[Record]:
    for result in results:
        if isinstance(result, Problem):
            yield result
        else:
            for _, records in result.records:
                yield from records
