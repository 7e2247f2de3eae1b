"""The start-up shortcuts (dftk/shortcuts.py): each can be switched off, and with them on a command's status,
output and exit handlers are what they would be without them."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def test_each_shortcut_can_be_switched_off() -> None:
    code = "from dftk import shortcuts; print(sorted(n for n in ('exit', 'gc') if not shortcuts.enabled(n)))"
    for off, expected in (("", "[]"), ("gc", "['gc']"), ("all", "['exit', 'gc']")):
        env = {**os.environ, "DFTK_SHORTCUTS_OFF": off}
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
        assert done.stdout.strip() == expected


_EXIT = """
import atexit, sys, threading, time
from dftk.shortcuts import exit_now
atexit.register(lambda: print("exit handler ran", file=sys.stderr))
if sys.argv[2] == "thread":
    threading.Thread(target=time.sleep, args=(0.2,)).start()
print("buffered output", end="")
code = sys.argv[1]
exit_now(None if code == "none" else int(code) if code.isdigit() else code)
"""


@pytest.mark.parametrize(("code", "status"), [("none", 0), ("0", 0), ("4", 4), ("a message", 1)])
@pytest.mark.parametrize("thread", ["", "thread"])
@pytest.mark.parametrize("off", ["", "exit"])
def test_exit_keeps_status_output_and_exit_handlers(code: str, status: int, thread: str, off: str) -> None:
    env = {**os.environ, "DFTK_SHORTCUTS_OFF": off}
    done = subprocess.run([sys.executable, "-c", _EXIT, code, thread], capture_output=True, text=True, timeout=60,
                          check=False, env=env)
    assert done.returncode == status and done.stdout == "buffered output"
    assert "exit handler ran" in done.stderr and ("a message" in done.stderr) == (code == "a message")


def test_collection_paused_restores_the_collector() -> None:
    import gc

    from dftk.shortcuts import collection_paused

    with collection_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
