"""Paths an examiner names on the command line (folders, disk images, loose files) as evidence items.

``dftk meta`` and other commands that take ``PATH...`` read them through here, so a folder, an image and a
handful of loose files are walked, bounded and shown the same way everywhere."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from dftk.errors import EvidenceError
from dftk.evidence import Evidence, EvidenceSpec, LogicalEvidence, WalkItem, open_evidence
from dftk.fs.volumes import open_image


def evidence_items(paths: tuple[str, ...]) -> Iterator[tuple[str, Evidence]]:
    """Each path as evidence, in the order given, with the path as the examiner wrote it: a folder is logical
    evidence, a disk image is opened as one, and loose files given one after another from the same folder
    are one evidence item (one engine run)."""
    loose: list[Path] = []
    for path in paths:
        p = Path(path)
        item = _opened(p)
        if item is None and (not loose or loose[0].parent == p.parent):
            loose.append(p)
            continue
        if loose:
            yield str(loose[0]), LooseFiles(loose)
            loose = [] if item is not None else [p]
        if item is not None:
            yield path, item
    if loose:
        yield str(loose[0]), LooseFiles(loose)


def _opened(path: Path) -> Evidence | None:
    """A folder or a disk image opened as evidence; None for any other path (a loose file, or something
    that is not a regular file at all, which the loose files' walk reports)."""
    if path.is_dir():
        return open_evidence(path, "logical")
    try:
        return open_image(path)
    except EvidenceError:
        return None


class LooseFiles(LogicalEvidence):
    """Loose files of one folder as logical evidence: the folder, walked for those files alone, in order.

    A named FIFO, socket or device is reported as a Problem, never read: its content has no end."""

    def __init__(self, files: list[Path]) -> None:
        self.names = [f.name for f in files]
        super().__init__(files[0].parent)
        self.spec = EvidenceSpec(str(files[0].parent), "logical")

    def walk(self) -> Iterator[WalkItem]:
        for name in self.names:
            item = self.entry(name)
            if item is not None:
                yield item


class Shown:
    """How a file's path is shown: under the folder as given, or ``IMAGE:/path`` inside an image."""

    def __init__(self, evidence: Evidence, given: str) -> None:
        self.logical = evidence.format == "logical"
        self.root = str(Path(given).parent) if isinstance(evidence, LooseFiles) else given

    def __call__(self, path: str) -> str:
        return str(Path(self.root) / path.lstrip("/")) if self.logical else f"{self.root}:{path}"
