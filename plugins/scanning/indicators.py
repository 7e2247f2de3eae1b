"""The indicators discipline: e-mail addresses, URLs, domains, IP addresses, phone numbers, bank cards,
Chinese resident identity numbers, IBANs and Bitcoin addresses, in files and in the raw media.

Three decodings are scanned, each reporting byte offsets in the original data:

- ASCII-compatible text (ASCII, UTF-8, GBK: all three store these indicators' characters as single ASCII
  bytes). The finding's ``encoding`` says which text surrounds the value: ``ascii``, ``utf-8`` or ``gbk``.
- UTF-16LE (runs of ASCII characters each followed by a zero byte).
- GBK full-width forms (``１３８…``, ``ａ＠ｂ．ｃｎ``, two bytes ``A3 xx`` per character).

Values whose check digit, Luhn digit or checksum is wrong are not reported. Each finding's subject is the
file's path (``offset`` within the file) or, for the raw media, ``offset:0x...`` (an image offset, with
``unallocated`` telling whether it lies in unallocated space). The raw media scan ends with one
``indicator/histogram`` finding per kind (value, count); for files, histograms are built from the findings
(``dftk scan --indicators`` prints them), because a file-scope plugin sees one file at a time.
"""

from __future__ import annotations

import bisect
import ipaddress
import re
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import click

from dftk.api import Buffer, Evidence, EvidenceFile, Finding, Plugin, Problem, Record, UnallocatedMap, unallocated_map
from dftk_plugins.scanning import checkdigits
from dftk_plugins.scanning.windows import Window, Windows, context, windows_over

_TLDS = ("com|net|org|edu|gov|mil|int|info|biz|io|co|me|tv|cc|xyz|top|online|site|app|dev|cloud|shop|"
         "cn|hk|tw|mo|jp|kr|sg|my|th|vn|in|ru|ua|de|fr|uk|nl|be|ch|at|it|es|pt|se|no|dk|fi|pl|cz|eu|us|ca|"
         "au|nz|br|mx|ar|za|ir|tr|il|ae|sa")
_BOUNDARY = rb"(?![A-Za-z0-9-])"
PATTERNS: dict[str, bytes] = {
    "email": rb"(?<![A-Za-z0-9._%+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}"
             rb"[A-Za-z0-9])?\.)+[A-Za-z]{2,24}" + _BOUNDARY,
    "url": rb"(?<![A-Za-z])(?:https?|ftp)://[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]{3,2000}",
    "domain": rb"(?<![A-Za-z0-9.@/-])(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+(?i:" + _TLDS.encode()
              + rb")(?![A-Za-z0-9-]|\.[A-Za-z0-9])",
    "ipv4": rb"(?<![0-9.])(?:[0-9]{1,3}\.){3}[0-9]{1,3}(?![0-9]|\.[0-9])",
    "ipv6": rb"(?<![0-9A-Fa-f:])(?:[0-9A-Fa-f]{1,4})?(?::[0-9A-Fa-f]{0,4}){2,7}(?![0-9A-Fa-f:])",
    "cn-mobile": rb"(?<![0-9+])(?:\+?86[ -]?)?1[3-9][0-9]{9}(?![0-9])",
    "cn-landline": rb"(?<![0-9])(?:\(0[1-9][0-9]{1,2}\)|0[1-9][0-9]{1,2}-)[2-9][0-9]{6,7}(?![0-9])",
    "e164": rb"(?<![0-9A-Za-z+])\+[1-9][0-9]{7,14}(?![0-9])",
    "card": rb"(?<![0-9])(?:[0-9]{13,19}|[0-9]{4}(?:[ -][0-9]{4}){2}[ -][0-9]{1,7})(?![0-9])",
    "cn-id": rb"(?<![0-9])[1-9][0-9]{16}[0-9Xx](?![0-9A-Za-z])",
    "iban": rb"(?<![A-Za-z0-9])[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![A-Za-z0-9])",
    "bitcoin": rb"(?<![A-Za-z0-9])(?:[13][1-9A-HJ-NP-Za-km-z]{25,34}|(?:bc|BC)1[02-9ac-hj-np-zAC-HJ-NP-Z]{6,87})"
               rb"(?![A-Za-z0-9])",
}
KINDS = tuple(PATTERNS)
_COMPILED = {kind: re.compile(p) for kind, p in PATTERNS.items()}
# Byte classes: printable ASCII -> "a", zero -> "z", anything else -> 0x01; GBK full-width: A3 -> "g", A1-FE -> "h".
_CLASSES = bytes(0x61 if 0x20 <= i < 0x7F else 0x7A if i == 0 else 1 for i in range(256))
_GBK_CLASSES = bytes(0x67 if i == 0xA3 else 0x68 if 0xA1 <= i <= 0xFE else 1 for i in range(256))
_FULLWIDTH_TO_ASCII = bytes(i - 0x80 if 0xA1 <= i <= 0xFE else 1 for i in range(256))
_ASCII_RUN = re.compile(rb"aaaaaa+")
_UTF16_RUN = re.compile(rb"azazazazazaz(?:az)*")
_GBK_FULLWIDTH_RUN = re.compile(rb"g[gh]g[gh]g[gh]g[gh]g[gh]g[gh](?:g[gh])*")
WHOLE_FILE = 16 << 20  # larger files are scanned in windows of this size, not copied whole
LONGEST = 2 * 2000 + 64  # the longest value (a URL) in a two-byte encoding
_TRAILING = b".,;:!?)]}'\""


