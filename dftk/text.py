"""Text taken from evidence, escaped for where it goes: one module, used by every output.

A file name, an E01 description, an EXIF string may hold anything: escape sequences that clear a terminal or
set its title (ESC, OSC, BEL), CR and LF that split a line or forge a bodyfile record, and Unicode
direction overrides (U+202E) that show ``‮txt.exe`` as ``exe.txt``. What is escaped:

- **control**: C0 (U+0000-U+001F), DEL (U+007F), C1 (U+0080-U+009F);
- **layout**: the bidirectional and separator characters U+061C, U+200E, U+200F, U+2028, U+2029,
  U+202A-U+202E, U+2066-U+2069, and U+FEFF.

Each destination shows them its own way:

- ``terminal``: visibly, as ``\\x1b`` or ``\\u202e`` (text output of every command, problems on stderr);
- ``json_text``: as JSON's own ``\\u001b`` escapes, so the value read back is exact (JSON lines);
- ``field``: as ``^``, the way TSK's ``fls -m`` shows control characters in a bodyfile, the field separator
  too (a ``|`` in a name would shift a bodyfile's fields);
- ``html``: as in a terminal (the report page; Jinja escapes markup besides).

A backslash is left as it is: names TSK could not decode already show their bytes as ``\\xNN`` text.
"""

from __future__ import annotations

import json
import re
from typing import Any

_SPECIAL = "\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff"
_FIND = re.compile(f"[{_SPECIAL}]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal(text: str) -> str:
    """``text`` with every control and layout character shown as an escape (``\\x1b``, ``\\u202e``)."""
    return _FIND.sub(_visible, text) if _FIND.search(text) else text


def field(text: str, separator: str = "|") -> str:
    """``text`` for a delimited field: control and layout characters, and ``separator``, shown as ``^``."""
    cleaned = _FIND.sub("^", text)
    return cleaned.replace(separator, "^") if separator else cleaned


def json_text(value: Any, **options: Any) -> str:
    """``json.dumps(value, ensure_ascii=False, **options)`` with every control and layout character as a JSON
    ``\\uXXXX`` escape: the same value for a JSON reader, nothing a terminal acts on."""
    dumped = json.dumps(value, ensure_ascii=False, **options)
    return _FIND.sub(lambda m: f"\\u{ord(m.group()):04x}", dumped) if _FIND.search(dumped) else dumped


def html(value: Any) -> Any:
    """Every value the report page shows (Jinja's ``finalize``): strings escaped as in a terminal."""
    return terminal(value) if isinstance(value, str) else value


def has_special(text: str) -> bool:
    return _FIND.search(text) is not None
