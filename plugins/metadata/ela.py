"""Error-level analysis (ELA): how much each region of a JPEG changes when saved again at a known quality.

A JPEG saved once has roughly even error levels; a region pasted in or retouched after the last save often
stands out brighter or darker. The picture is a prompt for an examiner's eye, not a finding by itself.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageChops

from dftk.api import Buffer, safe_relative

RESAVE_QUALITY = 90


def write_ela(data: Buffer, shown: str, outdir: Path) -> Path:
    """Writes ``<outdir>/<safe path>.ela.png`` for a JPEG and returns it.

    Raises:
        OSError: the picture cannot be decoded or the file cannot be written.
    """
    with Image.open(io.BytesIO(bytes(data))) as picture:
        original = picture.convert("RGB")
    buffer = io.BytesIO()
    original.save(buffer, "JPEG", quality=RESAVE_QUALITY)
    with Image.open(buffer) as resaved:
        difference = ImageChops.difference(original, resaved.convert("RGB"))
    extrema = difference.getextrema()
    top = max(high for _, high in extrema) or 1  # type: ignore[misc]
    scaled = difference.point(lambda value: min(255, value * 255 // top))
    target = outdir / safe_relative(shown)
    target = target.with_name(target.name + ".ela.png")
    target.parent.mkdir(parents=True, exist_ok=True)
    scaled.save(target, "PNG")
    return target
