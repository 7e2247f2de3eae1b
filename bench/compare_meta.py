#!/usr/bin/env python3
"""`dftk meta --json` against `exiftool -j -n -G` on the four metadata test sets, field by field.

    python bench/compare_meta.py [--json] [--testdata DIR] [SET...]

dftk is started as `python -m dftk` with the project's `.venv/bin/python` (this Python if there is no venv).
For every set (exif-py, tinytag, py-pdf-sample-files, oletools under ../shared/testdata) it runs exiftool once
(`-j -n -G -r -ext '*'`, so files with an unknown extension are read too) and `dftk meta --json` once, then
compares the core fields of every file:

- image files (exiftool's MIME type image/*): make, model, datetime_original, gps_latitude, gps_longitude;
- audio and video files (audio/*, video/*): title, artist, duration_seconds;
- everything else: title, author, producer, pages.

Normalization: strings are stripped and an empty string counts as absent; times are compared on their first 19
characters with exiftool's ``YYYY:MM:DD HH:MM:SS`` turned into ISO 8601; GPS agrees within 1e-5 degrees and
durations within 0.1 s. A field absent on one side is a disagreement only when the other side has a value; a pair
where both sides are absent is not counted.

Every disagreement is either listed in ALLOWED (file, field, reason) or unexpected. The script prints per-set
figures and the unexpected disagreements, and exits 1 when there is any (tests/test_meta_exiftool.py runs it).
ALLOWED entries that no longer match a disagreement are reported as stale, so a fixed bug takes its entry with it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
TESTDATA = REPO.parent / "shared" / "testdata"
SETS = ("exif-py", "tinytag", "py-pdf-sample-files", "oletools")
GPS_TOLERANCE = 1e-5  # degrees
DURATION_TOLERANCE = 0.1  # seconds

# exiftool tags read for each dftk field, in order of preference; the first one with a value is compared.
IMAGE_FIELDS: dict[str, tuple[str, ...]] = {
    "make": ("EXIF:Make",),
    "model": ("EXIF:Model",),
    "datetime_original": ("EXIF:DateTimeOriginal",),
    "gps_latitude": ("Composite:GPSLatitude",),  # -n: signed decimal degrees (S and W negative)
    "gps_longitude": ("Composite:GPSLongitude",),
}
_AUDIO_GROUPS = ("ID3", "Vorbis", "QuickTime", "RIFF", "ASF", "AIFF", "APE")
AUDIO_FIELDS: dict[str, tuple[str, ...]] = {
    "title": tuple(f"{g}:Title" for g in _AUDIO_GROUPS),
    "artist": (*(f"{g}:Artist" for g in _AUDIO_GROUPS), "ASF:Author"),  # WMA's content-description author
    "duration_seconds": ("Composite:Duration", "QuickTime:Duration", "ASF:Duration", "RIFF:Duration",
                         "AIFF:Duration", "FLAC:Duration", "Vorbis:Duration", "Opus:Duration"),
}
DOCUMENT_FIELDS: dict[str, tuple[str, ...]] = {
    # PDF Info first, then XMP (PDF dc:title, OOXML core.xml and ODF meta.xml as exiftool reads them), OLE2
    # SummaryInformation (FlashPix), RTF \info, and Word/Excel 2003 XML and flat-OPC XML properties.
    "title": ("PDF:Title", "FlashPix:Title", "XMP:Title", "RTF:Title", "XMP:PackagePartXmlDataCorePropertiesTitle"),
    "author": ("PDF:Author", "FlashPix:Author", "XMP:Initial-creator", "XMP:Creator", "RTF:Author",
               "XMP:WordDocumentDocumentPropertiesAuthor", "XMP:WorkbookDocumentPropertiesAuthor",
               "XMP:PackagePartXmlDataCorePropertiesCreator"),
    "producer": ("PDF:Producer", "XMP:Producer"),
    "pages": ("PDF:PageCount", "FlashPix:Pages", "XML:Pages", "XML:Slides", "XMP:Document-statisticPage-count",
              "RTF:Pages", "XMP:WordDocumentDocumentPropertiesPages", "XMP:PackagePartXmlDataPropertiesPages"),
}


@dataclass(frozen=True)
class Allowed:
    """A tolerated disagreement: ``file`` (relative to the test-data folder, fnmatch pattern), field, reason."""

    file: str
    field: str
    reason: str


_LIBREOFFICE_PASSWORD = "py-pdf-sample-files/005-libreoffice-writer-password/libreoffice-writer-password.pdf"
_BROKEN_XREF = "exiftool stops at the broken xref table ('Invalid xref table') and reads nothing; pypdf rebuilds it"
_OFFICE_2003_XML = ("Word/Excel 2003 XML and flat-OPC XML are not among dftk's document formats (issue 6 lists "
                    "PDF, OOXML, OLE2, ODF); exiftool reads their property elements")
_OGG_APPROX = ("exiftool's Ogg Vorbis duration is an estimate (file size x 8 / nominal bitrate, printed '(approx)'); "
               "mutagen reads the last page's granule position")
_LAME_DELAY = ("exiftool counts whole frames (Xing frame count x samples per frame); mutagen subtracts the LAME "
               "tag's encoder delay and padding")
_CBR_ESTIMATE = ("no Xing/VBRI header: both estimate from the file size and a frame bitrate, exiftool from the first "
                 "header after the ID3 tag, mutagen from the first run of consecutive valid frames")
_FEW_FRAMES = ("one-frame or tag-only sample: mutagen finds no run of MPEG frames and gives no length; exiftool "
               "computes a few milliseconds from the first frame header")
_TRUNCATED_ID3 = ("the ID3v2 tag declares more bytes than the file holds: exiftool warns 'Truncated ID3 data' and "
                  "skips the whole tag; dftk reads its frames up to the end of the file (with a Problem)")

ALLOWED: tuple[Allowed, ...] = (
    # --- exif-py
    Allowed("exif-py/jxl/test_0001.jxl", "make", "exifread reads the JXL Exif box's GPS/time IFDs but not IFD0"),
    Allowed("exif-py/jxl/test_0001.jxl", "model", "exifread reads the JXL Exif box's GPS/time IFDs but not IFD0"),
    # --- tinytag
    # exiftool's duration is an estimate or absent; dftk's (mutagen's) is read from the stream
    Allowed("tinytag/*.og[gv]", "duration_seconds", _OGG_APPROX),
    Allowed("tinytag/detect_ogg.x", "duration_seconds", _OGG_APPROX),
    Allowed("tinytag/*.opus", "duration_seconds", "exiftool 12.57 computes no duration for Ogg Opus"),
    Allowed("tinytag/*.spx", "*", "exiftool reads nothing from Ogg Speex (neither comments nor duration)"),
    Allowed("tinytag/*mp2*", "duration_seconds", "exiftool computes no duration for MPEG audio layer II"),
    Allowed("tinytag/vbr[0-9]*.mp3", "duration_seconds", _LAME_DELAY),
    Allowed("tinytag/mpeg25_*.mp3", "duration_seconds", _LAME_DELAY),
    Allowed("tinytag/detect_mp3_mpeg25.x", "duration_seconds", _LAME_DELAY),
    Allowed("tinytag/vbri.mp3", "duration_seconds",
            "truncated sample: the VBRI header declares 222 s (mutagen); exiftool estimates from the bytes"),
    Allowed("tinytag/chinese_id3.mp3", "duration_seconds",
            "truncated 1000-byte sample: the LAME/Xing header declares 263.88 s (mutagen); exiftool estimates "
            "from the bytes"),
    Allowed("tinytag/empty_frame.mp3", "duration_seconds", _CBR_ESTIMATE),
    Allowed("tinytag/non_ascii_filename_äää.mp3", "duration_seconds", _CBR_ESTIMATE),
    Allowed("tinytag/wav_with_image.wav", "duration_seconds",
            "exiftool's 2.86 s counts more than the data chunk; the data chunk holds 17157 frames at 8 kHz = 2.145 s "
            "(Python's wave module agrees with dftk)"),
    Allowed("tinytag/no_audio_data_uncompressed.wav", "duration_seconds",
            "the data chunk is empty (0 frames, Python's wave agrees); exiftool reports 0.001 s"),
    Allowed("tinytag/zero_value_properties*.m4a", "duration_seconds",
            "tinytag sample with zeroed header values: exiftool reports the zero (unknown), mutagen computes a "
            "length from the sample tables"),
    Allowed("tinytag/mpeg1_44khz.mp3", "duration_seconds", _FEW_FRAMES),
    Allowed("tinytag/synced_lyrics_no_terminator_*.mp3", "duration_seconds", _FEW_FRAMES),
    Allowed("tinytag/vbr_xing_header_short.mp3", "duration_seconds", _FEW_FRAMES),
    Allowed("tinytag/detect_wav.x", "duration_seconds",
            "header-only detection sample: exiftool derives 0.003 s from the declared sizes, mutagen gives none"),
    # exiftool misreads or stops; dftk's value is the right one
    Allowed("tinytag/cut_off_titles.mp3", "*",
            "exiftool decodes the UTF-16 text frames with the wrong byte order (CJK garbage); dftk's text is right"),
    Allowed("tinytag/invalid_block_sizes.flac", "*",
            "exiftool stops at the invalid metadata block size and misses the VORBIS_COMMENT that mutagen reads"),
    Allowed("tinytag/id3_broken_frame_size.mp3", "title",
            "exiftool stops at the broken ID3 frame size; mutagen reads the title frame"),
    Allowed("tinytag/detect_wav.x", "*", "exiftool does not read the RIFF INFO list of this detection sample"),
    Allowed("tinytag/id3_comment_utf_16_*.mp3", "*", _TRUNCATED_ID3),
    Allowed("tinytag/id3_genre_id_out_of_bounds.mp3", "*", _TRUNCATED_ID3),
    Allowed("tinytag/id3v22.TCO.genre.mp3", "*", _TRUNCATED_ID3),
    Allowed("tinytag/id3v24-long-title.mp3", "*", _TRUNCATED_ID3),
    Allowed("tinytag/id3v24_genre_null_byte.mp3", "*", _TRUNCATED_ID3),
    Allowed("tinytag/utf16_no_bom.mp3", "*", _TRUNCATED_ID3),
    Allowed("tinytag/UTF16.mp3", "*",
            f"{_TRUNCATED_ID3}; the file ends inside the tag (no audio), and exiftool's 1.024 s is an estimate from "
            "an MPEG frame-sync pattern inside the tag's picture data"),
    Allowed("tinytag/invalid_second_streaminfo.flac", "duration_seconds",
            "exiftool lets the second, all-zero STREAMINFO replace the first: no duration; dftk keeps the first, "
            "valid one (4410 samples at 44.1 kHz = 0.1 s) and reports the second as a Problem"),
    Allowed("tinytag/utf-8-id3v2-invalid-string.mp3", "title",
            "the TIT2 frame's first byte (0xFF) is not UTF-8: exiftool -j writes it as '?', dftk as U+FFFD "
            "(with a Problem); the rest of the title agrees"),
    # --- py-pdf-sample-files
    Allowed(_LIBREOFFICE_PASSWORD, "pages",
            "exiftool reads nothing from a password-protected PDF ('use Password option'); dftk counts the pages, "
            "which are not encrypted"),
    Allowed("py-pdf-sample-files/019-grayscale-image/grayscale-image.pdf", "pages", _BROKEN_XREF),
    Allowed("py-pdf-sample-files/013-reportlab-overlay/reportlab-overlay.pdf", "producer",
            "the trailer's /Info (2 0 R) is also the /AcroForm dictionary; exiftool skips it, pypdf reads "
            "/Producer (PyPDF2), as files.json does"),
    # --- oletools
    Allowed("oletools/*/*.xml", "*", _OFFICE_2003_XML),
    Allowed("oletools/msodde/RTF-Spec-1.7.rtf", "*",
            "RTF is not among dftk's document formats (issue 6); exiftool reads the \\info group"),
    Allowed("oletools/olevba/sample_with_vba.ppt", "author",
            "exiftool decodes the code-page 949 (Korean) SummaryInformation string as '?? ????'; dftk's '김 기정' "
            "is right"),
)


@dataclass
class Comparison:
    file: str
    field: str
    exiftool: Any
    dftk: Any
    agree: bool
    reason: str | None = None  # the ALLOWED reason of a tolerated disagreement


@dataclass
class SetResult:
    name: str
    files: int = 0
    compared: int = 0
    agreements: int = 0
    allowed: list[Comparison] = field(default_factory=list)
    unexpected: list[Comparison] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {"set": self.name, "files": self.files, "compared": self.compared, "agreements": self.agreements,
                "allowed": len(self.allowed), "unexpected": len(self.unexpected)}


def run_exiftool(root: Path, exiftool: str = "exiftool") -> dict[str, dict[str, Any]]:
    """exiftool's record per file, keyed by the absolute path."""
    run = subprocess.run([exiftool, "-j", "-n", "-G", "-r", "-q", "-q", "-ext", "*", str(root)],
                         capture_output=True, text=True, timeout=300, check=False)
    if not run.stdout.strip():
        raise RuntimeError(f"exiftool printed nothing for {root} (exit {run.returncode}): {run.stderr[-500:]}")
    return {str(Path(e["SourceFile"]).resolve()): e for e in json.loads(run.stdout)}


