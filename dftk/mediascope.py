"""The media pass: one sequential read of the media, each chunk handed to every media-scope plugin."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from dftk.errors import DftkError, NotApplicable
from dftk.evidence import Evidence
from dftk.plugin import MediaConsumer, Record
from dftk.progress import Progress

if TYPE_CHECKING:
    from dftk.pipeline import PluginState

CHUNK = 8 << 20
T = TypeVar("T")
Commit = Callable[["PluginState", Iterable[Record]], None]


def run_media_pass(evidence: Evidence, states: list[PluginState], commit: Commit,
                   progress: bool | None) -> list[PluginState]:
    """Feeds every byte once to each plugin's consumer; returns the plugins that completed the pass.

    A plugin that raises is marked failed and dropped from the pass; the others go on.
    """
    consumers: dict[str, tuple[PluginState, MediaConsumer]] = {}
    for state in states:
        consumer = _guard(state, _open, state, evidence)
        if consumer is not None:
            consumers[state.name] = (state, consumer)
    bar = Progress("media (" + ", ".join(consumers) + ")", evidence.size, progress)
    try:
        for offset, data in evidence.chunks(CHUNK):
            for name, (state, consumer) in list(consumers.items()):
                if _guard(state, _feed, commit, state, consumer, offset, data) is None:
                    del consumers[name]
            bar.advance(len(data))
    finally:
        bar.close()
    for name, (state, consumer) in list(consumers.items()):
        if _guard(state, _close, commit, state, consumer) is None:
            del consumers[name]
    return [state for state, _ in consumers.values()]


def _open(state: PluginState, evidence: Evidence) -> MediaConsumer:
    return state.instance.media(evidence, **state.options)  # type: ignore[union-attr]


def _feed(commit: Commit, state: PluginState, consumer: MediaConsumer, offset: int, data: bytes) -> bool:
    commit(state, consumer.feed(offset, data))
    return True


def _close(commit: Commit, state: PluginState, consumer: MediaConsumer) -> bool:
    commit(state, consumer.close())
    return True


def _guard(state: PluginState, step: Callable[..., T], *args: Any) -> T | None:
    """Runs one step of a plugin; on failure records the outcome and returns None."""
    started = time.monotonic()
    try:
        return step(*args)
    except NotApplicable as e:
        state.notes.append(f"media scope skipped: {e}")
    except DftkError as e:
        state.outcome = f"failed: {e}"
    except Exception as e:  # noqa: BLE001 - one plugin failing must not stop the others
        state.outcome = f"failed: {type(e).__name__}: {e}"
    finally:
        state.seconds += time.monotonic() - started
    return None