def _ok_ipv4(v: str) -> bool:
    try:
        ipaddress.IPv4Address(v)
    except ValueError:
        return False
    return True


def _ok_ipv6(v: str) -> bool:
    try:
        ipaddress.IPv6Address(v)
    except ValueError:
        return False
    return v.count(":") >= 2 and any(c not in ":0" for c in v)


def _ok_card(v: str) -> bool:
    digits = v.replace(" ", "").replace("-", "")
    return checkdigits.card_number(digits) and not checkdigits.cn_resident_id(digits)


VALIDATORS: dict[str, Callable[[str], bool]] = {
    "ipv4": _ok_ipv4, "ipv6": _ok_ipv6, "card": _ok_card, "cn-id": checkdigits.cn_resident_id,
    "iban": checkdigits.iban,
    "bitcoin": lambda v: checkdigits.base58check_address(v) if v[0] in "13" else checkdigits.bech32_address(v),
}


def normalise(kind: str, value: str) -> str:
    if kind in ("card", "iban"):
        return value.replace(" ", "").replace("-", "").upper()
    if kind in ("email", "domain"):
        return value.lower()
    return value


Hit = tuple[int, int, str, str]  # start, end (byte offsets in the scanned data), kind, value


def _text_hits(text: bytes, kinds: tuple[str, ...]) -> Iterator[tuple[int, int, str, str]]:
    """Indicators in ASCII text: (start, end) character offsets, kind, normalised value."""
    for kind in kinds:
        for m in _COMPILED[kind].finditer(text):
            start, end = m.span()
            if kind == "url":
                while end > start and text[end - 1] in _TRAILING:
                    end -= 1
            value = text[start:end].decode("ascii")
            check = VALIDATORS.get(kind)
            if check is None or check(value):
                yield start, end, kind, normalise(kind, value)


def scan(data: Buffer | bytes, kinds: tuple[str, ...] = KINDS) -> Iterator[tuple[int, int, str, str, str]]:
    """Every indicator in ``data``: (start, end) byte offsets, kind, value, encoding.

    Runs of text are found first on a translated copy of the data (``bytes.translate`` and literal searches
    run at memory speed, where regular expressions over binary data crawl); the patterns then run once
    over the runs joined by newlines, which no indicator contains.
    """
    classes = bytes(data).translate(_CLASSES) if not isinstance(data, bytes) else data.translate(_CLASSES)
    ascii_runs = [m.span() for m in _ASCII_RUN.finditer(classes)]
    for start, end, kind, value in _joined_hits([data[s:e] for s, e in ascii_runs], ascii_runs, 1, kinds):
        yield start, end, kind, value, _surrounding(data, start, end)
    utf16_runs = [m.span() for m in _UTF16_RUN.finditer(classes)]
    texts = [data[s:e][0::2] for s, e in utf16_runs]
    for start, end, kind, value in _joined_hits(texts, utf16_runs, 2, kinds):
        yield start, end, kind, value, "utf-16le"
    fullwidth = bytes(data).translate(_GBK_CLASSES) if not isinstance(data, bytes) else data.translate(_GBK_CLASSES)
    gbk_runs = [m.span() for m in _GBK_FULLWIDTH_RUN.finditer(fullwidth)]
    texts = [bytes(data[s:e][1::2]).translate(_FULLWIDTH_TO_ASCII) for s, e in gbk_runs]
    for start, end, kind, value in _joined_hits(texts, gbk_runs, 2, kinds):
        yield start, end, kind, value, "gbk"


def _joined_hits(texts: list[bytes], spans: list[tuple[int, int]], width: int,
                 kinds: tuple[str, ...]) -> Iterator[tuple[int, int, str, str]]:
    """Hits in text runs, each run at ``spans[i]`` in the data with ``width`` bytes per character."""
    if not texts:
        return
    joined = b"\n".join(texts)
    starts, at = [], 0
    for text in texts:
        starts.append(at)
        at += len(text) + 1
    for start, end, kind, value in _text_hits(joined, kinds):
        i = bisect.bisect_right(starts, start) - 1
        base = spans[i][0] + width * (start - starts[i])
        yield base, base + width * (end - start), kind, value


