"""Progress on stderr (files, bytes, rate, ETA), shown only when stderr is a terminal."""

from __future__ import annotations

import sys

from tqdm import tqdm


class Progress:
    """A byte-counting progress bar that also counts files."""

    def __init__(self, label: str, total_bytes: int | None, enabled: bool | None = None) -> None:
        show = sys.stderr.isatty() if enabled is None else enabled
        self.files = 0
        self._bar = tqdm(total=total_bytes or None, desc=label, unit="B", unit_scale=True, unit_divisor=1024,
                         file=sys.stderr, disable=not show, dynamic_ncols=True, leave=False)

    def advance(self, nbytes: int, files: int = 0) -> None:
        self._bar.update(nbytes)
        if files:
            self.files += files
            self._bar.set_postfix_str(f"{self.files} files", refresh=False)

    def close(self) -> None:
        self._bar.close()