def _python() -> str:
    """The project's venv Python when there is one (so a plain `python bench/compare_meta.py` works)."""
    venv = REPO / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def run_dftk(root: Path, python: str | None = None) -> dict[str, dict[str, Any]]:
    """dftk's record per file (`dftk meta --json`), keyed by the absolute path."""
    python = python or _python()
    run = subprocess.run([python, "-m", "dftk", "meta", "--json", str(root)], capture_output=True, text=True,
                         timeout=300, check=False)
    if run.returncode not in (0, 4):  # 4: some files' records carry problems (their records say which)
        raise RuntimeError(f"dftk meta failed on {root} (exit {run.returncode}): {run.stderr[-500:]}")
    records = (json.loads(line) for line in run.stdout.splitlines() if line.strip())
    return {str(Path(r["path"]).resolve()): r for r in records}


def category(exif: dict[str, Any], mime: str | None) -> str:
    """image, audio or document, from exiftool's MIME type (dftk's when exiftool has none)."""
    kind = str(exif.get("File:MIMEType") or mime or "")
    if kind.startswith("image/"):
        return "image"
    if kind.startswith(("audio/", "video/")):
        return "audio"
    return "document"


FIELDS = {"image": IMAGE_FIELDS, "audio": AUDIO_FIELDS, "document": DOCUMENT_FIELDS}