def _file_hits(data: Buffer, kinds: tuple[str, ...]) -> Iterator[tuple[int, int, str, str, str]]:
    """Every indicator of a file; a large one (a read-only map) is scanned in overlapping windows."""
    if len(data) <= WHOLE_FILE:
        yield from scan(data, kinds)
        return
    for window in windows_over(data, WHOLE_FILE, LONGEST):
        for start, end, kind, value, encoding in scan(window.data, kinds):
            if window.owns(window.start + start, window.start + end):
                yield window.start + start, window.start + end, kind, value, encoding


def _surrounding(data: Buffer | bytes, start: int, end: int, width: int = 24) -> str:
    """Which text encoding the bytes around an ASCII value belong to: ascii, utf-8 or gbk."""
    before, after = bytes(data[max(0, start - width):start]), bytes(data[end:end + width])
    if before.isascii() and after.isascii():
        return "ascii"
    for encoding in ("utf-8", "gbk"):
        if _decodes(before, after, encoding):
            return encoding
    return "ascii"


def _decodes(before: bytes, after: bytes, encoding: str) -> bool:
    """Whether the bytes next to the value are text in ``encoding`` (cut characters at the far ends allowed)."""
    left = any(_clean(before[i:], encoding) for i in range(min(4, len(before) + 1)))
    right = any(_clean(after[: len(after) - i], encoding) for i in range(min(4, len(after) + 1)))
    return left and right


def _clean(part: bytes, encoding: str) -> bool:
    try:
        text = part.decode(encoding)
    except UnicodeDecodeError:
        return False
    return all(ch.isprintable() or ch in "\r\n\t" for ch in text)


def _kinds(opts: dict[str, Any]) -> tuple[str, ...]:
    return tuple(opts.get("indicators_kinds") or KINDS)


def _kinds_option(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, ...]:
    kinds = tuple(k.strip() for k in value.split(",") if k.strip())
    unknown = [k for k in kinds if k not in PATTERNS]
    if unknown:
        raise click.BadParameter(f"unknown kind {unknown[0]!r}; known: {', '.join(KINDS)}")
    return kinds


class IndicatorsPlugin(Plugin):
    """Find e-mail, URL, IP, phone, card, ID, IBAN and Bitcoin indicators (checked) in files and raw media."""

    name: ClassVar[str] = "indicators"
    discipline: ClassVar[str] = "digital"
    version: ClassVar[str] = "1.0.0"
    options: ClassVar[tuple[click.Option, ...]] = (
        click.Option(["--indicators-kinds"], default=",".join(KINDS), show_default=True, callback=_kinds_option,
                     help="Comma-separated kinds of indicator to look for."),
    )

    def analyze(self, file: EvidenceFile, data: Buffer, **opts: Any) -> Iterator[Record]:
        place = {"inode": file.inode, "deleted": file.deleted}
        for start, end, kind, value, encoding in sorted(_file_hits(data, _kinds(opts))):
            yield Finding(f"indicator/{kind}", file.path, {
                "kind": kind, "value": value, "encoding": encoding, "offset": start, "length": end - start,
                "context": context(data, start, end),
                "scope": "file", **place})

    def media(self, evidence: Evidence, **opts: Any) -> RawIndicators:
        unallocated, problems = unallocated_map(evidence)
        return RawIndicators(_kinds(opts), unallocated, problems)


class RawIndicators:
    """Indicators in the raw media, fed by the shared media pass; a histogram per kind at the end."""

    def __init__(self, kinds: tuple[str, ...], unallocated: UnallocatedMap, problems: list[Problem]) -> None:
        self.kinds = kinds
        self.unallocated = unallocated
        self.pending: list[Record] = list(problems)
        self.windows = Windows(LONGEST)
        self.counts: dict[str, Counter[str]] = {k: Counter() for k in kinds}

    def feed(self, offset: int, data: bytes) -> list[Record]:
        records, self.pending = self.pending, []
        return records + self._scan(self.windows.push(offset, data))

    def close(self) -> list[Record]:
        records = self.pending + self._scan(self.windows.final())
        for kind, counts in self.counts.items():
            if counts:
                values = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
                records.append(Finding("indicator/histogram", "evidence",
                                       {"kind": kind, "values": [[v, n] for v, n in values]}))
        return records

    def _scan(self, window: Window) -> list[Record]:
        records: list[Record] = []
        for start, end, kind, value, encoding in sorted(scan(window.data, self.kinds)):
            where = window.start + start
            if not window.owns(where, window.start + end):
                continue
            self.counts[kind][value] += 1
            records.append(Finding(f"indicator/{kind}", f"offset:0x{where:x}", {
                "kind": kind, "value": value, "encoding": encoding, "offset": where, "length": end - start,
                "context": context(window.data, start, end), "scope": "raw", "unallocated": where in self.unallocated}))
        return records
