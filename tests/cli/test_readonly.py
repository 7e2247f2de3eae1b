"""Evidence is read-only: after every command, each source's bytes, size and mtime are unchanged."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from helpers import dftk, file_state, shared_data


@pytest.fixture(params=["raw", "split", "e01", "split-e01", "logical"])
def evidence(request: pytest.FixtureRequest, tmp_path: Path, tree: Path) -> tuple[Path, list[Path]]:
    """A private copy of each kind of evidence, so a write by mistake could not touch shared data."""
    sources = {
        "raw": ["sleuthkit/test/data/image.dd"],
        "split": ["dfvfs/ext2.splitraw.000", "dfvfs/ext2.splitraw.001"],
        "e01": ["dfvfs/ext2.E01"],
        "split-e01": ["dfvfs/ext2.split.E01", "dfvfs/ext2.split.E02"],
        "logical": [],
    }[request.param]
    if not sources:
        return tree, [tree]
    copies = []
    for name in sources:
        copy = tmp_path / Path(name).name
        shutil.copy2(shared_data(name), copy)
        copies.append(copy)
    return copies[0], copies


COMMANDS = [
    ["run", "{ev}", "--case", "{case}"],
    ["run", "{ev}", "--case", "{case}", "--workers", "2"],
    ["evidence", "info", "{ev}", "--json"],
    ["case", "log", "{case}"],
    ["case", "findings", "{case}"],
    ["report", "{case}", "-o", "{out}/report"],
]
# commands that read file systems inside media evidence
MEDIA_COMMANDS = [
    ["fs", "volumes", "{ev}"],
    ["fs", "ls", "{ev}", "--hash", "sha256"],
    ["fs", "extract", "{ev}", "{out}/extracted", "--deleted"],
    ["fs", "unalloc", "{ev}", "{out}/unalloc"],
    ["timeline", "{ev}"],
]


def test_no_command_changes_the_evidence(evidence: tuple[Path, list[Path]], tmp_path: Path) -> None:
    path, sources = evidence
    before = file_state(sources)
    commands = COMMANDS + (MEDIA_COMMANDS if path.is_file() else [])
    for command in commands:
        args = [a.format(ev=path, case=tmp_path / "case", out=tmp_path) for a in command]
        result = dftk(*args)
        assert result.exit_code == 0, (args, result.output, result.stderr)
        assert file_state(sources) == before, f"evidence changed by: dftk {' '.join(args)}"