def present(value: Any) -> Any:
    """The value, or None for absent/empty (strings stripped; a list keeps its non-empty items)."""
    if isinstance(value, list):
        items = [v for v in (present(v) for v in value) if v is not None]
        return items or None
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def exiftool_values(entry: dict[str, Any], name: str, tags: Iterable[str]) -> list[Any]:
    """The values of every candidate tag present, in order of preference (the first is the one reported)."""
    values = []
    for tag in tags:
        value = present(entry.get(tag))
        if value is None:
            continue
        if name == "duration_seconds":
            if tag == "ASF:Duration":  # ASF's play duration includes the preroll (ms); mutagen subtracts it
                value = float(value) - float(entry.get("ASF:Preroll") or 0) / 1000
            if float(value) <= 0:
                continue  # a zero duration is "unknown" (dftk leaves such a field out)
        values.append(value)
    return values


def iso19(value: Any) -> str:
    """The first 19 characters of a time, exiftool's ``YYYY:MM:DD HH:MM:SS`` written as ISO 8601."""
    text = str(value).strip()
    if len(text) >= 10 and text[4] == ":" and text[7] == ":":
        text = text[:4] + "-" + text[5:7] + "-" + text[8:]
    return text.replace(" ", "T", 1)[:19]


def agree(name: str, theirs: Any, ours: Any) -> bool:
    """One exiftool value against dftk's (neither None)."""
    try:
        if name.startswith("gps_"):
            return abs(float(theirs) - float(ours)) <= GPS_TOLERANCE
        if name == "duration_seconds":
            return abs(float(theirs) - float(ours)) <= DURATION_TOLERANCE
        if name == "pages":
            return int(theirs) == int(ours)
    except (TypeError, ValueError):
        return False
    if name.startswith("datetime"):
        return iso19(theirs) == iso19(ours)
    if isinstance(theirs, list):  # a repeated tag (Vorbis, ASF): dftk joins the values with "; "
        return "; ".join(map(str, theirs)) == str(ours) or all(str(v) in str(ours).split("; ") for v in theirs)
    ours_values = str(ours).split("; ")
    # exiftool -j keeps one of repeated frames/atoms, and joins ID3v2.4 multi-values with "/"
    return str(theirs) == str(ours) or str(theirs) in ours_values or all(
        v in ours_values for v in str(theirs).split("/"))


