"""The command line: version, help that teaches, machine output, exit codes, the outside plugin."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dftk import __version__
from helpers import dftk, dftk_process

COMMANDS = [["run"], ["plugins"], ["case", "log"], ["case", "findings"], ["case", "problems"],
            ["evidence", "info"], ["scan"],
            ["hash"], ["acquire"], ["meta"], ["carve"]]


def test_version() -> None:
    result = dftk("--version")
    assert result.exit_code == 0 and result.output.strip() == f"dftk {__version__}"


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help_with_an_example(command: list[str]) -> None:
    result = dftk(*command, "--help")
    assert result.exit_code == 0
    assert "Example:" in result.output and f"dftk {' '.join(command)}" in result.output


def test_plugins_json_lists_builtin_and_outside_plugins() -> None:
    result = dftk("plugins", "--json")
    plugins = {p["name"]: p for p in map(json.loads, result.output.splitlines())}
    assert plugins["hashing"]["discipline"] == "digital" and plugins["hashing"]["version"]
    assert plugins["hashing"]["scopes"] == ["media", "file"]
    assert "linecount" in plugins, "install tests/outside_plugin (make test does)"
    assert plugins["linecount"]["discipline"] == "text"
    assert plugins["linecount"]["source"].startswith("dftk-linecount")


def test_outside_plugin_option_appears_and_runs(tmp_path: Path) -> None:
    help_text = dftk("run", "--help").output
    assert "--linecount-min-lines" in help_text and "--hashing-algorithms" in help_text
    (tmp_path / "ev").mkdir()
    (tmp_path / "ev" / "short.txt").write_text("one\n")
    (tmp_path / "ev" / "long.txt").write_text("1\n2\n3\n4\n")
    result = dftk("run", tmp_path / "ev", "--case", tmp_path / "case", "--plugin", "linecount",
                  "--linecount-min-lines", "3", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["plugins"][0]["outcome"] == "ok"
    found = [json.loads(line) for line in dftk("case", "findings", tmp_path / "case", "--json").output.splitlines()]
    assert [(f["subject"], f["data"]) for f in found] == [("/long.txt", {"lines": 4})]


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert dftk("run", tmp_path, "--case", tmp_path / "c", "--no-such-option").exit_code == 2
    assert dftk("run", tmp_path, "--case", tmp_path / "c", "--plugin", "nonexistent").exit_code == 2
    assert dftk("run", tmp_path).exit_code == 2  # --case is required
    assert dftk("run", tmp_path, "--case", tmp_path / "c", "--hashing-algorithms", "crc7").exit_code == 2


def test_run_json_summary(tree: Path, tmp_path: Path) -> None:
    result = dftk("run", tree, "--case", tmp_path / "case", "--json", "--plugin", "hashing")
    summary = json.loads(result.output)
    assert summary["status"] == "completed" and summary["files"] == 300
    assert summary["seal_before"] == summary["seal_after"]
    assert summary["evidence"]["format"] == "logical"


def test_errors_are_one_line_on_stderr_without_traceback(tmp_path: Path) -> None:
    result = dftk_process("case", "findings", tmp_path / "nowhere")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and "not a dftk case folder" in result.stderr


def test_progress_bar_goes_to_stderr_only(tree: Path, tmp_path: Path) -> None:
    result = dftk("run", tree, "--case", tmp_path / "case", "--plugin", "hashing", "--progress", "--json")
    assert "files" in result.stderr and "B/s" in result.stderr
    assert json.loads(result.stdout)["files"] == 300


def test_a_plugin_command_may_not_take_a_used_name(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib.metadata import EntryPoint

    import dftk.cli
    from dftk.errors import PluginLoadError

    clash = [EntryPoint(name="run", value="evil_pkg:run", group="dftk.commands")]
    monkeypatch.setattr(dftk.cli, "entry_points", lambda group: clash)
    with pytest.raises(PluginLoadError, match="evil_pkg:run"):
        dftk.cli.plugin_commands({"run": "dftk.cli.commands.run:run"})
