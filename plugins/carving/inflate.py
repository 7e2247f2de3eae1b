"""Bounded inflation of raw deflate data, shared by the ZIP, PDF and OLE2 checks: a small piece may inflate
a thousandfold, so the output is produced in steps and refused past a limit (no decompression bombs)."""

from __future__ import annotations

from typing import Any

STEP = 4 << 20
CHECKPOINT = 8  # inflater states kept every this many sector boundaries while looking for the cut
MAX_CHECKPOINTS = 512  # so at most this many states (some 40 KiB each) are held at once


def inflate_bounded(inflater: Any, piece: bytes, room: int) -> bytes | None:
    """What a piece of a raw deflate stream inflates to, produced in bounded steps (a small piece may
    inflate a thousandfold); None once that passes ``room`` bytes."""
    outs = []
    while True:
        step = min(room + 1, STEP)
        out = inflater.decompress(piece, step)
        outs.append(out)
        room -= len(out)
        if room < 0:
            return None
        piece = inflater.unconsumed_tail
        if inflater.eof or (not piece and len(out) < step):
            return b"".join(outs)
