"""The few shortcuts dftk takes in how its processes start and end, kept here and nowhere else.

Each saves a measured share of a command's fixed cost (``bench/startup.sh`` prints them; BENCHMARKS.md,
"Start-up shortcuts"), and each can be switched off to check it: ``DFTK_SHORTCUTS_OFF=all`` or a comma list
of ``entry_points``, ``exit``, ``blas``, ``gc``.

- ``entry_points``: the installed distributions' ``entry_points.txt`` read directly. ``importlib.metadata``
  answers the same (a test compares them), but importing it (email, zipfile, csv parsers) is paid before
  every plugin command starts. It reads what ordinary installs write: each ``*.dist-info`` or ``*.egg-info``
  folder on ``sys.path``, the first of each distribution name winning, as ``importlib.metadata`` does.
- ``exit``: after a command that succeeded, the process ends without the interpreter's teardown (freeing
  every object of every loaded module: numpy, Pillow...). Exit handlers still run and the standard streams
  are flushed; a failed command, and one that left a thread to wait for, exit the usual way.
- ``blas``: one BLAS thread unless the examiner sets another number. dftk's parallelism is in processes and
  its numpy use (carving's checks) needs no BLAS; OpenBLAS's idle threads spin beside the start-up.
- ``gc``: no cyclic collection while modules whose objects all live to the end are imported
  (``collection_paused``), and what a process holds is frozen for the collector while forked workers share
  it (``frozen_for_fork``): a collection writes to every object's header, which would copy those pages into
  each worker, and every full collection (and the one at exit) would visit them all.
"""

from __future__ import annotations

import atexit
import gc
import importlib
import os
import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

_OFF = {name.strip() for name in os.environ.get("DFTK_SHORTCUTS_OFF", "").split(",") if name.strip()}


def enabled(name: str) -> bool:
    """Whether a shortcut is on (``DFTK_SHORTCUTS_OFF`` names the ones switched off, or ``all``)."""
    return name not in _OFF and "all" not in _OFF


# --- entry_points ---------------------------------------------------------------------------------

_META = (".dist-info", ".egg-info")
_SECTION = re.compile(r"^\[\s*([^\]]+?)\s*\]$")


@dataclass(frozen=True, slots=True)
class Distribution:
    """The installed distribution an entry point comes from."""

    name: str


@dataclass(frozen=True, slots=True)
class EntryPoint:
    """One ``name = module:attr`` line of a group; ``load`` imports what it names."""

    name: str
    value: str
    group: str
    dist: Distribution | None = None

    def load(self) -> Any:
        module, _, attr = self.value.partition(":")
        obj = importlib.import_module(module.strip())
        for part in attr.split("[")[0].strip().split(".") if attr else ():
            obj = getattr(obj, part)
        return obj


def entry_points(group: str) -> list[Any]:
    """The entry points registered in ``group`` by the distributions on ``sys.path``."""
    if not enabled("entry_points"):
        from importlib.metadata import entry_points as reference

        return list(reference(group=group))
    found: list[EntryPoint] = []
    seen: set[str] = set()
    for folder in sys.path:
        for meta in _metadata_folders(folder or "."):
            name = _normalized(os.path.basename(meta).rsplit(".", 1)[0].split("-")[0])
            if name in seen:
                continue
            seen.add(name)
            found += _read(os.path.join(meta, "entry_points.txt"), group, Distribution(name))
    return found


def _metadata_folders(folder: str) -> list[str]:
    try:
        with os.scandir(folder) as entries:
            return sorted(e.path for e in entries if e.name.endswith(_META) and e.is_dir())
    except OSError:
        return []  # not a folder (a zip on sys.path) or unreadable: nothing registered there


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _read(path: str, group: str, dist: Distribution) -> list[EntryPoint]:
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    found, section = [], None
    for line in lines:
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        header = _SECTION.match(line)
        if header:
            section = header.group(1)
        elif section == group and "=" in line:
            name, _, value = line.partition("=")
            found.append(EntryPoint(name.strip(), value.strip(), group, dist))
    return found


# --- exit -----------------------------------------------------------------------------------------


def exit_now(code: str | int | None) -> None:
    """Exits with ``code`` as ``sys.exit`` would; after success, without the interpreter's teardown."""
    failed = code not in (None, 0)
    waiting = any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread())
    if failed or waiting or not enabled("exit"):
        sys.exit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing more can reach it
            pass
    os._exit(0)


# --- blas -----------------------------------------------------------------------------------------


def limit_blas_threads() -> None:
    """One OpenBLAS thread, unless the examiner set a number (before numpy is first imported)."""
    if enabled("blas"):
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


# --- gc -------------------------------------------------------------------------------------------


@contextmanager
def collection_paused() -> Iterator[None]:
    """No cyclic collection inside: for imports whose objects all live to the end of the process."""
    if not enabled("gc"):
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def freeze_for_fork() -> None:
    """What this process holds is shared with workers about to be forked: frozen, the collector walks it in
    neither process (see the module docstring)."""
    if enabled("gc"):
        gc.freeze()


def unfreeze() -> None:
    """The forked workers are gone: what is garbage by now may be collected again."""
    if enabled("gc"):
        gc.unfreeze()
