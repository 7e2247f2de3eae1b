"""Finding candidate headers: every format's signatures in one Hyperscan database, one pass over each chunk.

Signatures are declared in YARA's hex-string syntax (``FF D8 FF (C0|C4)``, ``??``, nibble wildcards ``?0``/``A?``,
jumps ``[2-4]``, ``~00``) because examiners and rule writers already read it; they are translated here to the
regular expressions Hyperscan compiles. Hyperscan is used rather than YARA's scanner because it finds these
anchored byte patterns faster, and the scan is the one part of carving that
touches every byte of the media.

Sector signatures are looked for only where a sector starts, with lookup tables over each sector's first bytes:
they are the short ones (``4D 5A``, an MPEG frame header) that random data matches thousands of times, every
match a validation, and a file a file system holds starts at a cluster, so at a sector.
"""

from __future__ import annotations

import re

import hyperscan
import numpy as np

_TOKEN = re.compile(r"\s*(?:(\?\?)|([0-9A-Fa-f?]{2})|(~[0-9A-Fa-f]{2})|(\[\s*\d*\s*(?:-\s*\d*\s*)?\])|([(|)]))")


def _byte_class(values: list[int]) -> str:
    return "[" + "".join(f"\\x{v:02x}" for v in values) + "]"


def _nibble(token: str) -> str:
    if "?" not in token:
        return f"\\x{int(token, 16):02x}"
    if token[0] == "?":
        low = int(token[1], 16)
        return _byte_class([high << 4 | low for high in range(16)])
    high = int(token[0], 16)
    return f"[\\x{high << 4:02x}-\\x{high << 4 | 15:02x}]"


def _jump(token: str) -> str:
    body = token[1:-1].replace(" ", "")
    if "-" not in body:
        return f".{{{int(body)}}}"
    low, high = body.split("-")
    return f".{{{int(low or 0)},{high}}}"


def hex_to_regex(signature: str) -> str:
    """The regular expression (bytes as ``\\xHH``) that matches what the YARA hex string matches.

    Raises:
        ValueError: the signature is not a YARA hex string this translator knows.
    """
    out: list[str] = []
    for any_byte, nibble, negated, jump, group in _tokens(signature):
        if any_byte:
            out.append(".")
        elif nibble:
            out.append(_nibble(nibble))
        elif negated:
            out.append(f"[^\\x{int(negated[1:], 16):02x}]")
        elif jump:
            out.append(_jump(jump))
        else:
            out.append({"(": "(?:", "|": "|", ")": ")"}[group])
    return "".join(out)


def hex_to_positions(signature: str) -> list[frozenset[int]]:
    """The byte values a YARA hex string allows at each position, for a fixed-length string whose
    alternatives are single bytes (``FF (E2|E3) ?0``).

    Raises:
        ValueError: a jump, a multi-byte alternative, or not a hex string.
    """
    positions: list[frozenset[int]] = []
    group: list[set[int]] | None = None  # the alternatives of an open group, one byte each
    for any_byte, nibble, negated, jump, bracket in _tokens(signature):
        if jump:
            raise ValueError(f"{signature!r}: a jump has no fixed length")
        if bracket == "(" and group is None:
            group = [set()]
        elif bracket == "|" and group is not None:
            group.append(set())
        elif bracket == ")" and group is not None and all(len(alt) for alt in group):
            positions.append(frozenset(set().union(*group)))
            group = None
        elif bracket:
            raise ValueError(f"{signature!r}: only single-byte alternatives have a fixed length")
        else:
            values = (set(range(256)) if any_byte else _nibble_values(nibble) if nibble
                      else set(range(256)) - {int(negated[1:], 16)})
            if group is None:
                positions.append(frozenset(values))
            elif group[-1]:
                raise ValueError(f"{signature!r}: only single-byte alternatives have a fixed length")
            else:
                group[-1] |= values
    if group is not None or not positions:
        raise ValueError(f"bad hex signature {signature!r}")
    return positions


def _tokens(signature: str) -> list[tuple[str, ...]]:
    tokens = []
    pos, text = 0, signature.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise ValueError(f"bad hex signature {signature!r} at {pos}")
        pos = m.end()
        tokens.append(m.groups())
    return tokens


