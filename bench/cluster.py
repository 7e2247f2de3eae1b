#!/usr/bin/env python3
"""The Dask executor against local processes: the same `dftk run` with `--workers N` and `--scheduler local:N`.

    .venv/bin/python bench/cluster.py [EVIDENCE] [--rounds R] [--files N] [--plugins a,b,...]
    (run from the repository root; needs dftk[cluster])

Without EVIDENCE it builds an ext4 image of a generated folder (N files, default 3000: a third JPEG
pictures of 0.25 to 1 megapixel, a third text with e-mail addresses and URLs, a third random bytes) with
`mkfs.ext4 -d` in a temporary folder. Each configuration (`--workers 1`, `--workers 2`, `--scheduler local:1`,
`--scheduler local:2`) runs R times (default 3), in turn, each into a fresh case; the best wall time of each
counts. It prints the times, the Dask path's overhead relative to local processes at 2 workers, the scaling
from 1 to 2 workers on each path, what starting a LocalCluster of 2 workers costs by itself, and whether
every run recorded the same findings. Not a test.
"""

from __future__ import annotations

import argparse
import io
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DFTK = str(REPO / ".venv" / "bin" / "dftk")
CONFIGS = {"workers 1": ["--workers", "1"], "workers 2": ["--workers", "2"],
           "local:1": ["--scheduler", "local:1"], "local:2": ["--scheduler", "local:2"]}
# Plugins whose work is mostly per file (units on the workers): the carving plugin, and the indicators plugin's
# scan of the raw media, run in the client whatever the executor (docs/cluster.md, "What runs where").
PLUGINS = "hashing,image,document,audio,thumbnails"
WORDS = "custody evidence sector volume journal invoice analyst archive timeline registry".split()


def build_image(folder: Path, count: int) -> Path:
    """An ext4 image holding ``count`` generated files, made by mkfs.ext4 -d (seeded: the same every time)."""
    from PIL import Image

    rng, tree = random.Random(20261208), folder / "tree"
    total = 0
    for i in range(count):
        path = tree / f"d{i % 23:02d}" / f"e{i % 7}" / f"file{i:05d}"
        path.parent.mkdir(parents=True, exist_ok=True)
        if i % 3 == 0:  # a camera-sized picture: the per-file work (metadata, thumbnails) that a cluster spreads
            out, size = io.BytesIO(), (rng.randint(600, 1200), rng.randint(400, 900))
            Image.effect_mandelbrot(size, (-2 - i % 5 / 10, -1.2, 1, 1.2), 60).convert("RGB").save(out, "JPEG")
            data, name = out.getvalue(), path.with_suffix(".jpg")
        elif i % 3 == 1:  # text with indicators
            words = [rng.choice(WORDS) for _ in range(rng.randint(200, 4000))]
            words[::97] = [f"{w}{n}@example.org http://{w}.example.com/{n}" for n, w in enumerate(words[::97])]
            data, name = " ".join(words).encode(), path.with_suffix(".txt")
        else:
            data, name = rng.randbytes(rng.randint(1, 64) << 10), path.with_suffix(".bin")
        name.write_bytes(data)
        total += len(data)
    image = folder / "bench.ext4"
    size_mib = total * 2 // (1 << 20) + 64
    subprocess.run(["mkfs.ext4", "-q", "-F", "-d", str(tree), "-L", "BENCH", str(image), f"{size_mib}M"],
                   check=True, capture_output=True)
    print(f"image: ext4 {size_mib} MiB, {count} files ({total / (1 << 20):.0f} MiB) from mkfs.ext4 -d", flush=True)
    return image


def run_once(evidence: Path, case: Path, plugins: str, how: list[str]) -> float:
    command = [DFTK, "run", str(evidence), "--case", str(case), "--no-progress", *how]
    for name in plugins.split(","):
        command += ["--plugin", name]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    took = time.perf_counter() - started
    if done.returncode not in (0, 4):
        sys.exit(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.strip()}")
    return took


def findings(case: Path) -> list[tuple[str, ...]]:
    with sqlite3.connect(case / "case.sqlite") as db:
        return db.execute("SELECT plugin, kind, subject, data FROM findings ORDER BY 1, 2, 3, 4").fetchall()


def cluster_start() -> float:
    """Seconds to import Dask and start (then stop) a LocalCluster of 2 worker processes, alone."""
    code = ("import time, logging; t = time.perf_counter(); import distributed\n"
            "if __name__ == '__main__':\n"
            "    c = distributed.LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=':0',"
            " silence_logs=logging.ERROR); client = distributed.Client(c)\n"
            "    print(time.perf_counter() - t); client.close(); c.close()\n")
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "start.py"
        script.write_text(code)
        out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True).stdout
    return float(out.split()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("evidence", nargs="?", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--files", type=int, default=3000)
    parser.add_argument("--plugins", default=PLUGINS)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dftk-bench-cluster-"))
    try:
        evidence = args.evidence.resolve() if args.evidence else build_image(work, args.files)
        times: dict[str, list[float]] = {name: [] for name in CONFIGS}
        results: set[tuple[tuple[str, ...], ...]] = set()
        for round_ in range(args.rounds):
            for name, how in CONFIGS.items():
                case = work / f"case-{round_}-{name.replace(' ', '').replace(':', '')}"
                times[name].append(run_once(evidence, case, args.plugins, how))
                results.add(tuple(findings(case)))
                shutil.rmtree(case)
        report(times, results, args)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def report(times: dict[str, list[float]], results: set[tuple[tuple[str, ...], ...]],
           args: argparse.Namespace) -> None:
    best = {name: min(t) for name, t in times.items()}
    print(f"dftk run --plugin {args.plugins.replace(',', ' --plugin ')}; best of {args.rounds} rounds each")
    for name, took in best.items():
        print(f"  {name:<10} {took:7.2f} s   (runs {'  '.join(f'{t:.2f}' for t in times[name])})")
    print(f"Dask overhead at 2 workers: local:2 / workers 2 = {best['local:2'] / best['workers 2']:.2f} "
          f"(+{best['local:2'] - best['workers 2']:.2f} s)")
    print(f"scaling 1 -> 2 workers: local processes {best['workers 1'] / best['workers 2']:.2f}x, "
          f"Dask {best['local:1'] / best['local:2']:.2f}x")
    print(f"of which Dask's import and a LocalCluster of 2 workers started alone: {cluster_start():.2f} s")
    print(f"findings: {'identical in every run' if len(results) == 1 else 'DIFFERENT between runs'} "
          f"({len(next(iter(results)))} findings)")


if __name__ == "__main__":
    main()
