"""Rebuilds plugins/data/jpeg_qtables.json: the quantization tables of camera JPEGs, keyed by a digest of
the tables, with the make and model their EXIF names. Only the numbers are kept, never the pictures.

    python bench/jpeg_qtables.py ../shared/testdata/exif-py/jpg > plugins/data/jpeg_qtables.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from dftk_plugins.metadata.jpeg_tables import estimate_quality, tables_digest

SOFTWARE_HINTS = ("gimp", "photoshop", "paint", "picasa", "lightroom", "ifranview", "irfanview", "acdsee", "windows")


def main(folder: str) -> None:
    known: dict[str, list[dict[str, str]]] = {}
    for path in sorted(Path(folder).rglob("*.jpg")):
        if "tests" in path.parts or "invalid" in path.parts:
            continue  # pictures that crashed parsers are no reference
        try:
            with Image.open(path) as picture:
                tables = {k: list(v) for k, v in getattr(picture, "quantization", {}).items()}
                exif = picture.getexif()
        except (OSError, UnidentifiedImageError, SyntaxError, ValueError):
            continue
        make, model, software = (str(exif.get(tag, "")).strip("\0 ") for tag in (0x010F, 0x0110, 0x0131))
        if not tables or not make or any(h in software.lower() for h in SOFTWARE_HINTS):
            continue  # no camera named, or re-saved by an editor: not the camera's own tables
        if (estimate_quality(tables) or {}).get("ijg_standard_tables"):
            continue  # libjpeg's own tables name the library, not a camera
        entry = {"make": make, "model": model}
        entries = known.setdefault(tables_digest(tables), [])
        if entry not in entries:
            entries.append(entry)
    json.dump(dict(sorted(known.items())), sys.stdout, indent=1, sort_keys=True, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
