"""The media pass: one sequential read of the media, each chunk handed to every media-scope plugin."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from dftk.engine.contract import MediaConsumer
from dftk.engine.progress import Progress
from dftk.engine.state import PluginState, guard
from dftk.evidence.base import Evidence
from dftk.records import Record

CHUNK = 8 << 20
Commit = Callable[[PluginState, Iterable[Record]], None]


def run_media_pass(evidence: Evidence, states: list[PluginState], commit: Commit,
                   progress: bool | None) -> list[PluginState]:
    """Feeds every byte once to each plugin's consumer; returns the plugins that completed the pass.

    A plugin that raises is marked failed and dropped from the pass; the others go on.
    """
    consumers: dict[str, tuple[PluginState, MediaConsumer]] = {}
    for state in states:
        consumer = guard(state, "media", _open, state, evidence)
        if consumer is not None:
            consumers[state.name] = (state, consumer)
    bar = Progress("media (" + ", ".join(consumers) + ")", evidence.size, progress)
    try:
        for offset, data in evidence.chunks(CHUNK):
            for name, (state, consumer) in list(consumers.items()):
                if guard(state, "media", _feed, commit, state, consumer, offset, data) is None:
                    del consumers[name]
            bar.advance(len(data))
    finally:
        bar.close()
    for name, (state, consumer) in list(consumers.items()):
        if guard(state, "media", _close, commit, state, consumer) is None:
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
