"""Verify an image: an E01's media data against the hashes stored inside it, a raw or split raw image
against the hashes in its dftk acquisition log (``DEST.acquire.json``)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dftk.errors import EvidenceError, SignatureError
from dftk.evidence.base import Evidence, open_read_only
from dftk.evidence.opening import open_evidence
from dftk.hashing.multihash import MultiHasher, hasher_pool

_EVF = b"EVF\x09\x0d\x0a\xff\x00"
_SEGMENT = re.compile(r"\.\d{3}$")


def verify_image(path: Path) -> Iterator[str]:
    """Recomputes the image's hashes and yields one ``ok ...`` line per hash that matches.

    Raises:
        SignatureError: a hash differs, the media cannot be read to the end, or there is nothing to
            compare with.
        EvidenceError: the image cannot be opened.
    """
    try:
        fd = open_read_only(path)
        try:
            is_e01 = os.pread(fd, len(_EVF), 0) == _EVF
        finally:
            os.close(fd)
    except OSError as e:
        raise EvidenceError(f"{path}: cannot open: {e.strerror or e}") from e
    if is_e01:
        yield from _verify_e01(path)
    else:
        yield from _verify_raw(path)


def _verify_e01(path: Path) -> Iterator[str]:
    try:
        ev = open_evidence(path, "e01")
    except EvidenceError as e:
        # it is an E01 (its signature says so) whose own checksums fail: that is a failed verification
        raise SignatureError(f"damaged E01: {e}") from e
    with ev:
        expected = dict(ev.stored_hashes)
        if not expected:
            raise SignatureError(f"{path}: the E01 stores no media hash to verify against")
        computed = _digest(ev, tuple(expected))
    yield from _compare(path, expected, computed, "stored in the image")


def _verify_raw(path: Path) -> Iterator[str]:
    log_file, log = _find_log(path)
    expected: dict[str, str] = dict(log.get("hashes") or {})
    if not expected:
        raise SignatureError(f"{log_file}: the acquisition log holds no hashes (an unfinished acquisition?)")
    fmt = "split" if _SEGMENT.search(path.name) else "raw"
    with open_evidence(path, fmt) as ev:
        size = log["source"]["size"]
        if ev.size != size:
            raise SignatureError(f"{path}: image holds {ev.size} bytes, the acquisition log says {size}")
        computed = _digest(ev, tuple(expected))
    yield from _compare(path, expected, computed, f"recorded in {log_file.name}")
    if log.get("bad_sectors"):
        count = sum(b["count"] for b in log["bad_sectors"])
        yield f"ok note: acquisition was qualified: {count} unreadable sectors zero-filled (see {log_file.name})"


def _find_log(path: Path) -> tuple[Path, dict[str, Any]]:
    names = [path.name, _SEGMENT.sub("", path.name)]
    for name in dict.fromkeys(names):
        candidate = path.with_name(f"{name}.acquire.json")
        if candidate.is_file():
            try:
                return candidate, json.loads(candidate.read_text())
            except (OSError, ValueError) as e:
                raise SignatureError(f"{candidate}: unreadable acquisition log: {e}") from e
    raise SignatureError(f"{path}: no acquisition log ({path.name}.acquire.json) to verify a raw image against")


def _digest(ev: Evidence, algorithms: tuple[str, ...]) -> dict[str, str]:
    with hasher_pool(algorithms) as pool:
        hasher = MultiHasher(algorithms, None, pool)
        try:
            for _, data in ev.chunks():
                hasher.update(data)
        except EvidenceError as e:
            raise SignatureError(f"media cannot be read to the end, the image is damaged: {e}") from e
        return hasher.result()[0]


def _compare(path: Path, expected: dict[str, str], computed: dict[str, str], where: str) -> Iterator[str]:
    for algorithm, value in expected.items():
        if computed[algorithm] != value.lower():
            raise SignatureError(f"{path}: {algorithm} mismatch: {where} {value}, computed {computed[algorithm]}")
        yield f"ok {algorithm} {value.lower()} of {path.name} matches the hash {where}"
