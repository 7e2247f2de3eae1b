"""File type by content (libmagic through python-magic) and whether it contradicts the extension."""

from __future__ import annotations

import mimetypes
from functools import cache
from typing import Any

import magic

HEAD = 8192
_UNKNOWN = {"application/octet-stream", "inode/x-empty", "application/x-empty"}
# Types libmagic names differently from the extension table while meaning the same family.
_SAME = [{"application/xml", "text/xml"}, {"application/javascript", "text/javascript"},
         {"application/x-sh", "text/x-shellscript", "application/x-shellscript"}]


@cache
def _detector() -> Any:
    return magic.Magic(mime=True)


def mime_of(head: bytes) -> str:
    """The MIME type libmagic gives the first bytes of a file."""
    if not head:
        return "inode/x-empty"
    try:
        return str(_detector().from_buffer(head[:HEAD]))
    except magic.MagicException:
        return "application/octet-stream"


def contradicts_extension(name: str, mime: str) -> bool:
    """True when the name's extension promises one kind of content and the bytes are clearly another."""
    expected, _ = mimetypes.guess_type(name, strict=False)
    if expected is None or mime in _UNKNOWN:
        return False
    if expected == mime or any(expected in s and mime in s for s in _SAME):
        return False
    if expected.startswith("text/") and mime.startswith("text/"):
        return False  # libmagic cannot tell CSV from plain text reliably
    return True
