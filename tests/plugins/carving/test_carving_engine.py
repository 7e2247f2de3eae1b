"""The carving engine's candidate finder: Hyperscan over YARA hex signatures must find exactly what YARA finds."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
import yara

from dftk_plugins.carving.formats import FORMATS
from dftk_plugins.carving.signatures import Scanner, hex_to_positions, hex_to_regex
from helpers import FIXTURES

SYNTAX = ("4D 5A", "FF D8 FF (C0|C4|DB)", "42 4D ?? ?? 00 00", "FF F? ?0", "AB [2-4] CD", "AB [3] CD", "AB ~00 CD",
          "(4D 4D 00 2A | 49 49 2A 00)")


def _yara_hits(signatures: list[tuple[str, ...]], data: bytes) -> set[tuple[int, int]]:
    source = "\n".join(
        f"rule r{i} {{ strings: " + " ".join(f"$s{j} = {{ {s} }}" for j, s in enumerate(sigs))
        + " condition: any of them }" for i, sigs in enumerate(signatures))
    hits = set()
    for match in yara.compile(source=source).match(data=data):
        for string in match.strings:
            for instance in string.instances:
                hits.add((instance.offset, int(match.rule[1:])))
    return hits


def _sample() -> bytes:
    rng = random.Random(7)
    parts = [rng.randbytes(rng.randrange(1, 300)) for _ in range(400)]
    planted = [b"MZ", b"\xff\xd8\xff\xc4", b"BM\x01\x02\x00\x00", b"\xff\xf3\x10", b"\xab\x01\x02\x03\xcd",
               b"\xab\x01\x00\xcd", b"\xab\x01\xcd", b"MM\x00*", b"II*\x00", b"\x89PNG\r\n\x1a\n", b"RIFF\0\0\0\0WAVE",
               # a signature's literal start without the rest: searched by the literal, refused by the check
               b"\xff\xd8\xff\x01", b"RIFF\0\0\0\0XAVE", b"GIF89b", b"ID3\x05\x00\x00"]
    return b"".join(p + planted[i % len(planted)] for i, p in enumerate(parts))


@pytest.mark.parametrize("signature", SYNTAX)
def test_each_syntax_form_matches_like_yara(signature: str) -> None:
    data = _sample()
    assert Scanner([(signature,)]).find(data) == sorted(_yara_hits([(signature,)], data))


def _re_hits(signatures: list[tuple[str, ...]], data: bytes) -> set[tuple[int, int]]:
    """Every start (overlapping ones too) where Python's regex engine matches a translated signature."""
    hits = set()
    for index, sigs in enumerate(signatures):
        for sig in sigs:
            pattern = re.compile(b"(?=" + hex_to_regex(sig).encode() + b")", re.DOTALL)
            hits |= {(m.start(), index) for m in pattern.finditer(data)}
    return hits


def test_every_declared_format_matches_like_yara_and_re() -> None:
    """YARA is the oracle where it can compile a signature (the frame-sync one is too complex for it)."""
    signatures = [f.signatures for f in FORMATS]
    data = _sample() + random.Random(3).randbytes(4 << 20)
    found = Scanner(signatures).find(data)
    assert found == sorted(_re_hits(signatures, data))
    assert len(found) > 20
    for index, sigs in enumerate(signatures):
        try:
            expected = {(at, index) for at, _ in _yara_hits([sigs], data)}
        except yara.SyntaxError:
            continue
        assert {h for h in found if h[1] == index} == expected, FORMATS[index].name


def test_sector_signatures_match_like_re_at_sector_starts() -> None:
    """Sector signatures are found exactly where the translated expression matches at a sector start."""
    rng = random.Random(11)
    sector = 512
    data = bytearray(rng.randbytes(sector * 4000))
    for i in range(0, len(data), sector * 7):  # plant each declared sector signature's first form
        data[i:i + 2] = b"MZ"
        data[i + sector:i + sector + 4] = b"\xff\xfb\x90\x64"
    sector_signatures = [f.sector_signatures for f in FORMATS]
    assert any(sector_signatures)
    found = Scanner([() for _ in FORMATS], sector_signatures).find(bytes(data), sector)
    expected = {(at, index) for at, index in _re_hits(sector_signatures, bytes(data)) if at % sector == 0}
    assert found == sorted(expected)
    assert len(found) > 1000
    both = Scanner([f.signatures for f in FORMATS], sector_signatures).find(bytes(data), sector)
    assert set(found) <= set(both) and set(both) - set(found) == set(Scanner([f.signatures for f in FORMATS]).find(
        bytes(data)))


