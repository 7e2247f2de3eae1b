"""Image metadata (discipline: image): EXIF, GPS, XMP, IPTC, ICC; and checks that suggest an edited picture.

What is read, and how, is in ``image_meta.py``; the checks are in ``image_checks.py`` (JPEG quantization
tables in ``jpeg_tables.py``). See docs/metadata.md for the fields, the checks and their limits.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from dftk.api import Buffer, EvidenceFile, Finding, Plugin, Problem, Record, mime_of
from dftk_plugins.metadata.common import marks
from dftk_plugins.metadata.image_checks import run_checks
from dftk_plugins.metadata.image_meta import read_image

_HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"mif1", b"msf1", b"avif", b"avis", b"crx ")
_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"II*\x00", b"MM\x00*", b"IIRO",
               b"IIU\x00", b"FUJIFILMCCD-RAW", b"\xff\x0a", b"\x00\x00\x00\x0cJXL ", b"BM")


def is_image(head: bytes) -> bool:
    """True for the picture formats this plugin reads, by their first bytes."""
    if head.startswith(_SIGNATURES):
        return True
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return True
    return head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS


# What each time a picture records means, for the timeline (docs/metadata.md).
TIMES_TAKEN = {"datetime_original": "picture taken", "datetime_digitized": "picture digitized",
               "datetime_modified": "picture file changed"}


class ImageMetaPlugin(Plugin):
    """Image metadata (EXIF, GPS, XMP, IPTC, ICC) and edit signs: thumbnail, software, dates, JPEG quality."""

    name: ClassVar[str] = "image"
    discipline: ClassVar[str] = "image"
    version: ClassVar[str] = "1.1.0"

    def analyze(self, file: EvidenceFile, data: Buffer, **opts: Any) -> Iterator[Record]:
        if not is_image(bytes(data[:32])):
            return
        raw = bytes(data)
        meta = read_image(raw)
        for message in meta.problems:
            yield Problem(file.path, message)
        if not meta.tags and not meta.fields:
            return
        hints = marks(meta.fields, TIMES_TAKEN, ("gps_latitude", "gps_longitude"))
        yield Finding("media/image", file.path, {"mime": mime_of(raw[:8192]), **meta.fields, "tags": meta.tags,
                                                 **hints})
        for kind, found in run_checks(meta, file):
            yield Finding(kind, file.path, found)
