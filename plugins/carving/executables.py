"""Validator of PE executables (EXE, DLL, SYS, EFI): where the file ends is the furthest end its headers prove.

A PE file holds its headers, the sections' raw data, and optionally data the loader never maps: the
certificate table (the security data directory holds a FILE offset, normally at the very end), the COFF
symbol table and its string table (mingw binaries), and debug data stored outside every section. Each of
these is taken only when the bytes at its place look like what the headers say is there. An overlay of
unknown size (installers append archives) is not described by any header and is not guessed.
"""

from __future__ import annotations

import struct

from dftk_plugins.carving.model import Verdict, View

HEADERS_READ = 4096
_PE32, _PE32_PLUS = 0x10B, 0x20B
_STANDARD_OPTIONAL = {_PE32: 224, _PE32_PLUS: 240}  # the optional header with its 16 data directories
_DIRECTORIES_AT = {_PE32: 96, _PE32_PLUS: 112}
_SECURITY, _DEBUG = 4, 6
_SYMBOL_SIZE = 18
_MAX_STRING_TABLE = 64 << 20
_CERT_REVISIONS = (0x0100, 0x0200)
_CERT_TYPES = (1, 2, 3, 4)
_DEBUG_ENTRY = 28
_MAX_DEBUG_ENTRIES = 32
_MAX_DEBUG_TYPE = 64


def pe(view: View) -> Verdict | None:
    """PE: the headers, every section's raw data, the certificate table, the COFF symbol and string
    tables and debug data outside the sections; a section table that is not one makes the file partial."""
    head = view.read(0, HEADERS_READ)
    if len(head) < 64:
        return None
    lfanew = struct.unpack_from("<I", head, 60)[0]
    if not 64 <= lfanew <= HEADERS_READ - 26 or head[lfanew:lfanew + 4] != b"PE\x00\x00":
        return None
    sections, _, symbols_at, symbols, opt_size, _ = struct.unpack_from("<HIIIHH", head, lfanew + 6)
    optional_at = lfanew + 24
    magic = struct.unpack_from("<H", head, optional_at)[0]
    if magic not in _STANDARD_OPTIONAL or sections > 96:
        return None
    optional = head[optional_at:optional_at + _STANDARD_OPTIONAL[magic]].ljust(_STANDARD_OPTIONAL[magic], b"\0")
    table_at = optional_at + opt_size
    # The loader reads the NT headers as one fixed structure, so a file is never shorter than that.
    end = max(optional_at + _STANDARD_OPTIONAL[magic], table_at + 40 * sections,
              struct.unpack_from("<I", optional, 60)[0])  # SizeOfHeaders
    table = view.read(table_at, 40 * sections)
    if len(table) < 40 * sections:
        return Verdict(view.size, False, 0.3, 0)
    raw = _sections(table, optional)
    if raw is None:
        return Verdict(table_at, False, 0.3, table_at)  # the headers stop being a PE where the table starts
    end = max([end] + [at + size for at, size, _, _ in raw if size])
    end = max(end, _certificate_end(view, optional, magic), _symbols_end(view, symbols_at, symbols, end),
              _debug_end(view, optional, magic, raw))
    if end > view.size:
        return Verdict(view.size, False, 0.4, 0)
    return Verdict(end, True, 0.85)


def _sections(table: bytes, optional: bytes) -> list[tuple[int, int, int, int]] | None:
    """(raw offset, raw size, virtual address, virtual size) of each section, or None when the entries
    break the spec's rules: virtual addresses ascending and aligned to SectionAlignment."""
    alignment = struct.unpack_from("<I", optional, 32)[0]
    if table and (alignment == 0 or alignment & (alignment - 1)):
        return None
    out = []
    previous = -1
    for i in range(len(table) // 40):
        virtual_size, address, raw_size, raw_at = struct.unpack_from("<IIII", table, 40 * i + 8)
        if address % alignment or address <= previous:
            return None
        previous = address
        out.append((raw_at, raw_size, address, virtual_size))
    return out


def _directory(optional: bytes, magic: int, index: int) -> tuple[int, int]:
    at, size = struct.unpack_from("<II", optional, _DIRECTORIES_AT[magic] + 8 * index)
    return int(at), int(size)


def _certificate_end(view: View, optional: bytes, magic: int) -> int:
    """The end of the certificate table, when a WIN_CERTIFICATE (length, revision, type) is where the
    security directory's file offset points; its entries are 8-byte aligned and fill the table."""
    at, size = _directory(optional, magic, _SECURITY)
    if not at or size < 8 or at + size > view.size:
        return 0
    data = view.read(at, min(size, 1 << 20))
    pos = 0
    while pos + 8 <= len(data):
        length, revision, kind = struct.unpack_from("<IHH", data, pos)
        if length < 8 or revision not in _CERT_REVISIONS or kind not in _CERT_TYPES or pos + length > size:
            return 0
        pos += (length + 7) & ~7
    return at + size


def _symbols_end(view: View, symbols_at: int, symbols: int, headers_end: int) -> int:
    """The end of the COFF string table, which follows the symbol table and starts with its own size; the
    last string is NUL-terminated."""
    if not symbols_at or symbols_at < headers_end:
        return 0
    strings_at = symbols_at + _SYMBOL_SIZE * symbols
    size_field = view.read(strings_at, 4)
    if len(size_field) < 4:
        return 0
    size = int(struct.unpack("<I", size_field)[0])
    if not 4 <= size <= _MAX_STRING_TABLE:
        return 0
    if size > 4 and view.read(strings_at + size - 1, 1) != b"\0":
        return 0
    return strings_at + size


def _debug_end(view: View, optional: bytes, magic: int, raw: list[tuple[int, int, int, int]]) -> int:
    """The end of debug data stored by file offset (CodeView, etc.), for well-formed debug directory
    entries (Characteristics zero, a known type)."""
    address, size = _directory(optional, magic, _DEBUG)
    at = _file_offset(address, raw)
    if at is None or size < _DEBUG_ENTRY:
        return 0
    data = view.read(at, min(size, _DEBUG_ENTRY * _MAX_DEBUG_ENTRIES))
    end = 0
    for pos in range(0, len(data) - _DEBUG_ENTRY + 1, _DEBUG_ENTRY):
        flags, _, _, _, kind, length, _, pointer = struct.unpack_from("<IIHHIIII", data, pos)
        if flags or kind > _MAX_DEBUG_TYPE:
            return 0
        if pointer and length:
            end = max(end, pointer + length)
    return end if end <= view.size else 0


def _file_offset(address: int, raw: list[tuple[int, int, int, int]]) -> int | None:
    for raw_at, raw_size, virtual, virtual_size in raw:
        if virtual <= address < virtual + max(raw_size, virtual_size) and address - virtual < raw_size:
            return raw_at + address - virtual
    return None
