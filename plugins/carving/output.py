"""Carved files on disk: the name each gets, and the folder they are written to.

The worker that validated a file hashes it and writes it while its bytes are still in memory, so the
evidence is read once; the parent only settles what the merge keeps (``recovery.py``).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

from dftk_plugins.carving.formats import BY_NAME, EXTENSIONS


def carved_path(kind: str, name: str, image_offset: int) -> str:
    """The output path of a carved file, relative to the output folder: ``<kind>/<image offset>.<ext>``."""
    ext = EXTENSIONS.get(kind, kind if kind != name else BY_NAME[name].ext)
    return f"{kind}/{image_offset}.{ext}"


class Output:
    """The output folder. Files are written with plain descriptors (a carved file is written whole in a few
    large writes, so Python's buffered file layer only adds system calls); a type folder is made when the
    first file meant for it finds it missing."""

    FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)

    def __init__(self, outdir: Path) -> None:
        self.outdir = outdir

    def create(self, path: str) -> int:
        """A new (or truncated) file at ``path``, open for writing."""
        try:
            return os.open(self.outdir / path, self.FLAGS, 0o644)
        except FileNotFoundError:
            (self.outdir / path).parent.mkdir(parents=True, exist_ok=True)
            return os.open(self.outdir / path, self.FLAGS, 0o644)


def store(pieces: Iterable[bytes | memoryview], output: Output | None, path: str) -> tuple[int, str]:
    """The size and SHA-256 of a carved file given in pieces; with an output folder it is written to
    ``path`` too."""
    digest, size = hashlib.sha256(), 0
    fd = output.create(path) if output is not None else -1
    try:
        for piece in pieces:
            digest.update(piece)
            size += len(piece)
            if fd >= 0:
                write_all(fd, piece)
    finally:
        if fd >= 0:
            os.close(fd)
    return size, digest.hexdigest()


def write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
