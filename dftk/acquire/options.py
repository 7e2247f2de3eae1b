"""What an acquisition is asked to do: the :class:`Options` of ``dftk acquire``."""

from __future__ import annotations

from dataclasses import dataclass, field

from dftk.ewf.compression import default_workers
from dftk.ewf.sections import CaseFields
from dftk.ewf.writer import CHECKPOINT

BLOCK = 8 << 20


@dataclass(slots=True)
class Options:
    """The settings of one acquisition (``dftk acquire``'s options).

    Attributes:
        fmt: ``raw`` (also split raw) or ``e01``.
        split: segment size in bytes, or None for one file.
        algorithms: the hashes computed while imaging (E01 adds MD5 and SHA1).
        compression: E01 chunk compression: ``none``, ``fast`` or ``best``.
        fields: what an E01's header sections record.
        retries: re-reads of a failing block before it is read sector by sector.
        verify: re-read the written image and compare its hashes.
        resume: continue an interrupted acquisition.
        workers: E01 compression processes.
        block: bytes read at a time.
        checkpoint: progress made durable every so many bytes.
        command_line: the command recorded in the log.
    """

    fmt: str = "raw"
    split: int | None = None
    algorithms: tuple[str, ...] = ("md5", "sha256")
    compression: str = "fast"
    fields: CaseFields = field(default_factory=CaseFields)
    retries: int = 2
    verify: bool = False
    resume: bool = False
    workers: int = field(default_factory=default_workers)
    block: int = BLOCK
    checkpoint: int = CHECKPOINT  # progress made durable every so many bytes (raw: log; E01: a table too)
    command_line: str = ""
