"""The evidence layer: bytes only, read-only. See ``base.py`` for the interface and ``opening.py`` for how a
path becomes evidence. It imports nothing from the layers above it (file systems, engine, case, report)."""

from dftk.evidence.base import CHUNK, Evidence, EvidenceSpec, open_read_only
from dftk.evidence.files import MAP_THRESHOLD, Buffer, EvidenceFile, WalkItem
from dftk.evidence.logical import LogicalEvidence
from dftk.evidence.opening import FORMATS, open_evidence, reopen
from dftk.evidence.raw import split_segments

__all__ = ["CHUNK", "FORMATS", "MAP_THRESHOLD", "Buffer", "Evidence", "EvidenceFile", "EvidenceSpec",
           "LogicalEvidence", "WalkItem", "open_evidence", "open_read_only", "reopen", "split_segments"]
