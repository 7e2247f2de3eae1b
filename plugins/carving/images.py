"""Validators of image formats (JPEG is in jpeg.py): PNG (chunks and CRCs), GIF, BMP.

Each takes a view of the bytes at a candidate and returns None when the bytes are not the format at all,
or a Verdict with the real end of the file (``full``) or how far the structure held (``partial``).
"""

from __future__ import annotations

import io
import struct
import warnings
import zlib

from PIL import Image, ImageFile, JpegImagePlugin, TiffImagePlugin, WebPImagePlugin

from dftk_plugins.carving import gif_lzw, raster_gaps
from dftk_plugins.carving.gif_gaps import gaps as reassemble_gif
from dftk_plugins.carving.model import Validator, Verdict, View

MAX_PIXELS = 200_000_000  # decode checks refuse decompression bombs above this

# Each decode check builds its format's image class itself: Image.open would first import Pillow's common
# plugins (BMP, GIF, PNG, PPM), and all fifty for a format not among them, in every carving worker.
_DECODERS: dict[str, type[ImageFile.ImageFile]] = {
    "JPEG": JpegImagePlugin.JpegImageFile, "TIFF": TiffImagePlugin.TiffImageFile, "WEBP": WebPImagePlugin.WebPImageFile}


def decodes(data: bytes | memoryview, fmt: str) -> bool:
    """Whether Pillow decodes the whole image as ``fmt`` (JPEG, TIFF, WEBP); a bomb-sized image counts as not
    decoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with _DECODERS[fmt](io.BytesIO(data)) as image:
                if image.width * image.height > MAX_PIXELS:
                    return False
                image.load()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, struct.error, EOFError, IndexError,
            KeyError, TypeError, ZeroDivisionError, MemoryError):
        return False
    return True


def png(view: View) -> Verdict | None:
    """PNG: the signature, IHDR first, every chunk's CRC, up to IEND."""
    pos = 8
    while True:
        head = view.read(pos, 8)
        if len(head) < 8:
            break
        length, kind = struct.unpack(">I4s", head)
        if length > 0x7FFFFFFF or not kind.isalpha() or (pos == 8 and kind != b"IHDR"):
            break
        body = view.buffer(pos + 4, length + 8)
        if len(body) < length + 8 or zlib.crc32(body[:-4]) != struct.unpack(">I", body[-4:])[0]:
            break
        pos += 12 + length
        if kind == b"IEND":
            return Verdict(pos, True, 0.99)
    return None if pos == 8 else Verdict(pos, False, 0.4, pos)


def gif(view: View) -> Verdict | None:
    """GIF: screen descriptor, colour tables, image and extension blocks as sub-block chains, each image's
    LZW data strictly checked (``gif_lzw``), the trailer."""
    head = view.read(0, 13)
    if len(head) < 13 or head[:6] not in (b"GIF87a", b"GIF89a"):
        return None
    pos = 13 + (3 << ((head[10] & 7) + 1) if head[10] & 0x80 else 0)
    images = 0
    while True:
        block = view.read(pos, 10)
        if not block:
            break
        if block[0] == 0x3B:
            return Verdict(pos + 1, True, 0.95) if images else None
        if block[0] == 0x21 and len(block) >= 2:
            after = _sub_blocks(view, pos + 2)
        elif block[0] == 0x2C and len(block) == 10:
            images += 1
            after = _gif_image(view, pos, block)
            if after is None:
                start = pos + 10 + (3 << ((block[9] & 7) + 1) if block[9] & 0x80 else 0)
                # as far as its sub-blocks chain; gap carving looks for the break in its data
                return Verdict(_sub_blocks(view, start + 1) or pos, False, 0.3, start + 1)
        else:
            after = None
        if after is None:
            break
        pos = after
    return Verdict(pos, False, 0.3, pos) if images else None


def _gif_image(view: View, pos: int, block: bytes) -> int | None:
    """Where the image at ``pos`` ends, if its data chains to a terminator and decodes to exactly its
    width * height pixels."""
    width, height = struct.unpack("<HH", block[5:9])
    start = pos + 10 + (3 << ((block[9] & 7) + 1) if block[9] & 0x80 else 0)
    size = view.read(start, 1)
    if not size or not 2 <= size[0] <= 8:
        return None
    after = _full_blocks_end(view, start + 1)
    if after is not None and view.read(after, 1) in (b";", b"!", b","):
        return after
    payload = bytearray()
    after = _sub_blocks(view, start + 1, payload, view.size)
    if after is not None and gif_lzw.lzw_ok(bytes(payload), size[0], width * height):
        return after
    return None


