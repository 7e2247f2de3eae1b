"""Finding candidate headers: every format's signatures in one Hyperscan database, one pass over each chunk.

Signatures are declared in YARA's hex-string syntax (``FF D8 FF (C0|C4)``, ``??``, nibble wildcards ``?0``/``A?``,
jumps ``[2-4]``, ``~00``) because examiners and rule writers already read it; they are translated here to the
regular expressions Hyperscan compiles. Hyperscan is used rather than YARA's scanner because it finds these
anchored byte patterns faster, and the scan is the one part of carving that
touches every byte of the media.
"""

from __future__ import annotations

import re

import hyperscan

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
    pos = 0
    text = signature.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise ValueError(f"bad hex signature {signature!r} at {pos}")
        pos = m.end()
        any_byte, nibble, negated, jump, group = m.groups()
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


class Scanner:
    """All signatures of some formats; ``find`` returns ``(offset, format index)`` of every candidate."""

    def __init__(self, signatures: list[tuple[str, ...]]) -> None:
        expressions: list[bytes] = []
        ids: list[int] = []
        for index, sigs in enumerate(signatures):
            for sig in sigs:
                expressions.append(hex_to_regex(sig).encode("ascii"))
                ids.append(index)
        self.database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        flags = hyperscan.HS_FLAG_DOTALL | hyperscan.HS_FLAG_SOM_LEFTMOST
        self.database.compile(expressions=expressions, ids=ids, elements=len(expressions),
                              flags=[flags] * len(expressions))

    def find(self, data: bytes) -> list[tuple[int, int]]:
        found: set[tuple[int, int]] = set()

        def on_match(index: int, start: int, end: int, flags: int, context: object) -> None:
            found.add((start, index))

        self.database.scan(data, match_event_handler=on_match)
        return sorted(found)
