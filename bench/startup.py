#!/usr/bin/env python3
"""What each of dftk's start-up shortcuts (dftk/shortcuts.py) saves, measured on whole commands.

    .venv/bin/python bench/startup.py [ROUNDS] [IMAGE]   (run from the repository root; default 15 rounds)

Runs each command with every shortcut on, with all of them off (DFTK_SHORTCUTS_OFF=all), and with each one
off alone, the configurations interleaved round by round so that a busy moment of the machine hits them
alike, and prints the median wall time of each and its difference from all-on. The inputs are the repository's
fixtures and one camera JPEG from ../shared/testdata; with IMAGE (for example the 320 MiB image bench/carve.sh
builds: KEEP=1 bench/carve.sh, then WORK/image.dd), `dftk carve IMAGE` with its default workers too. Not a test.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DFTK = str(REPO / ".venv" / "bin" / "dftk")
FAT = REPO / "fixtures" / "images" / "fat16.img"
PHOTO = REPO.parent / "shared" / "testdata" / "exif-py" / "jpg" / "Canon_40D.jpg"
CONFIGS = ["", "all", "exit", "gc"]


def commands(out: Path, image: str | None) -> dict[str, list[str]]:
    found = {
        "dftk --version": [DFTK, "--version"],
        "dftk plugins": [DFTK, "plugins"],
        "dftk fs ls fat16.img": [DFTK, "fs", "ls", str(FAT)],
        "dftk meta ONE.jpg --json --workers 1": [DFTK, "meta", str(PHOTO), "--json", "--workers", "1"],
        "dftk carve fat16.img OUT --workers 2": [DFTK, "carve", str(FAT), str(out / "carve"), "--workers", "2"],
    }
    if image:
        found[f"dftk carve {Path(image).name} OUT"] = [DFTK, "carve", image, str(out / "carve")]
    return found


def once(argv: list[str], off: str, out: Path) -> float:
    shutil.rmtree(out / "carve", ignore_errors=True)
    env = {**os.environ, "DFTK_SHORTCUTS_OFF": off}
    env.pop("OPENBLAS_NUM_THREADS", None)
    started = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - started


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    image = sys.argv[2] if len(sys.argv) > 2 else None
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        for name, argv in commands(out, image).items():
            times: dict[str, list[float]] = {c: [] for c in CONFIGS}
            once(argv, "", out)  # page cache and byte-compiled modules warm
            for _ in range(rounds):
                for config in CONFIGS:
                    times[config].append(once(argv, config, out))
            on = statistics.median(times[""])
            cells = [f"{c}: {(statistics.median(times[c]) - on) * 1000:+5.0f} ms" for c in CONFIGS[1:]]
            print(f"{name:<40} {on * 1000:6.0f} ms  " + "  ".join(cells))
    print(f"(median of {rounds} runs; each column: the median with that shortcut switched off, minus all on)")


if __name__ == "__main__":
    main()
