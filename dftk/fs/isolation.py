"""Runs native-library work in a child process, so a crash in C code costs one unit, not the run.

The Sleuth Kit parses hostile structures in C; a segmentation fault there would otherwise end dftk.
``isolated`` streams a generator's items from a spawned child; if the child dies, the caller gets
``NativeCrash`` after the items that did arrive.
"""

from __future__ import annotations

import multiprocessing
import signal
from collections.abc import Callable, Iterable, Iterator
from multiprocessing.connection import Connection
from typing import Any

from dftk.errors import DftkError


class NativeCrash(DftkError):
    """The child process died (a crash in native code, or it was killed)."""


def _child(fn: Callable[..., Iterable[Any]], args: tuple[Any, ...], conn: Connection) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides about Ctrl-C
    try:
        for item in fn(*args):
            # one message per item: a crash on the next item must not lose those already produced
            conn.send(("item", item))
        conn.send(("done", None))
    except DftkError as e:
        conn.send(("error", str(e)))
    finally:
        conn.close()


def isolated(fn: Callable[..., Iterable[Any]], *args: Any) -> Iterator[Any]:
    """Yields what ``fn(*args)`` yields, computed in a child process.

    Raises:
        NativeCrash: the child died before finishing; the items before the crash were yielded.
        DftkError: the child raised one (its message is kept).
    """
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(fn, args, sender), daemon=True)
    process.start()
    sender.close()
    try:
        while True:
            try:
                kind, payload = receiver.recv()
            except EOFError:
                break
            if kind == "item":
                yield payload
            elif kind == "error":
                raise DftkError(payload)
            else:
                return
    finally:
        receiver.close()
        process.join(timeout=5)
        if process.is_alive():
            process.kill()
            process.join()
    code = process.exitcode
    how = f"signal {-code}" if code is not None and code < 0 else f"exit status {code}"
    raise NativeCrash(f"the parser process died ({how})")