def _full_blocks_end(view: View, pos: int) -> int | None:
    """The end of the sub-block chain at ``pos`` when every block but the last holds 255 bytes, as every
    encoder writes them (read a MiB at a time, the length bytes taken by slicing: no loop per block); None
    for any other chain. Foreign bytes in the data would have to hold a 255 length byte every 256 bytes on
    the chain's beat: random, zero or text filler breaks the rule (a zero is a terminator, so the chain must
    also be followed by a block introducer), and then the LZW stream is decoded and its pixels counted
    (``gif_lzw``), which is the costly check."""
    step = 256 * 4096
    while True:
        data = view.read(pos, step)
        lengths = data[::256]
        full = len(lengths) - len(lengths.lstrip(b"\xff"))
        if full == len(lengths):
            if len(data) < step:
                return None  # runs off the view
            pos += step
            continue
        at = pos + 256 * full
        last = lengths[full]
        if last == 0:
            return at + 1
        return at + last + 2 if view.read(at + 1 + last, 1) == b"\0" else None


def gif_gaps(validate: Validator, view: View, verdict: Verdict, sector: int) -> Verdict | None:
    """GIF gap carving (``gif_gaps.gaps``)."""
    reassembled: Verdict | None = reassemble_gif(validate, view, verdict, sector)
    return reassembled


def _sub_blocks(view: View, pos: int, payload: bytearray | None = None, cap: int = 0) -> int | None:
    after: int | None = gif_lzw.sub_blocks(view, pos, payload, cap)
    return after


_DIB_SIZES = {12, 40, 52, 56, 64, 108, 124}


def bmp(view: View) -> Verdict | None:
    """BMP: file size, pixel offset and DIB header consistent with each other and with the pixel array; an
    uncompressed pixel array must continue as one picture (``raster_gaps``)."""
    layout = _bmp_layout(view)
    if layout is None:
        return None
    size, raster = layout
    if view.size < size:
        return Verdict(view.size, False, 0.3, view.size)
    return raster_gaps.judge(view, raster) if raster is not None else Verdict(size, True, 0.9)


def bmp_gaps(validate: Validator, view: View, verdict: Verdict, sector: int) -> Verdict | None:
    """BMP gap carving: the pixel rows resume where the picture continues (``raster_gaps.reassemble``)."""
    layout = _bmp_layout(view)
    return raster_gaps.reassemble(view, verdict, sector, layout[1]) if layout is not None else None


