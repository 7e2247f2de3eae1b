"""Thumbnails of the pictures found, so the report can show them (discipline: image)."""

from __future__ import annotations

import base64
import io
import warnings
from collections.abc import Iterator
from typing import Any, ClassVar

import click
from PIL import Image, UnidentifiedImageError

from dftk.api import IMAGE, Buffer, EvidenceFile, Finding, Plugin, Problem, Record

_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*")
MAX_PIXELS = 100_000_000  # larger claims are decompression bombs, not photographs


def _is_picture(head: bytes) -> bool:
    return head.startswith(_SIGNATURES) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")


class ThumbnailsPlugin(Plugin):
    """Small JPEG thumbnails of pictures (JPEG, PNG, GIF, BMP, TIFF, WebP) for the report."""

    name: ClassVar[str] = "thumbnails"
    discipline: ClassVar[str] = "image"
    version: ClassVar[str] = "1.1.0"
    options: ClassVar[tuple[click.Option, ...]] = (
        click.Option(["--thumbnails-size"], type=click.IntRange(32, 512), default=160, show_default=True,
                     help="Longest side of a thumbnail, in pixels."),
    )

    def analyze(self, file: EvidenceFile, data: Buffer, **opts: Any) -> Iterator[Record]:
        if not _is_picture(bytes(data[:16])):
            return
        size = int(opts.get("thumbnails_size") or 160)
        try:
            yield Finding("image/thumbnail", file.path, _thumbnail(data, size))
        except (OSError, ValueError, SyntaxError, UnidentifiedImageError, Image.DecompressionBombError,
                Image.DecompressionBombWarning) as e:
            yield Problem(file.path, f"picture could not be decoded for a thumbnail: {type(e).__name__}: {e}")


def _thumbnail(data: Buffer, size: int) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(io.BytesIO(bytes(data))) as picture:
            width, height = picture.size
            if width * height > MAX_PIXELS:
                raise Image.DecompressionBombError(f"{width}x{height} pixels claimed")
            kind = picture.format or "unknown"
            picture.draft("RGB", (size * 2, size * 2))
            picture.thumbnail((size, size))
            out = io.BytesIO()
            picture.convert("RGB").save(out, "JPEG", quality=80)
    return {"format": kind, "width": width, "height": height, IMAGE: "jpeg_base64",
            "jpeg_base64": base64.b64encode(out.getvalue()).decode("ascii")}
