"""What the carving tests share: media built from files between filler, the fillers a fragment gap holds,
and the carve itself."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from dftk.evidence.base import Evidence
from dftk_plugins.carving.recovery import Carved, carve, parse_types

SECTOR = 512
WORDS = b"custody evidence sector volume journal invoice analyst archive timeline registry".split()


def filler(n: int, seed: int) -> bytes:
    """Random bytes."""
    return random.Random(seed).randbytes(n)


def text(n: int, seed: int, words: Sequence[bytes] = WORDS) -> bytes:
    """Sentences of ``words``: 7-bit text, as in documents and logs."""
    rng = random.Random(seed)
    out = bytearray()
    while len(out) < n:
        out += b" ".join(rng.choice(words) for _ in range(rng.randint(4, 12))) + b".\n"
    return bytes(out[:n])


FILLERS: dict[str, Callable[[int, int], bytes]] = {"random": filler, "zeros": lambda n, seed: bytes(n), "text": text}
"""What lies between two fragments of a file, by name: ``FILLERS[kind](n, seed)``."""


def splice(files: list[bytes], seed: int = 1, gap: int = 8) -> tuple[bytes, list[int]]:
    """Files at sector offsets between random filler; returns the media and each file's offset."""
    rng = random.Random(seed)
    media, offsets = bytearray(filler(SECTOR * 4, seed)), []
    for data in files:
        offsets.append(len(media))
        media += data + rng.randbytes(-len(data) % SECTOR) + rng.randbytes(SECTOR * rng.randint(1, gap))
    return bytes(media), offsets


def carved(media: bytes, types: str | None = None, **kw: object) -> list[dict[str, object]]:
    """The manifest rows of a carve of ``media`` (all types when ``types`` is None)."""
    return [c.row for c in carve(Evidence.from_bytes(media), parse_types(types), **kw)  # type: ignore[arg-type]
            if isinstance(c, Carved)]
