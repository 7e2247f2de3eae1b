"""Hash algorithms and the one-pass multi-hash every part of dftk uses."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

# sm3 (GB/T 32905-2016) comes from the OpenSSL hashlib is built on (OpenSSL 1.1.1 and later).
ALGORITHMS = ("md5", "sha1", "sha256", "sha512", "blake2b", "blake3", "sm3")


def new_hasher(algorithm: str) -> Any:
    """A fresh hasher (``update``, ``hexdigest``) for one of ALGORITHMS: hashlib's, or the blake3 package's
    (the official bindings of the BLAKE3 reference implementation) for blake3."""
    if algorithm == "blake3":
        from blake3 import blake3

        return blake3()
    return hashlib.new(algorithm)


def parse_algorithms(value: str | Iterable[str]) -> tuple[str, ...]:
    """``"md5,sha256"`` -> ``("md5", "sha256")``; raises ValueError naming what is unknown."""
    names = value.split(",") if isinstance(value, str) else list(value)
    chosen = tuple(dict.fromkeys(n.strip().lower() for n in names if n.strip()))
    unknown = [n for n in chosen if n not in ALGORITHMS]
    if unknown or not chosen:
        raise ValueError(f"choose from {', '.join(ALGORITHMS)} (got {', '.join(unknown) or 'none'})")
    if "sm3" in chosen and "sm3" not in hashlib.algorithms_available:
        raise ValueError("sm3 is not available: this Python's OpenSSL has no SM3 (OpenSSL 1.1.1 or later has)")
    return chosen


def digest_all(chunks: Iterable[Any], algorithms: tuple[str, ...]) -> tuple[dict[str, str], int]:
    """Every requested hash over one pass of the chunks (any bytes-like objects), and the bytes seen."""
    hashers = [new_hasher(a) for a in algorithms]
    size = 0
    for chunk in chunks:
        size += len(chunk)
        for h in hashers:
            h.update(chunk)
    return {a: h.hexdigest() for a, h in zip(algorithms, hashers, strict=True)}, size
