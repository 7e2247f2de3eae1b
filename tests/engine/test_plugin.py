"""The plugin contract: validation at registration, discovery, outcomes recorded per plugin."""

from __future__ import annotations

from collections.abc import Iterator
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any, ClassVar

import click
import pytest

from dftk.case.run import Pipeline
from dftk.case.store import CaseStore
from dftk.engine.contract import Plugin
from dftk.engine.engine import Settings
from dftk.engine.registry import LoadedPlugin, discover, validate
from dftk.errors import NotApplicable, PluginLoadError
from dftk.evidence.base import Evidence
from dftk.evidence.files import Buffer, EvidenceFile
from dftk.evidence.opening import open_evidence
from dftk.records import Finding, Problem, Record


class Good(Plugin):
    """A valid plugin."""

    name: ClassVar[str] = "good"
    discipline: ClassVar[str] = "digital"
    version: ClassVar[str] = "1.0"

    def analyze(self, file: EvidenceFile, data: Buffer, **opts: Any) -> Iterator[Record]:
        yield Finding("test/size", file.path, {"size": len(data)})


class SameName(Good):
    """Another plugin that claims the name 'good'."""


class Raises(Plugin):
    """Fails in its evidence scope."""

    name: ClassVar[str] = "raises"
    discipline: ClassVar[str] = "digital"
    version: ClassVar[str] = "1.0"

    def run(self, evidence: Evidence, **opts: Any) -> Iterator[Record]:
        yield Finding("test/partial", "evidence", {"n": 1})
        raise RuntimeError("broken parser")


class NotForThis(Plugin):
    """Never applies."""

    name: ClassVar[str] = "never"
    discipline: ClassVar[str] = "digital"
    version: ClassVar[str] = "1.0"

    def check(self, evidence: Evidence) -> None:
        raise NotApplicable("needs an NTFS volume")

    def run(self, evidence: Evidence, **opts: Any) -> Iterator[Record]:
        raise AssertionError("must not run")


class Picky(Plugin):
    """Raises on one file, returns non-JSON on another, works on the rest."""

    name: ClassVar[str] = "picky"
    discipline: ClassVar[str] = "digital"
    version: ClassVar[str] = "1.0"

    def analyze(self, file: EvidenceFile, data: Buffer, **opts: Any) -> Iterator[Record]:
        if file.path.endswith("file00003.txt"):
            raise ValueError("cannot parse this one")
        if file.path.endswith("file00004.txt"):
            yield Finding("test/bad", file.path, {"raw": b"bytes are not JSON"})
            return
        yield Problem(file.path, "odd but fine") if file.path.endswith("00005.txt") else Finding(
            "test/ok", file.path, {"n": len(data)})


def _entry(name: str, attr: str) -> EntryPoint:
    return EntryPoint(name=name, value=f"{__name__}:{attr}", group="dftk.plugins")


def test_duplicate_names_fail_naming_both_sources() -> None:
    with pytest.raises(PluginLoadError) as err:
        discover([_entry("good", "Good"), _entry("good2", "SameName")])
    assert f"{__name__}:Good" in str(err.value) and f"{__name__}:SameName" in str(err.value)


def test_import_failure_names_the_plugin() -> None:
    bad = EntryPoint(name="ghost", value="no_such_module_xyz:Plugin", group="dftk.plugins")
    with pytest.raises(PluginLoadError, match="ghost"):
        discover([bad])


def test_discovery_loads_valid_plugins() -> None:
    found = discover([_entry("good", "Good"), _entry("raises", "Raises")])
    assert sorted(found) == ["good", "raises"]
    assert found["good"].describe()["scopes"] == ["file"]
    assert found["raises"].describe()["scopes"] == ["evidence"]


@pytest.mark.parametrize("attrs, message", [
    ({"name": "Bad Name"}, "must match"),
    ({"version": ""}, "version"),
    ({"options": (click.Option(["--other-thing"]),)}, "must be named --good-"),
    ({"options": ("--good-x",)}, "click.Option"),
])
def test_validation_rejects_broken_plugins(attrs: dict[str, Any], message: str) -> None:
    broken = type("Broken", (Good,), attrs)
    with pytest.raises(PluginLoadError, match=message):
        validate(broken, "test")


def test_plugin_without_any_scope_is_rejected() -> None:
    empty = type("Empty", (Plugin,), {"name": "empty", "discipline": "x", "version": "1"})
    with pytest.raises(PluginLoadError, match="defines none of"):
        validate(empty, "test")
    with pytest.raises(PluginLoadError, match="not a subclass"):
        validate(object, "test")


def _run(evidence: Evidence, case: Path, *classes: type[Plugin]) -> CaseStore:
    store = CaseStore.open(case)
    Pipeline(evidence, store, [LoadedPlugin(c, "test") for c in classes], {}, Settings(progress=False)).run()
    return store


def test_failing_and_inapplicable_plugins_are_recorded_and_the_run_goes_on(tmp_path: Path) -> None:
    store = _run(Evidence.from_bytes(b"\0" * 4096), tmp_path / "case", Raises, NotForThis)
    outcomes = {r["plugin"]: r["outcome"] for r in store.db.execute("SELECT * FROM plugin_runs")}
    assert outcomes == {"raises": "failed: RuntimeError: broken parser", "never": "skipped: needs an NTFS volume"}
    assert [f["kind"] for f in store.findings()] == ["test/partial"]


def test_file_scope_failures_become_problems(tree: Path, tmp_path: Path) -> None:
    store = _run(open_evidence(tree), tmp_path / "case", Picky, Good)
    outcomes = {r["plugin"]: r["outcome"] for r in store.db.execute("SELECT * FROM plugin_runs")}
    assert outcomes["good"] == "ok"
    assert outcomes["picky"].startswith("failed: raised on 2 item(s)")
    problems = {(p["plugin"], p["subject"].rsplit("/", 1)[-1]): p["message"] for p in store.problems()}
    assert "cannot parse this one" in problems[("picky", "file00003.txt")]
    assert "not JSON values" in problems[("picky", "file00004.txt")]
    assert problems[("picky", "file00005.txt")] == "odd but fine"
    kinds = [f["kind"] for f in store.findings()]
    assert kinds.count("test/size") == 300 and kinds.count("test/ok") == 297
