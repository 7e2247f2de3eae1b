"""Reading a case store back, in stable orders: what the case commands, the report and the timeline show.

Every query of the case is here or in ``store.py`` (writes): no other module runs SQL on a case.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from dftk.records import Finding, Problem, Record


class Queries:
    """The read side of ``CaseStore``."""

    db: sqlite3.Connection

    def _rows(self, sql: str, *args: object) -> list[dict[str, Any]]:
        return [dict(r) for r in self.db.execute(sql, args)]

    def meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def findings(self, kind: str | None = None) -> Iterator[dict[str, Any]]:
        """Findings in a stable order (evidence path, subject, kind, data), ``kind`` naming a kind or a
        namespace (``hash`` or ``hash/file``); ``data`` as stored (JSON text), the evidence by path."""
        sql = ("SELECT f.plugin, f.kind, f.subject, f.data, e.path AS evidence FROM findings f "
               "JOIN evidence e ON e.id = f.evidence_id")
        args: tuple[str, ...] = ()
        if kind:
            sql, args = sql + " WHERE f.kind = ? OR f.kind LIKE ?", (kind, kind.rstrip("/") + "/%")
        for row in self.db.execute(sql + " ORDER BY e.path, f.subject, f.kind, f.plugin, f.data", args):
            yield dict(row)

    def problems(self) -> Iterator[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT p.plugin, p.subject, p.message, e.path AS evidence FROM problems p "
            "JOIN evidence e ON e.id = p.evidence_id ORDER BY e.path, p.subject, p.plugin, p.message"
        )
        for row in rows:
            yield dict(row)

    def records_of(self, evidence_path: str, plugins: Iterable[str], findings: bool) -> Iterator[Record]:
        """The findings (or the problems) of the named plugins about one evidence item, in stable order."""
        names = set(plugins)
        if findings:
            yield from (Finding(row["kind"], row["subject"], json.loads(row["data"])) for row in self.findings()
                        if row["plugin"] in names and row["evidence"] == evidence_path)
        else:
            yield from (Problem(row["subject"], row["message"]) for row in self.problems()
                        if row["plugin"] in names and row["evidence"] == evidence_path)

    def plugin_runs(self, run_id: int) -> list[dict[str, Any]]:
        return self._rows("SELECT * FROM plugin_runs WHERE run_id = ? ORDER BY plugin", run_id)

    def evidence_id(self, path: str) -> int | None:
        row = self.db.execute("SELECT id FROM evidence WHERE path = ?", (path,)).fetchone()
        return None if row is None else int(row[0])

    # for reports: ids rather than paths, data parsed

    def evidence_items(self) -> list[dict[str, Any]]:
        """Each evidence item with its stored hashes, metadata and seals (JSON parsed)."""
        items = self._rows("SELECT * FROM evidence ORDER BY id")
        for item in items:
            item["stored_hashes"] = json.loads(item["stored_hashes"])
            item["metadata"] = json.loads(item["metadata"])
            seals = self._rows("SELECT run_id, phase, time, sha256, detail FROM seals WHERE evidence_id = ? "
                               "ORDER BY id", item["id"])
            for seal in seals:
                seal["detail"] = json.loads(seal["detail"])
            item["seals"] = seals
        return items

    def runs(self) -> list[dict[str, Any]]:
        """Each run with its plugins' versions, options (parsed) and outcomes."""
        result = self._rows("SELECT * FROM runs ORDER BY id")
        for run in result:
            plugins = self._rows("SELECT plugin, version, options, outcome, started, finished, seconds, findings, "
                                 "problems FROM plugin_runs WHERE run_id = ? ORDER BY plugin", run["id"])
            for plugin in plugins:
                plugin["options"] = json.loads(plugin["options"])
            run["plugins"] = plugins
        return result

    def parsed_findings(self, kind: str | None = None) -> Iterator[dict[str, Any]]:
        """Findings of one kind (or all) by evidence id, subject, kind, plugin, data; data parsed."""
        where, args = ("WHERE kind = ? ", (kind,)) if kind else ("", ())
        for row in self.db.execute("SELECT evidence_id, plugin, kind, subject, data FROM findings " + where +
                                   "ORDER BY evidence_id, subject, kind, plugin, data", args):
            item = dict(row)
            item["data"] = json.loads(item["data"])
            yield item

    def parsed_problems(self) -> Iterator[dict[str, Any]]:
        for row in self.db.execute("SELECT evidence_id, plugin, subject, message FROM problems "
                                   "ORDER BY evidence_id, subject, plugin, message"):
            yield dict(row)

    def kinds(self) -> dict[str, int]:
        """Findings per kind, in kind order."""
        return {str(k): int(n) for k, n in self.db.execute(
            "SELECT kind, count(*) FROM findings GROUP BY kind ORDER BY kind")}

    def kind_columns(self, kind: str) -> list[str]:
        """The union of the data keys of one kind's findings, sorted."""
        return sorted({key for (data,) in self.db.execute("SELECT data FROM findings WHERE kind = ?", (kind,))
                       for key in json.loads(data)})

    def value_counts(self, field: str = "value") -> Iterator[tuple[str, Any, int]]:
        """``(kind, value, count)`` of one data field over every finding that has it, most frequent first."""
        path = f"$.{field}"
        yield from self.db.execute(
            "SELECT kind, json_extract(data, ?) AS value, count(*) AS n FROM findings "
            "WHERE json_extract(data, ?) IS NOT NULL GROUP BY kind, value ORDER BY kind, n DESC, value",
            (path, path))

    def last_event_time(self) -> str | None:
        row = self.db.execute("SELECT time FROM custody ORDER BY seq DESC LIMIT 1").fetchone()
        return None if row is None else str(row[0])

    def events(self) -> Iterator[dict[str, Any]]:
        """The custody log in order."""
        for row in self.db.execute("SELECT * FROM custody ORDER BY seq"):
            yield dict(row)

    # what the custody chain covers (integrity.py)

    def finding_digests(self, run_id: int, digest: Callable[..., str]) -> Iterator[str]:
        """Each finding a run wrote, digested from its content (not from its stored digest column)."""
        for plugin, kind, subject, data in self.db.execute(
                "SELECT plugin, kind, subject, data FROM findings WHERE run_id = ?", (run_id,)):
            yield digest(plugin, kind, subject, data)

    def problem_digests(self, run_id: int, digest: Callable[..., str]) -> Iterator[str]:
        for plugin, subject, message in self.db.execute(
                "SELECT plugin, subject, message FROM problems WHERE run_id = ?", (run_id,)):
            yield digest(plugin, subject, message)

    def run_rows(self, run_id: int) -> dict[str, Any]:
        """A run's own row, its plugins' rows, its seals and its evidence item's row, as stored."""
        run = self._rows("SELECT * FROM runs WHERE id = ?", run_id)
        evidence = self._rows("SELECT * FROM evidence WHERE id = ?", run[0]["evidence_id"]) if run else []
        return {"run": run, "evidence": evidence,
                # durations are measurements of this machine, not records of the case: left out
                "plugins": self._rows("SELECT id, run_id, plugin, version, options, outcome, started, finished, "
                                      "findings, problems FROM plugin_runs WHERE run_id = ? ORDER BY id", run_id),
                "seals": self._rows("SELECT * FROM seals WHERE run_id = ? ORDER BY id", run_id),
                "sealed": self._rows("SELECT s.* FROM seal_sources s JOIN seals ON seals.id = s.seal_id "
                                     "WHERE seals.run_id = ? ORDER BY s.seal_id, s.path", run_id)}

    def run_ids(self, status: str | None = None) -> list[int]:
        sql, args = ("SELECT id FROM runs WHERE status = ? ORDER BY id", (status,)) if status else (
            "SELECT id FROM runs ORDER BY id", ())
        return [int(row[0]) for row in self.db.execute(sql, args)]

    def runs_without_row(self, runs: list[int]) -> list[int]:
        """Run ids that findings, problems, plugin rows or seals name but the runs table does not hold."""
        named = {int(row[0]) for table in ("findings", "problems", "plugin_runs", "seals")
                 for row in self.db.execute(f"SELECT DISTINCT run_id FROM {table} WHERE run_id IS NOT NULL")}
        return sorted(named - set(runs))

    def custody_triggers(self) -> bool:
        """Whether both append-only triggers of the custody table are in place."""
        names = {row[0] for row in self.db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
        return {"custody_no_update", "custody_no_delete"} <= names

    def failed_checks(self, run_id: int) -> list[dict[str, Any]]:
        """The findings of a run that mark a failed check (``@check: failed``: a stored hash that differs)."""
        rows = self.db.execute("SELECT kind, subject, data FROM findings WHERE run_id = ? AND "
                               "json_extract(data, '$.\"@check\"') = 'failed' ORDER BY id", (run_id,))
        return [{"kind": kind, "subject": subject, "data": json.loads(data)} for kind, subject, data in rows]

    def problem_count(self, run_id: int | None = None) -> int:
        """Problems in the case, or written by one run."""
        if run_id is None:
            return int(self.db.execute("SELECT count(*) FROM problems").fetchone()[0])
        return int(self.db.execute("SELECT count(*) FROM problems WHERE run_id = ?", (run_id,)).fetchone()[0])
