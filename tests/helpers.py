"""Test helpers: third-party test data in ../shared/testdata, CLI runners, evidence builders."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from dftk.cli import cli

REPO = Path(__file__).resolve().parent.parent
TESTDATA = REPO.parent / "shared" / "testdata"
FIXTURES = REPO / "fixtures"


def shared_data(relative: str) -> Path:
    """A file from ../shared/testdata (never copied into the repository); skips when the set is absent."""
    path = TESTDATA / relative
    if not path.exists():
        pytest.skip(f"third-party test data not found: {path}")
    return path


def require_tool(name: str) -> str:
    """A peer tool used as an oracle. `make test` installs them; in CI a missing one is a failure."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail(f"{name} is not installed (make test installs the Debian packages)")
    pytest.skip(f"{name} is not installed; run `make test` to install the oracles")


def expected_ewf_md5() -> dict[str, str]:
    """Stored and computed MD5 per E01 from ewfinfo/ewfverify, as recorded in _expected/ewf_info.txt."""
    text = shared_data("_expected/ewf_info.txt").read_text()
    result = {}
    for block in text.split("=== ")[1:]:
        name = block.splitlines()[0].strip().removeprefix("./")
        m = re.search(r"MD5 hash calculated over data:\s+([0-9a-f]{32})", block)
        if m and "ewfverify: SUCCESS" in block:
            result[name] = m.group(1)
    return result


def dftk(*args: str, **kwargs: object) -> Result:
    """Runs the CLI in this process (click's CliRunner)."""
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False, **kwargs)  # type: ignore[arg-type]


def dftk_process(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Runs the CLI as a separate process, exactly as an examiner would."""
    return subprocess.run([sys.executable, "-m", "dftk", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, check=False)


def file_state(paths: list[Path]) -> list[tuple[str, int, int, str]]:
    """Bytes (as sha256), size and mtime of every file under the given paths."""
    state = []
    for root in paths:
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
        for f in files:
            st = f.stat()
            state.append((str(f), st.st_size, st.st_mtime_ns, hashlib.sha256(f.read_bytes()).hexdigest()))
    return state


def make_tree(root: Path, count: int, seed: int = 7) -> list[Path]:
    """A directory of ``count`` small files with varied content and a few nested folders."""
    files = []
    for i in range(count):
        folder = root / f"d{i % 17:02d}" / f"e{i % 5}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"file{i:05d}.txt"
        path.write_bytes(f"line {i}\n".encode() * (1 + (i * seed) % 13))
        files.append(path)
    return files