def allowed_reason(file: str, name: str, allowed: Sequence[Allowed] = ALLOWED) -> Allowed | None:
    return next((a for a in allowed if fnmatchcase(file, a.file) and a.field in ("*", name)), None)


def compare_file(file: str, exif: dict[str, Any], record: dict[str, Any],
                 allowed: Sequence[Allowed] = ALLOWED) -> list[Comparison]:
    """Every core field that one of the two tools has a value for."""
    ours_fields = record.get("fields") or {}
    result = []
    for name, tags in FIELDS[category(exif, record.get("mime"))].items():
        candidates, ours = exiftool_values(exif, name, tags), present(ours_fields.get(name))
        if not candidates and ours is None:
            continue
        theirs = candidates[0] if candidates else None
        # a file with two tag blocks (ID3 before a FLAC stream, an ID3 chunk beside RIFF INFO) may hold two
        # different titles: dftk agrees when it reports either
        same = ours is not None and any(agree(name, c, ours) for c in candidates)
        entry = None if same else allowed_reason(file, name, allowed)
        result.append(Comparison(file, name, theirs, ours, same, entry.reason if entry else None))
    return result


def compare_set(name: str, exif: dict[str, dict[str, Any]], ours: dict[str, dict[str, Any]], base: Path,
                allowed: Sequence[Allowed] = ALLOWED) -> SetResult:
    result = SetResult(name)
    for path in sorted(set(exif) | set(ours)):
        relative = Path(path).relative_to(base).as_posix()
        if path not in ours:
            result.errors.append(f"{relative}: listed by exiftool, missing from dftk meta")
            continue
        result.files += 1
        for comparison in compare_file(relative, exif.get(path, {}), ours[path], allowed):
            result.compared += 1
            if comparison.agree:
                result.agreements += 1
            elif comparison.reason is not None:
                result.allowed.append(comparison)
            else:
                result.unexpected.append(comparison)
    return result


