"""JPEG quantization tables: the quality a JPEG was saved at, estimated against libjpeg's (IJG) tables, a
digest of its tables, and the cameras known to write them (``data/jpeg_qtables.json``)."""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

_IJG_LUMA = (16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
             14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
             49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99)
_IJG_CHROMA = (17, 18, 24, 47, *[99] * 4, 18, 21, 26, 66, *[99] * 4, 24, 26, 56, *[99] * 5, 47, 66, *[99] * 6,
               *[99] * 32)


@cache
def ijg_table(base: tuple[int, ...], quality: int) -> list[int]:
    """The libjpeg (IJG) table for a quality from 1 to 100, as cjpeg and most software compute it."""
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    return [min(max((v * scale + 50) // 100, 1), 255) for v in base]


_ZIGZAG = sorted(range(64), key=lambda i: (i // 8 + i % 8, i // 8 if (i // 8 + i % 8) % 2 else -(i // 8)))


def _orders(table: list[int]) -> tuple[list[int], list[int]]:
    zigzag = [0] * 64
    for position, index in enumerate(_ZIGZAG):
        zigzag[index] = table[position]
    return table, zigzag


def estimate_quality(tables: dict[int, list[int]]) -> dict[str, Any] | None:
    """Estimated JPEG quality (1-100) from the luminance table, and whether the tables are exactly IJG's."""
    luma = tables.get(0)
    if not luma or len(luma) != 64:
        return None
    candidates = _orders(luma)
    best = min(range(1, 101), key=lambda q: min(sum(abs(a - b) for a, b in zip(ijg_table(_IJG_LUMA, q), t,
                                                                                strict=True))
                                                 for t in candidates))
    exact = any(ijg_table(_IJG_LUMA, best) == t for t in candidates)
    chroma = tables.get(1)
    if exact and chroma and len(chroma) == 64:
        exact = any(ijg_table(_IJG_CHROMA, best) == t for t in _orders(chroma))
    return {"quality_estimate": best, "ijg_standard_tables": exact, "tables": len(tables)}


def tables_digest(tables: dict[int, list[int]]) -> str:
    """A short digest of a JPEG's quantization tables, as the known-table list keys them."""
    canonical = json.dumps({str(k): list(v) for k, v in sorted(tables.items())}, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:24]


@cache
def known_cameras() -> dict[str, list[dict[str, str]]]:
    """Quantization tables seen in camera JPEGs (plugins/data/jpeg_qtables.json, rebuilt by
    bench/jpeg_qtables.py): digest -> the makes and models that wrote them."""
    path = Path(__file__).with_name("data") / "jpeg_qtables.json"
    try:
        loaded: dict[str, list[dict[str, str]]] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return loaded
