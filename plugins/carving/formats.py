"""Every carved type, declared once: signatures (YARA hex-string syntax, see signatures.py), validator,
maximum size, extension.

Adding a type is one validator function and one line here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dftk_plugins.carving import (
    archive_gaps,
    archives,
    compound,
    compound_gaps,
    executables,
    flac,
    fragments,
    images,
    isobmff,
    jpeg,
    mp3,
    ogg,
    pdf,
    riff,
    sqlite,
)
from dftk_plugins.carving.audio_gaps import flac as flac_gaps
from dftk_plugins.carving.audio_gaps import ogg as ogg_gaps
from dftk_plugins.carving.audio_gaps import riff as riff_gaps
from dftk_plugins.carving.model import Reassembler, Validator, View

MiB = 1 << 20


@dataclass(frozen=True, slots=True)
class Format:
    """One carved type.

    Attributes:
        name: the type (``--types`` name, output folder, manifest ``type``) unless ``kind`` refines it.
        signatures: hex strings (YARA syntax) found at the start of the file.
        sector_signatures: hex strings looked for only at sector starts: short ones random data is full of
            (``signatures.py``); files found by them inside other files are not found.
        validate: the structure-validating validator.
        max_size: bytes a validator may look at; a file is never carved longer.
        ext: the output file's extension.
        nests: files of the same type inside one are reported (as embedded): JPEG thumbnails.
        kind: refines the type from the validated bytes (docx for a ZIP, wav for a RIFF).
        gaps: bifragment gap carving, tried when the validator fails part-way (``fragments.py``).
    """

    name: str
    signatures: tuple[str, ...]
    validate: Validator
    max_size: int
    ext: str
    nests: bool = False
    kind: Callable[[View, int], str] | None = None
    gaps: Reassembler | None = None
    sector_signatures: tuple[str, ...] = ()


FORMATS: tuple[Format, ...] = (
    Format("jpeg", ("FF D8 FF (C0|C4|DB|DD|E0|E1|E2|E3|E8|ED|EE|FE)",), jpeg.jpeg, 64 * MiB, "jpg", nests=True,
           gaps=jpeg.gaps),
    Format("png", ("89 50 4E 47 0D 0A 1A 0A",), images.png, 256 * MiB, "png", gaps=fragments.png),
    Format("gif", ("47 49 46 38 (37|39) 61",), images.gif, 64 * MiB, "gif",
           gaps=images.gif_gaps),
    Format("bmp", ("42 4D ?? ?? ?? ?? 00 00 00 00",), images.bmp, 256 * MiB, "bmp", gaps=images.bmp_gaps),
    Format("pdf", ("25 50 44 46 2D 31 2E",), pdf.pdf, 512 * MiB, "pdf", gaps=pdf.pdf_gaps),
    Format("zip", ("50 4B 03 04",), archives.zip_archive, 1024 * MiB, "zip", kind=archives.zip_kind,
           gaps=archive_gaps.zip_gaps),
    Format("ole2", ("D0 CF 11 E0 A1 B1 1A E1",), compound.ole2, 512 * MiB, "ole", gaps=compound_gaps.ole2_gaps),
    Format("sqlite", ("53 51 4C 69 74 65 20 66 6F 72 6D 61 74 20 33 00",), sqlite.sqlite, 1024 * MiB, "sqlite",
           gaps=sqlite.sqlite_gaps),
    Format("riff", ("52 49 46 46 ?? ?? ?? ?? (57 41 56 45|41 56 49 20|57 45 42 50)",), riff.riff, 1024 * MiB,
           "riff", kind=riff.riff_kind, gaps=riff_gaps),
    Format("pe", (), executables.pe, 256 * MiB, "exe", sector_signatures=("4D 5A",)),
    Format("mp3", ("49 44 33 (02|03|04) 00 ?0",), mp3.mp3, 256 * MiB, "mp3", sector_signatures=(mp3.MP3_SYNC,)),
    Format("ogg", ("4F 67 67 53 00 02",), ogg.ogg, 1024 * MiB, "ogg", gaps=ogg_gaps),
    Format("flac", ("66 4C 61 43 00 00 00 22", "49 44 33 (02|03|04) 00 ?0"), flac.flac, 1024 * MiB, "flac",
           gaps=flac_gaps),
    Format("tiff", ("49 49 2A 00", "4D 4D 00 2A"), images.tiff, 1024 * MiB, "tif",
           gaps=images.tiff_gaps),
    Format("isobmff", ("00 00 00 ?? 66 74 79 70",), isobmff.isobmff, 4096 * MiB, "mp4",
           kind=isobmff.isobmff_kind, gaps=isobmff.gaps),
)
BY_NAME = {f.name: f for f in FORMATS}
EXTENSIONS = {"jpeg": "jpg", "docx": "docx", "xlsx": "xlsx", "pptx": "pptx", "odt": "odt", "ods": "ods",
              "odp": "odp", "jar": "jar", "wav": "wav", "avi": "avi", "webp": "webp", "mp3": "mp3", "ogg": "ogg",
              "flac": "flac", "tiff": "tif",
              "m4a": "m4a", "mp4": "mp4", "mov": "mov", "heic": "heic", "avif": "avif", "3gp": "3gp", "3g2": "3g2",
              "cr3": "cr3"}
TYPE_NAMES = tuple(f.name for f in FORMATS)

