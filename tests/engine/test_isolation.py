"""Native-library crashes are contained: the child dies, the run reports it and goes on."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest

from dftk.errors import DftkError
from dftk.fs.isolation import NativeCrash, isolated


def crashes_after(n: int) -> Iterator[int]:
    yield from range(n)
    os.kill(os.getpid(), signal.SIGSEGV)  # what a segmentation fault inside libtsk looks like


def refuses() -> Iterator[int]:
    yield 1
    raise DftkError("corrupt structure")


def test_items_before_a_crash_arrive_then_the_crash_is_reported() -> None:
    received = []
    with pytest.raises(NativeCrash, match="signal 11"):
        for item in isolated(crashes_after, 1000):
            received.append(item)
    assert received == list(range(1000))


def test_a_clean_generator_passes_through() -> None:
    assert list(isolated(range, 5)) == [0, 1, 2, 3, 4]


def test_dftk_errors_in_the_child_keep_their_message() -> None:
    with pytest.raises(DftkError, match="corrupt structure"):
        list(isolated(refuses))


def crash_on_two(x: int) -> int:
    if x == 2:
        os.kill(os.getpid(), signal.SIGSEGV)
    return x * 10


def test_a_worker_crash_costs_only_its_unit() -> None:
    from dftk.engine.executors import LocalProcessExecutor, UnitCrashed

    executor = LocalProcessExecutor(2)
    try:
        results = list(executor.map(crash_on_two, range(6)))
    finally:
        executor.close()
    assert isinstance(results[2], UnitCrashed) and results[2].unit == 2
    assert [r for i, r in enumerate(results) if i != 2] == [0, 10, 30, 40, 50]
