"""The records every plugin yields: the same input must give the same record, run after run."""

from __future__ import annotations

import io

from dftk.records import Problem


def test_a_problem_message_drops_python_object_addresses() -> None:
    # An exception's text often quotes an object ("<_io.BytesIO object at 0x7f3a...>"); the address changes
    # from run to run, which would make two runs on the same evidence disagree and the seals differ.
    first = Problem("/a.jpg", f"cannot identify image file {io.BytesIO()!r}")
    second = Problem("/a.jpg", f"cannot identify image file {io.BytesIO()!r}")
    assert first == second
    assert first.message == "cannot identify image file <_io.BytesIO object>"


def test_a_problem_message_without_an_address_is_kept_as_written() -> None:
    message = "offset 0x1f400 is past the end <of the volume>"
    assert Problem("/", message).message == message
