"""The shortcuts dftk takes in how its processes start and end, kept here and nowhere else.

Each saves a measured share of a command's fixed cost (``bench/startup.py`` prints them; BENCHMARKS.md,
"Start-up shortcuts"), and each can be switched off to check it: ``DFTK_SHORTCUTS_OFF=all`` or a comma list
of ``exit``, ``gc``.

- ``exit``: after a command that succeeded, the process ends without the interpreter's teardown (freeing
  every object of every loaded module: numpy, Pillow...). Exit handlers still run and the standard streams
  are flushed; a failed command, and one that left a thread to wait for, exit the usual way.
- ``gc``: no cyclic collection while modules whose objects all live to the end are imported
  (``collection_paused``), and what a process holds is frozen for the collector while forked workers share
  it (``freeze_for_fork``): a collection writes to every object's header, which would copy those pages into
  each worker, and every full collection (and the one at exit) would visit them all.

Two earlier shortcuts measured no gain (BENCHMARKS.md) and were dropped: a hand-written entry-point reader in
place of ``importlib.metadata``, and one BLAS thread per process.
"""

from __future__ import annotations

import atexit
import gc
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_OFF = {name.strip() for name in os.environ.get("DFTK_SHORTCUTS_OFF", "").split(",") if name.strip()}


def enabled(name: str) -> bool:
    """Whether a shortcut is on (``DFTK_SHORTCUTS_OFF`` names the ones switched off, or ``all``)."""
    return name not in _OFF and "all" not in _OFF


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