def test_sector_signature_in_a_last_partial_sector() -> None:
    """Media whose size is no multiple of the sector: its last sector starts a file all the same."""
    sector = 512
    data = random.Random(12).randbytes(sector * 8) + b"MZ" + bytes(30)
    pe = next(i for i, f in enumerate(FORMATS) if f.name == "pe")
    found = Scanner([() for _ in FORMATS], [f.sector_signatures for f in FORMATS]).find(data, sector)
    assert (sector * 8, pe) in found
    assert not Scanner([() for _ in FORMATS], [f.sector_signatures for f in FORMATS]).find(data[:sector * 8 + 1])


def test_sector_signature_positions() -> None:
    assert hex_to_positions("FF (E2|E3) ?0 ~00 ??") == [
        frozenset({0xFF}), frozenset({0xE2, 0xE3}), frozenset(h << 4 for h in range(16)),
        frozenset(range(1, 256)), frozenset(range(256))]
    for bad in ("AB [2-4] CD", "(4D 4D | 49 49)", "(AB", "FF ZZ", ""):
        with pytest.raises(ValueError):
            hex_to_positions(bad)


def test_translation_and_refusal() -> None:
    assert hex_to_regex("FF ?0 A?") == "\\xff[" + "".join(f"\\x{h << 4:02x}" for h in range(16)) + "][\\xa0-\\xaf]"
    with pytest.raises(ValueError):
        hex_to_regex("FF ZZ")


def _png_of_size(size: int, colour: tuple[int, int, int]) -> bytes:
    """A valid PNG of exactly ``size`` bytes (a tEXt chunk pads it)."""
    import io
    import struct
    import zlib

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(buffer, "PNG")
    png = buffer.getvalue()
    pad = size - len(png) - 12
    assert pad >= 8
    body = b"tEXt" + b"pad\0" + b"x" * (pad - 4)
    chunk = struct.pack(">I", pad) + body + struct.pack(">I", zlib.crc32(body))
    return png[:33] + chunk + png[33:]


def test_unallocated_scope_does_not_report_copies_of_allocated_files(tmp_path: Path) -> None:
    from dftk.evidence.base import Evidence
    from dftk.evidence.files import EvidenceFile
    from dftk.fs.unallocated import unallocated_map
    from dftk.fs.walk import content, files
    from dftk_plugins.carving.recovery import carve

    media = bytearray((FIXTURES / "images/fat16.img").read_bytes())
    with Evidence.from_bytes(bytes(media)) as ev:
        found = [f for f in files(ev) if isinstance(f, EvidenceFile) and not f.deleted and 300 < f.size < 20000]
        file = found[0]
        at = media.find(bytes(content(ev, file)))
        found, _ = unallocated_map(ev)
    assert at > 0
    copy = _png_of_size(file.size, (200, 10, 10))
    other = _png_of_size(file.size + 512, (10, 200, 10))
    media[at:at + file.size] = copy  # the allocated file now holds this PNG
    holes = [s for s, e in zip(found.starts, found.ends, strict=True) if e - s >= 65536]
    media[holes[0]:holes[0] + len(copy)] = copy  # a deleted copy of it
    media[holes[0] + 32768:holes[0] + 32768 + len(other)] = other  # a PNG found nowhere else
    with Evidence.from_bytes(bytes(media)) as ev:
        rows = list(carve(ev, ("png",), "unallocated", 1, tmp_path))
    reported = [r for r in rows if getattr(r, "identical_to", None) is None]
    dropped = [r for r in rows if getattr(r, "identical_to", None) is not None]
    assert [r.row["offset"] for r in reported] == [holes[0] + 32768]  # type: ignore[union-attr]
    assert [(r.row["offset"], r.identical_to) for r in dropped] == [(holes[0], file.path)]  # type: ignore[union-attr]
    assert not (tmp_path / dropped[0].row["path"]).exists()  # type: ignore[union-attr]
