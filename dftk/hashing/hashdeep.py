"""hashdeep's file format: writing its header and lines, and reading a known set back."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from dftk.errors import DftkError

HASHDEEP_MAGIC = "%%%% HASHDEEP-1.0"


def hashdeep_header(algorithms: tuple[str, ...], invocation: str) -> list[str]:
    """The header hashdeep writes: magic, column names, where and how it was invoked."""
    return [HASHDEEP_MAGIC, f"%%%% size,{','.join(algorithms)},filename",
            f"## Invoked from: {os.getcwd()}", f"## $ {invocation}", "## "]


def hashdeep_line(size: int, hashes: dict[str, str], name: str) -> str:
    return ",".join([str(size), *hashes.values(), name])


@dataclass(frozen=True, slots=True)
class Known:
    """One entry of a known set."""

    size: int
    hashes: dict[str, str]
    name: str


def read_hashdeep(path: Path) -> tuple[tuple[str, ...], list[Known]]:
    """Parses a hashdeep-format file into its algorithms and entries.

    Raises:
        DftkError: when the file is not in hashdeep format, naming the line.
    """
    try:
        lines = path.read_text(encoding="utf-8", errors="surrogateescape").splitlines()
    except OSError as e:
        raise DftkError(f"{path}: cannot read known set: {e.strerror or e}") from e
    if not lines or lines[0].strip() != HASHDEEP_MAGIC or len(lines) < 2 or not lines[1].startswith("%%%% size,"):
        raise DftkError(f"{path}: not a hashdeep file (expected '{HASHDEEP_MAGIC}' and a '%%%% size,...' line)")
    columns = lines[1][5:].strip().split(",")
    if columns[-1] != "filename":
        raise DftkError(f"{path}: line 2: last column must be 'filename'")
    algorithms = tuple(c.lower() for c in columns[1:-1])
    return algorithms, [_known(path, n, line, algorithms) for n, line in enumerate(lines[2:], 3)
                        if line.strip() and not line.startswith(("##", "%%%%"))]


def _known(path: Path, number: int, line: str, algorithms: tuple[str, ...]) -> Known:
    parts = line.split(",", len(algorithms) + 1)
    if len(parts) != len(algorithms) + 2 or not parts[0].isdigit():
        raise DftkError(f"{path}: line {number}: expected {len(algorithms) + 2} comma-separated columns")
    return Known(int(parts[0]), dict(zip(algorithms, (h.lower() for h in parts[1:-1]), strict=True)), parts[-1])
