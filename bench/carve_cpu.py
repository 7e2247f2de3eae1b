"""Where the carver's time goes: every unit of an image carved in this one process, with the time spent in
the candidate scan, in each type's validator, in each type's gap carver and in hashing what was found
(nothing is written: no output folder). Not a test.

  .venv/bin/python bench/carve_cpu.py IMAGE        (e.g. the image bench/carve.sh builds; KEEP=1 keeps it)

Lazy imports (numpy, simplejpeg) land on the first validator that needs them: run it twice and read the
second run.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from dftk.api import open_evidence
from dftk_plugins.carving import engine, formats


def timed(name: str, fn: Callable[..., Any], spent: Counter[str], calls: Counter[str]) -> Callable[..., Any]:
    def run(*args: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args)
        finally:
            spent[name] += time.perf_counter() - start
            calls[name] += 1
    return run


def main(image: str) -> None:
    validators: Counter[str] = Counter()
    gaps: Counter[str] = Counter()
    calls: Counter[str] = Counter()
    for f in formats.FORMATS:
        engine.BY_NAME[f.name] = dataclasses.replace(
            f, validate=timed(f.name, f.validate, validators, calls), gaps=f.gaps and timed(f.name, f.gaps, gaps, Counter()))
    engine.Scanner.find = timed("<scan>", engine.Scanner.find, validators, calls)  # type: ignore[method-assign]
    engine._settle = timed("<sha256>", engine._settle, validators, calls)  # each hit hashed where it was found
    start = time.perf_counter()
    hits = 0
    with open_evidence(image, "raw") as ev:
        for unit in engine.units(ev, ((0, ev.size),), formats.TYPE_NAMES):
            hits += len(engine.carve_unit(unit))
    print(f"one process: {time.perf_counter() - start:.2f} s, {hits} hits")
    for name, spent in validators.most_common():
        print(f"  {name:<10} {spent:6.3f} s  ({calls[name]} calls)")
    for name, spent in gaps.most_common():
        print(f"  gaps {name:<10} {spent:6.3f} s")


if __name__ == "__main__":
    main(sys.argv[1])
