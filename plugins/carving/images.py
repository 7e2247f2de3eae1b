"""Validators of image formats: JPEG (markers, entropy-coded data, a decode), PNG (chunks and CRCs), GIF, BMP.

Each takes a view of the bytes at a candidate and returns None when the bytes are not the format at all,
or a Verdict with the real end of the file (``full``) or how far the structure held (``partial``).
"""

from __future__ import annotations

import io
import re
import struct
import warnings
import zlib

from PIL import Image, UnidentifiedImageError

from dftk_plugins.carving.model import Verdict, View

STEP = 1 << 20
MAX_PIXELS = 200_000_000  # decode checks refuse decompression bombs above this
_ENTROPY_END = re.compile(rb"\xff[^\x00\xd0-\xd7]")
_STANDALONE = {0x01, *range(0xD0, 0xD8)}


def jpeg(view: View) -> Verdict | None:
    """JPEG: the marker chain, each scan's entropy-coded data to the next marker, up to EOI; then a decode."""
    end, good, mpf = _jpeg_end(view, 0)
    if end is None:
        return None if good < 0 else Verdict(good, False, 0.4, good)
    while mpf:  # MPF (multi-picture) files carry their further images right after the first EOI
        more, _, _ = _jpeg_end(view, end) if view.read(end, 3) == b"\xff\xd8\xff" else (None, 0, False)
        if more is None:
            break
        end = more
    return Verdict(end, True, 0.99) if decodes(view.read(0, end)) else Verdict(end, False, 0.5, 0)


def _jpeg_end(view: View, pos: int) -> tuple[int | None, int, bool]:
    """(end of the image or None, how far it held or -1 when it is no JPEG, whether it has MPF)."""
    pos += 2
    seen_frame = seen_scan = mpf = False
    while True:
        head = view.read(pos, 4)
        if len(head) < 2 or head[0] != 0xFF:
            return None, (pos if seen_scan else -1), mpf
        marker = head[1]
        if marker == 0xFF:
            pos += 1
            continue
        if marker == 0xD9:
            return ((pos + 2) if seen_frame and seen_scan else None), (pos if seen_scan else -1), mpf
        if marker in _STANDALONE:
            pos += 2
            continue
        if marker < 0xC0 or marker == 0xD8 or len(head) < 4:
            return None, (pos if seen_scan else -1), mpf
        length = struct.unpack(">H", head[2:4])[0]
        if length < 2:
            return None, (pos if seen_scan else -1), mpf
        seen_frame = seen_frame or marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE,
                                              0xCF)
        mpf = mpf or (marker == 0xE2 and view.read(pos + 4, 4) == b"MPF\x00")
        pos += 2 + length
        if marker == 0xDA:
            if not seen_frame:
                return None, -1, mpf
            seen_scan = True
            found = _entropy_end(view, pos)
            if found is None:
                return None, pos, mpf
            pos = found


def _entropy_end(view: View, pos: int) -> int | None:
    """The position of the marker that ends the entropy-coded data starting at ``pos``."""
    while pos < view.size:
        data = view.read(pos, STEP + 1)
        m = _ENTROPY_END.search(data)
        if m is not None:
            return pos + m.start()
        if len(data) <= 1:
            return None
        pos += len(data) - 1
    return None


def decodes(data: bytes) -> bool:
    """Whether Pillow decodes the whole image (a bomb-sized image counts as not decoded)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as image:
                if image.width * image.height > MAX_PIXELS:
                    return False
                image.load()
    except (OSError, ValueError, SyntaxError, UnidentifiedImageError, Image.DecompressionBombError,
            struct.error, EOFError, IndexError, KeyError, TypeError, ZeroDivisionError, MemoryError):
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
        body = view.read(pos + 4, length + 8)
        if len(body) < length + 8 or zlib.crc32(body[:-4]) != struct.unpack(">I", body[-4:])[0]:
            break
        pos += 12 + length
        if kind == b"IEND":
            return Verdict(pos, True, 0.99)
    return None if pos == 8 else Verdict(pos, False, 0.4, pos)


def gif(view: View) -> Verdict | None:
    """GIF: screen descriptor, colour tables, image and extension blocks as sub-block chains, the trailer."""
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
            return Verdict(pos + 1, True, 0.9) if images else None
        if block[0] == 0x21 and len(block) >= 2:
            after = _sub_blocks(view, pos + 2)
        elif block[0] == 0x2C and len(block) == 10:
            images += 1
            start = pos + 10 + (3 << ((block[9] & 7) + 1) if block[9] & 0x80 else 0)
            after = _sub_blocks(view, start + 1) if view.read(start, 1) and view.read(start, 1)[0] <= 12 else None
        else:
            after = None
        if after is None:
            break
        pos = after
    return Verdict(pos, False, 0.3, pos) if images else None


def _sub_blocks(view: View, pos: int) -> int | None:
    while True:
        size = view.read(pos, 1)
        if not size:
            return None
        pos += 1 + size[0]
        if size[0] == 0:
            return pos
        if pos > view.size:
            return None


_DIB_SIZES = {12, 40, 52, 56, 64, 108, 124}


def bmp(view: View) -> Verdict | None:
    """BMP: file size, pixel offset and DIB header consistent with each other and with the pixel array."""
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
    if compression in (0, 3) and offset + ((width * bpp + 31) // 32) * 4 * abs(height) > size:
        return None
    if view.size < size:
        return Verdict(view.size, False, 0.3, view.size)
    return Verdict(size, True, 0.9)


_TIFF_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8, 17: 8, 18: 8}
_DATA_PAIRS = ((273, 279), (324, 325), (513, 514))  # strips, tiles, JPEG thumbnail: offsets and byte counts
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
    return Verdict(end, True, 0.85 if decodes(view.read(0, end)) else 0.6)


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
        values[tag] = _tiff_values(view, order, table[i * 12 + 4 : i * 12 + 12], kind, n)
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
