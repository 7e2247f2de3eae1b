"""Validators of RIFF containers (WAV, AVI, WebP) and PE executables."""

from __future__ import annotations

import struct

from dftk_plugins.carving.images import decodes
from dftk_plugins.carving.model import Verdict, View

_FORMS = {b"WAVE": b"fmt ", b"AVI ": b"hdrl", b"WEBP": b"VP8"}


def riff(view: View) -> Verdict | None:
    """RIFF: the declared size, and a chain of chunks that fills it exactly (the form's header chunk first)."""
    head = view.read(0, 16)
    if len(head) < 16 or head[8:12] not in _FORMS:
        return None
    end = 8 + struct.unpack("<I", head[4:8])[0]
    if not head[12:16].startswith(_FORMS[head[8:12]]) and not head[12:16].startswith(b"LIST"):
        return None
    pos = 12
    while pos + 8 <= min(end, view.size):
        chunk = view.read(pos, 8)
        if not all(32 <= c < 127 for c in chunk[:4]):
            return Verdict(pos, False, 0.3, pos)
        pos += 8 + struct.unpack("<I", chunk[4:8])[0]
        pos += pos & 1
    if end > view.size:
        return Verdict(view.size, False, 0.3, 0)
    if pos not in (end, end + 1):
        return Verdict(min(pos, end), False, 0.3, 0)
    if head[8:12] == b"WEBP" and not decodes(view.read(0, end)):
        return Verdict(end, False, 0.4, 0)
    return Verdict(end, True, 0.9)


def riff_kind(view: View, length: int) -> str:
    """wav, avi or webp."""
    return {b"WAVE": "wav", b"AVI ": "avi", b"WEBP": "webp"}.get(view.read(8, 4), "riff")


def pe(view: View) -> Verdict | None:
    """PE executable: the PE header, optional header magic, sections' raw data and the certificate table."""
    head = view.read(0, 64)
    if len(head) < 64:
        return None
    lfanew = struct.unpack("<I", head[60:64])[0]
    if not 64 <= lfanew < 4096:
        return None
    coff = view.read(lfanew, 24)
    if len(coff) < 24 or coff[:4] != b"PE\x00\x00":
        return None
    sections, _, _, _, opt_size, _ = struct.unpack("<HIIIHH", coff[6:24])
    optional = view.read(lfanew + 24, opt_size)
    if not 0 < sections <= 96 or len(optional) < 2 or struct.unpack("<H", optional[:2])[0] not in (0x10B, 0x20B):
        return None
    end = struct.unpack("<I", optional[60:64])[0] if len(optional) >= 64 else 0  # SizeOfHeaders
    table = view.read(lfanew + 24 + opt_size, 40 * sections)
    if len(table) < 40 * sections:
        return Verdict(view.size, False, 0.3, 0)
    for i in range(sections):
        raw_size, raw_at = struct.unpack("<II", table[40 * i + 16:40 * i + 24])
        if raw_size:
            end = max(end, raw_at + raw_size)
    directories = 96 if optional[:2] == b"\x0b\x01" else 112
    if len(optional) >= directories + 40:
        cert_at, cert_size = struct.unpack("<II", optional[directories + 32:directories + 40])
        if cert_at and cert_size:
            end = max(end, cert_at + cert_size)
    if end > view.size:
        return Verdict(view.size, False, 0.4, 0)
    return Verdict(end, True, 0.85)
