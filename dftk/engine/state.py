"""One plugin within one run: its options, outcome and timings, and the guard every plugin step runs in."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from dftk.engine.contract import Plugin
from dftk.engine.registry import LoadedPlugin
from dftk.errors import DftkError, NotApplicable
from dftk.records import canonical_json

T = TypeVar("T")


@dataclass(slots=True)
class PluginState:
    """One plugin within one run."""

    loaded: LoadedPlugin
    options: dict[str, Any]
    instance: Plugin | None = None
    row: int = 0
    outcome: str = "ok"
    failures: int = 0
    first_failure: str = ""
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.loaded.name

    @property
    def unit(self) -> str:
        """Completion marks are per plugin version and work identity (its options, and for some plugins the
        digests of the files they name): other options or edited files mean other work."""
        return f"{self.name}@{self.loaded.cls.version}#{canonical_json(self.loaded.cls.work_identity(self.options))}"

    def fail(self, reason: str) -> None:
        self.failures += 1
        self.first_failure = self.first_failure or reason

    def other_scopes(self, scope: str) -> bool:
        return any(other != scope for other in self.loaded.cls.scopes())

    def final_outcome(self) -> str:
        if self.outcome == "ok" and self.failures:
            return f"failed: raised on {self.failures} item(s); first: {self.first_failure}"
        if self.outcome == "ok" and self.notes:
            return f"ok ({'; '.join(self.notes)})"
        return self.outcome


def guard(state: PluginState, scope: str, step: Callable[..., T], *args: Any) -> T | None:
    """Runs one step of a plugin, timing it; a failure becomes the plugin's outcome and None.

    NotApplicable skips only this scope when the plugin has others (its file scope still runs).
    """
    started = time.monotonic()
    try:
        return step(*args)
    except NotApplicable as e:
        if state.other_scopes(scope):
            state.notes.append(f"{scope} scope skipped: {e}")
        else:
            state.outcome = f"skipped: {e}"
    except DftkError as e:
        state.outcome = f"failed: {e}"
    except Exception as e:  # noqa: BLE001 - one plugin failing must not stop the others
        state.outcome = f"failed: {type(e).__name__}: {e}"
    finally:
        state.seconds += time.monotonic() - started
    return None
