"""hashdeep-style audit (``-a -k``): each hashed file matched, moved, partial or new against a known set; the
known files nobody matched are missing."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from dftk.errors import DftkError
from dftk.hashing.algorithms import ALGORITHMS
from dftk.hashing.hashdeep import Known


@dataclass(slots=True)
class Audit:
    """hashdeep's audit (``-a -k``): each hashed file is matched, moved, partial or new; the known files
    nobody matched are missing."""

    algorithms: tuple[str, ...]
    entries: list[Known]
    common: tuple[str, ...] = ()
    used: set[int] = field(default_factory=set)
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("matched", "moved", "partial", "new", "missing"), 0))
    _by_hash: dict[tuple[str, str], list[int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.common = tuple(a for a in self.algorithms if a in ALGORITHMS)
        if not self.common:
            raise DftkError("known set has no algorithm dftk computes")
        for i, entry in enumerate(self.entries):
            for algorithm in self.common:
                self._by_hash.setdefault((algorithm, entry.hashes[algorithm]), []).append(i)

    def classify(self, name: str, size: int, hashes: dict[str, str]) -> tuple[str, str | None]:
        """Returns ``(verdict, known name)`` for one hashed file and remembers which entries were used."""
        candidates = self._candidates(hashes)
        full = [i for i, n in candidates if n == len(self.common) and self.entries[i].size == size]
        if full:
            same = [i for i in full if _same_path(self.entries[i].name, name)]
            chosen = (same or full)[0]
            verdict = "matched" if same else "moved"
        elif candidates:
            chosen, verdict = candidates[0][0], "partial"
        else:
            self.counts["new"] += 1
            return "new", None
        self.used.add(chosen)
        self.counts[verdict] += 1
        return verdict, self.entries[chosen].name

    def _candidates(self, hashes: dict[str, str]) -> list[tuple[int, int]]:
        hits: dict[int, int] = {}
        for algorithm in self.common:
            if algorithm in hashes:
                for i in self._by_hash.get((algorithm, hashes[algorithm]), []):
                    hits[i] = hits.get(i, 0) + 1
        return sorted(hits.items(), key=lambda kv: -kv[1])

    def missing(self) -> list[Known]:
        """The known entries no hashed file matched (call once, after every file)."""
        gone = [e for i, e in enumerate(self.entries) if i not in self.used]
        self.counts["missing"] = len(gone)
        return gone

    @property
    def passed(self) -> bool:
        return all(self.counts[k] == 0 for k in ("moved", "partial", "new", "missing"))


def _same_path(known: str, seen: str) -> bool:
    return os.path.normpath(known) == os.path.normpath(seen)
