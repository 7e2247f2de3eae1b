"""``dftk fs ls``'s engine: each file system listed in an isolated child, with content hashes and types."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from dftk.errors import one_line
from dftk.evidence.base import Evidence, EvidenceSpec
from dftk.fs.filesystem import FileSystem, FsEntry
from dftk.fs.filetype import contradicts_extension, mime_of
from dftk.fs.volumes import Volume, per_volume
from dftk.fs.walk import open_volume
from dftk.hashing.algorithms import digest_all
from dftk.records import Problem


@dataclass(frozen=True, slots=True)
class ListOptions:
    hashes: tuple[str, ...] = ()
    deleted_only: bool = False
    file_types: bool = True


def list_evidence(evidence: Evidence, options: ListOptions) -> Iterator[dict[str, Any] | Problem]:
    """Every entry of every file system, each file system listed in an isolated process."""
    return per_volume(evidence, _list_volume, options)


def _list_volume(spec: EvidenceSpec, volume: Volume, options: ListOptions) -> Iterator[dict[str, Any] | Problem]:
    fs = open_volume(spec, volume)
    if isinstance(fs, Problem):
        yield fs
        return
    for item in fs.walk():
        if isinstance(item, Problem):
            yield item
        elif item.deleted or not options.deleted_only:
            yield from _row(fs, item, options)


def _row(fs: FileSystem, entry: FsEntry, options: ListOptions) -> Iterator[dict[str, Any] | Problem]:
    row = entry.to_json()
    if not entry.readable or not (options.hashes or options.file_types):
        yield row
        return
    head = bytearray()

    def chunks() -> Iterator[bytes]:
        for chunk in fs.content(entry.inode, entry.attribute, entry.size):
            if len(head) < 8192:
                head.extend(chunk[: 8192 - len(head)])
            yield chunk
            if not options.hashes:
                return

    try:
        hashes, read = digest_all(chunks(), options.hashes)
    except OSError as e:
        yield Problem(row["path"], f"content unreadable: {one_line(e, 160)}")
        hashes, read = {}, -1
    if options.hashes:
        row.update({a: hashes.get(a) for a in options.hashes})
        if 0 <= read < entry.size:
            # as icat: what TSK can read is hashed (sparse and bad-cluster streams read as nothing)
            row["content_read"] = read
    if options.file_types and read >= 0:
        row["mime"] = mime_of(bytes(head))
        row["extension_mismatch"] = contradicts_extension(row["path"], row["mime"])
    yield row