def compare(sets: Sequence[str] = SETS, testdata: Path = TESTDATA, exiftool: str = "exiftool",
            allowed: Sequence[Allowed] = ALLOWED) -> list[SetResult]:
    """Runs both tools on every set (concurrently, each tool once per set) and compares."""
    base = testdata.resolve()
    roots = [base / name for name in sets]
    with ThreadPoolExecutor(max_workers=max(2, min(8, os.cpu_count() or 2))) as pool:
        exif_runs = [pool.submit(run_exiftool, root, exiftool) for root in roots]
        dftk_runs = [pool.submit(run_dftk, root) for root in roots]
        return [compare_set(name, e.result(), d.result(), base, allowed)
                for name, e, d in zip(sets, exif_runs, dftk_runs, strict=True)]


def stale_entries(results: Sequence[SetResult], sets: Sequence[str] = SETS,
                  allowed: Sequence[Allowed] = ALLOWED) -> list[Allowed]:
    """ALLOWED entries of the compared sets that matched no disagreement (fixed, or the data changed)."""
    used = {(c.file, c.field) for r in results for c in r.allowed}
    return [a for a in allowed if a.file.split("/", 1)[0] in sets
            and not any(fnmatchcase(f, a.file) and a.field in ("*", n) for f, n in used)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("sets", nargs="*", default=list(SETS), help=f"test sets (default: {' '.join(SETS)})")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of a table")
    parser.add_argument("--testdata", type=Path, default=TESTDATA, help=f"test-data folder (default {TESTDATA})")
    parser.add_argument("--exiftool", default="exiftool", help="the exiftool to run")
    parser.add_argument("--allowed", action="store_true", help="list the allowed disagreements too")
    args = parser.parse_args(argv)
    results = compare(args.sets, args.testdata, args.exiftool)
    stale = stale_entries(results, args.sets)
    unexpected = sum(len(r.unexpected) + len(r.errors) for r in results)
    if args.json:
        print(json.dumps({"sets": [r.summary() | {"unexpected_disagreements": [asdict(c) for c in r.unexpected],
                                                  "allowed_disagreements": [asdict(c) for c in r.allowed],
                                                  "errors": r.errors} for r in results],
                          "stale_allowed": [asdict(a) for a in stale]}, indent=2, ensure_ascii=False))
        return 1 if unexpected else 0
    print(f"{'set':<22}{'files':>7}{'compared':>10}{'agree':>8}{'allowed':>9}{'unexpected':>12}")
    for r in results:
        print(f"{r.name:<22}{r.files:>7}{r.compared:>10}{r.agreements:>8}{len(r.allowed):>9}{len(r.unexpected):>12}")
    for r in results:
        for c in r.unexpected:
            print(f"UNEXPECTED {c.file} {c.field}: exiftool={c.exiftool!r} dftk={c.dftk!r}")
        for error in r.errors:
            print(f"ERROR {error}")
        if args.allowed:
            for c in r.allowed:
                print(f"allowed {c.file} {c.field}: exiftool={c.exiftool!r} dftk={c.dftk!r} ({c.reason})")
    for a in stale:
        print(f"STALE allow-list entry (matches no disagreement): {a.file} {a.field}")
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
