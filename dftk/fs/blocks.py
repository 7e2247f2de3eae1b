"""Unallocated blocks of a file system, from TSK's own block walk (as ``blkls`` uses).

pytsk3 does not wrap ``tsk_fs_block_walk``; its extension module exports it, so it is called through
ctypes on the ``TSK_FS_INFO`` that pytsk3 already opened. The struct pointer is read from pytsk3's
wrapper object and checked (TSK's structure tag and the volume offset) before anything is called.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterator
from functools import cache
from typing import Any

import pytsk3

from dftk.errors import DftkError

_FS_INFO_TAG = 0x10101010  # TSK_FS_INFO_TAG in tsk_fs.h
_WRAPPED_POINTER_AT = 16  # pytsk3 wrappers: PyObject_HEAD, then the C pointer ("base")


class _Block(ctypes.Structure):
    _fields_ = [("tag", ctypes.c_int), ("fs_info", ctypes.c_void_p), ("buf", ctypes.c_char_p),
                ("addr", ctypes.c_uint64), ("flags", ctypes.c_int)]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(_Block), ctypes.c_void_p)


@cache
def _walker() -> Any:
    lib = ctypes.CDLL(pytsk3.__file__)
    walk = lib.tsk_fs_block_walk
    walk.argtypes = [ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint64, ctypes.c_int, _CALLBACK, ctypes.c_void_p]
    walk.restype = ctypes.c_uint8
    return walk


def _fs_info_pointer(wrapper: Any, volume_offset: int) -> int:
    pointer = ctypes.c_void_p.from_address(id(wrapper) + _WRAPPED_POINTER_AT).value
    if not pointer:
        raise DftkError("cannot reach The Sleuth Kit's file system structure")
    tag = ctypes.c_uint32.from_address(pointer).value
    offset = ctypes.c_int64.from_address(pointer + 2 * ctypes.sizeof(ctypes.c_void_p)).value
    if tag != _FS_INFO_TAG or offset != volume_offset:
        raise DftkError("this pytsk3 build lays out its objects differently; unallocated space unavailable")
    return pointer


def unallocated_runs(tsk_fs: Any, volume_offset: int) -> Iterator[tuple[int, int]]:
    """(first block, number of blocks) of each run of unallocated blocks, in block order."""
    info = tsk_fs.info
    runs: list[list[int]] = []

    def visit(block: Any, _: Any) -> int:
        addr = int(block.contents.addr)
        if runs and runs[-1][0] + runs[-1][1] == addr:
            runs[-1][1] += 1
        else:
            runs.append([addr, 1])
        return 0  # TSK_WALK_CONT

    flags = int(pytsk3.TSK_FS_BLOCK_WALK_FLAG_UNALLOC) | int(pytsk3.TSK_FS_BLOCK_WALK_FLAG_AONLY)
    callback = _CALLBACK(visit)
    failed = _walker()(_fs_info_pointer(info, volume_offset), int(info.first_block), int(info.last_block),
                       flags, callback, None)
    if failed:
        raise DftkError("The Sleuth Kit's block walk failed")
    yield from ((first, count) for first, count in runs)