def _bmp_layout(view: View) -> tuple[int, raster_gaps.Raster | None] | None:
    """(the file size, where its uncompressed pixel rows are or None), or None if it is no BMP."""
    head = view.read(0, 54)
    if len(head) < 26:
        return None
    size, reserved, offset, dib = struct.unpack("<IIII", head[2:18])
    if dib not in _DIB_SIZES or reserved != 0 or not 14 + dib <= offset <= size or size < 30:
        return None
    if dib == 12:
        width, height, planes, bpp = struct.unpack("<HhHH", head[18:26])
        compression = 0
    else:
        width, height, planes, bpp, compression = struct.unpack("<iiHHI", head[18:34])
    if planes != 1 or bpp not in (1, 2, 4, 8, 16, 24, 32) or not 0 < width < 65536 or not 0 < abs(height) < 65536:
        return None
    if compression not in (0, 1, 2, 3, 4, 5, 6):
        return None
    stride = ((width * bpp + 31) // 32) * 4
    if compression in (0, 3) and offset + stride * abs(height) > size:
        return None
    if compression not in (0, 3):
        return size, None  # RLE, JPEG or PNG inside: no fixed rows to compare
    return size, raster_gaps.Raster(offset, offset + stride * abs(height), stride, max(1, bpp // 8), size)


_TIFF_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8, 17: 8, 18: 8}
_DATA_PAIRS = ((273, 279), (324, 325), (513, 514))  # strips, tiles, JPEG thumbnail: offsets and byte counts
_DATA_TAGS = frozenset(tag for pair in _DATA_PAIRS for tag in pair)
MAX_IFDS = 64


def tiff(view: View) -> Verdict | None:
    """TIFF: the chain of IFDs (bounded) and everything they point to; the file ends with the last byte any
    entry, strip or tile claims. A decode check follows for single-image files Pillow can read."""
    head = view.read(0, 8)
    if head[:4] not in (b"II*\0", b"MM\0*"):
        return None
    order = "<" if head[:2] == b"II" else ">"
    ifd, end, pictures = struct.unpack(order + "I", head[4:8])[0], 8, False
    seen: set[int] = set()
    while ifd and ifd not in seen and len(seen) < MAX_IFDS:
        seen.add(ifd)
        result = _tiff_ifd(view, order, ifd)
        if result is None:
            return Verdict(end, False, 0.3, end) if seen != {ifd} else None
        ifd_end, extent, ifd, has_picture = result
        end, pictures = max(end, ifd_end, extent), pictures or has_picture
    if not pictures:
        return None  # no strips or tiles: an EXIF block inside a JPEG, not a TIFF file
    if end > view.size:
        return Verdict(view.size, False, 0.3, 0)
    raster = _tiff_raster(view, order, struct.unpack(order + "I", head[4:8])[0], end)
    if raster is not None:
        return raster_gaps.judge(view, raster)  # uncompressed rows: any bytes decode, so compare them instead
    # A decode failure is broken picture data (a compressed strip with foreign bytes in it): partial.
    return Verdict(end, True, 0.85) if decodes(view.read(0, end), "TIFF") else Verdict(end, False, 0.3, 0)


def tiff_gaps(validate: Validator, view: View, verdict: Verdict, sector: int) -> Verdict | None:
    """TIFF gap carving for uncompressed strips: they resume where the picture continues."""
    head = view.read(0, 8)
    if head[:4] not in (b"II*\0", b"MM\0*"):
        return None
    order = "<" if head[:2] == b"II" else ">"
    result = _tiff_ifd(view, order, struct.unpack(order + "I", head[4:8])[0])
    if result is None:
        return None
    raster = _tiff_raster(view, order, struct.unpack(order + "I", head[4:8])[0], max(result[:2]))
    return raster_gaps.reassemble(view, verdict, sector, raster)


def _tiff_raster(view: View, order: str, ifd: int, end: int) -> raster_gaps.Raster | None:
    """Where the first image's rows are when they are uncompressed, chunky and stored as strips that follow
    each other in order (one run of rows); None otherwise."""
    count_raw = view.read(ifd, 2)
    if len(count_raw) < 2:
        return None
    count = min(struct.unpack(order + "H", count_raw)[0], 1024)
    table = view.read(ifd + 2, count * 12)
    tags = {}
    for i in range(len(table) // 12):
        tag, kind, n = struct.unpack_from(order + "HHI", table, i * 12)
        tags[tag] = _tiff_values(view, order, table[i * 12 + 4:i * 12 + 12], kind, n)
    first = {tag: values[0] for tag, values in tags.items() if values}
    offsets, counts = tags.get(273, ()), tags.get(279, ())
    if first.get(259, 1) != 1 or first.get(284, 1) != 1 or not offsets or len(offsets) != len(counts):
        return None
    if any(offsets[i] + counts[i] != offsets[i + 1] for i in range(len(offsets) - 1)):
        return None
    bits = sum(tags.get(258, (1,))) if len(tags.get(258, ())) > 1 else first.get(258, 1) * first.get(277, 1)
    stride = (first.get(256, 0) * bits + 7) // 8
    rows = first.get(257, 0)
    if stride <= 0 or rows <= 1 or offsets[0] + stride * rows > end:
        return None
    return raster_gaps.Raster(offsets[0], offsets[0] + stride * rows, stride, max(1, bits // 8), end)


def _tiff_ifd(view: View, order: str, at: int) -> tuple[int, int, int, bool] | None:
    """(end of the IFD, furthest byte its entries point to, next IFD offset, whether it holds picture data),
    or None if it is not an IFD."""
    count_raw = view.read(at, 2)
    if len(count_raw) < 2:
        return None
    count = struct.unpack(order + "H", count_raw)[0]
    if not 0 < count <= 1024:
        return None
    table = view.read(at + 2, count * 12 + 4)
    if len(table) < count * 12 + 4:
        return None
    extent, values = 0, {}
    for i in range(count):
        tag, kind, n = struct.unpack_from(order + "HHI", table, i * 12)
        size = _TIFF_SIZES.get(kind, 1) * n
        if size > 4:
            extent = max(extent, struct.unpack_from(order + "I", table, i * 12 + 8)[0] + size)
        # only the strip, tile and thumbnail entries' values are looked at (the others only by their presence)
        values[tag] = _tiff_values(view, order, table[i * 12 + 4 : i * 12 + 12], kind, n) if tag in _DATA_TAGS else ()
    for offsets, counts in _DATA_PAIRS:
        for start, length in zip(values.get(offsets, ()), values.get(counts, ()), strict=False):
            extent = max(extent, start + length)
    pictures = 273 in values or 324 in values
    return at + 2 + count * 12 + 4, extent, struct.unpack_from(order + "I", table, count * 12)[0], pictures


def _tiff_values(view: View, order: str, field: bytes, kind: int, n: int) -> tuple[int, ...]:
    """The SHORT or LONG values of an entry (inline or at its offset), at most 4096 of them."""
    if kind not in (3, 4) or not 0 < n <= 4096:
        return ()
    width = 2 if kind == 3 else 4
    raw = field[4:4 + n * width] if n * width <= 4 else view.read(struct.unpack(order + "I", field[4:8])[0], n * width)
    if len(raw) < n * width:
        return ()
    return struct.unpack(order + ("H" if kind == 3 else "I") * n, raw)