def _nibble_values(token: str) -> set[int]:
    if "?" not in token:
        return {int(token, 16)}
    if token[0] == "?":
        return {high << 4 | int(token[1], 16) for high in range(16)}
    return {int(token[0], 16) << 4 | low for low in range(16)}


class _SectorSignatures:
    """Signatures checked at each sector start: one 256-entry table per byte position, ANDed over the array of
    every sector's first bytes."""

    def __init__(self, signatures: list[tuple[str, ...]]) -> None:
        self.tables: list[tuple[int, np.ndarray]] = []
        for index, sigs in enumerate(signatures):
            for sig in sigs:
                positions = hex_to_positions(sig)
                table = np.zeros((len(positions), 256), dtype=bool)
                for i, values in enumerate(positions):
                    table[i, sorted(values)] = True
                self.tables.append((index, table))

    def find(self, data: bytes | memoryview, sector: int) -> list[tuple[int, int]]:
        whole = len(data) // sector
        if not self.tables or not len(data):
            return []
        heads = np.frombuffer(data, dtype=np.uint8, count=whole * sector).reshape(whole, sector)
        last = bytes(data[whole * sector:])  # a partial sector at the end of the media starts a sector too
        found = []
        for index, table in self.tables:
            hit = np.ones(whole, dtype=bool)
            for i in range(min(len(table), sector)):
                hit &= table[i][heads[:, i]]
            found += [(int(s) * sector, index) for s in np.flatnonzero(hit)]
            if len(table) <= len(last) and all(table[i][last[i]] for i in range(len(table))):
                found.append((whole * sector, index))
        return found


def _literal_prefix(signature: str) -> str:
    """The exact bytes a hex string starts with (``FF D8 FF`` of ``FF D8 FF (C0|C4)``), as a hex string."""
    exact: list[str] = []
    for _, nibble, *rest in _tokens(signature):
        if not nibble or "?" in nibble or any(rest):
            break
        exact.append(nibble)
    return " ".join(exact)


class Scanner:
    """All signatures of some formats; ``find`` returns ``(offset, format index)`` of every candidate.

    ``signatures[i]`` are found anywhere, ``sector_signatures[i]`` (when given) only at a multiple of ``sector``.
    A signature that starts with at least ``MIN_LITERAL`` exact bytes, not all one value, is searched by that
    literal and the rest checked with ``re`` where it matched: Hyperscan scans literals alone much faster
    than alternations (``FF D8 FF (C0|C4|...)``), and such a literal is rare enough in media that the checks
    cost little (``00 00 00`` is not: zeroed space would match it everywhere).
    """

    MIN_LITERAL = 3

    def __init__(self, signatures: list[tuple[str, ...]], sector_signatures: list[tuple[str, ...]] | None = None
                 ) -> None:
        self.sectors = _SectorSignatures(sector_signatures or [])
        expressions: list[bytes] = []
        self.checks: list[tuple[int, re.Pattern[bytes] | None]] = []  # by expression: format index, rest check
        for index, sigs in enumerate(signatures):
            for sig in sigs:
                whole, prefix = hex_to_regex(sig), _literal_prefix(sig)
                exact = prefix.split()
                searched = hex_to_regex(prefix) if len(exact) >= self.MIN_LITERAL and len(set(exact)) > 1 else whole
                expressions.append(searched.encode("ascii"))
                self.checks.append((index, None if searched == whole else re.compile(whole.encode(), re.DOTALL)))
        self.database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        if not expressions:
            return
        flags = hyperscan.HS_FLAG_DOTALL | hyperscan.HS_FLAG_SOM_LEFTMOST
        self.database.compile(expressions=expressions, ids=list(range(len(expressions))), elements=len(expressions),
                              flags=[flags] * len(expressions))

    def find(self, data: bytes | memoryview, sector: int = 512) -> list[tuple[int, int]]:
        found: set[tuple[int, int]] = set(self.sectors.find(data, sector))
        checks = self.checks

        def on_match(expression: int, start: int, end: int, flags: int, context: object) -> None:
            index, rest = checks[expression]
            if rest is None or rest.match(data, start):
                found.add((start, index))

        if checks:
            self.database.scan(data, match_event_handler=on_match)  # type: ignore[type-var]  # any buffer
        return sorted(found)
