"""PEM (RFC 7468) blocks: written as OpenSSL writes them, read back strictly.

A block reads only when its base64 is exactly the standard encoding of the bytes it decodes to (line
breaks aside), so an edit anywhere in a block, even in the unused bits before the padding, never passes
unnoticed. Text outside the blocks is ignored, as OpenSSL ignores it.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----", re.DOTALL)


class PemError(ValueError):
    """Text that is not the PEM expected; ``label`` names the block at fault, if one is."""

    def __init__(self, message: str, label: str | None = None) -> None:
        """The error's text, and the label of the block at fault."""
        super().__init__(message)
        self.label = label


@dataclass(frozen=True, slots=True)
class Block:
    """One PEM block: its label (``PUBLIC KEY``) and the bytes it holds."""

    label: str
    data: bytes


def encode(label: str, data: bytes) -> bytes:
    """One PEM block, base64 in lines of 64 characters."""
    text = base64.b64encode(data).decode("ascii")
    lines = [text[i:i + 64] for i in range(0, len(text), 64)]
    return "\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----", ""]).encode("ascii")


def blocks(raw: bytes) -> list[Block]:
    """Every PEM block in ``raw``, in order.

    Raises:
        PemError: not ASCII text, or a block whose content is not standard base64.
    """
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError as e:
        raise PemError("not PEM text (non-ASCII bytes)") from e
    return [_block(m.group(1), m.group(2)) for m in _BLOCK.finditer(text)]


def first(found: list[Block], label: str) -> Block | None:
    """The first block with ``label``, if any."""
    return next((b for b in found if b.label == label), None)


def _block(label: str, body: str) -> Block:
    """A block from its label and base64 text, which must be the standard encoding of what it decodes to."""
    text = "".join(body.split())
    try:
        data = base64.b64decode(text, validate=True)
    except binascii.Error as e:
        raise PemError(f"the {label} block is not base64 ({e})", label) from e
    if base64.b64encode(data).decode("ascii") != text:
        raise PemError(f"the {label} block is not in standard base64", label)
    return Block(label, data)
