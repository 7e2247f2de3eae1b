"""The indicators plugin: planted values found at their offsets, bad check digits left out, three encodings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dftk.evidence.base import Evidence
from dftk.evidence.files import EvidenceFile
from dftk.records import Finding
from dftk_plugins.scanning import checkdigits
from dftk_plugins.scanning.indicators import IndicatorsPlugin
from helpers import dftk

VALID = {
    "email": "alice.wong@example.com", "url": "https://evil.example.org/drop?id=7", "domain": "files.gov.cn",
    "ipv4": "192.168.10.20", "ipv6": "2001:db8::8a2e:370:7334", "cn-mobile": "13812345678",
    "cn-landline": "010-62345678", "e164": "+14155552671", "card": "4111111111111111",
    "cn-id": "11010519491231002X", "iban": "GB82WEST12345698765432", "bitcoin": "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
}
INVALID = {  # one wrong check digit, Luhn digit, checksum or date each
    "card": "4111111111111112", "cn-id": "110105194912310021", "iban": "GB82WEST12345698765433",
    "bitcoin": "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb", "ipv4": "192.168.300.20",
}
ALL_KINDS = tuple(VALID)


def planted(encoding: str, values: dict[str, str]) -> tuple[bytes, dict[str, int]]:
    """A text in ``encoding`` holding each value among Chinese words; returns the bytes and each offset."""
    data, offsets = b"", {}
    for kind, value in values.items():
        data += f"记录 {kind}：".encode(encoding)
        offsets[kind] = len(data)
        data += f"{value} 。\n".encode(encoding)
    return data, offsets


def found(data: bytes) -> list[Finding]:
    records = IndicatorsPlugin().analyze(EvidenceFile("/doc.txt", len(data)), data, indicators_kinds=ALL_KINDS)
    return [r for r in records if isinstance(r, Finding)]


@pytest.mark.parametrize("encoding", ["utf-8", "gbk", "utf-16-le"])
def test_planted_values_found_at_their_offsets(encoding: str) -> None:
    data, offsets = planted(encoding, VALID)
    hits = {(f.data["kind"], f.data["value"]): f.data for f in found(data)}
    expected_encoding = {"utf-8": "utf-8", "gbk": "gbk", "utf-16-le": "utf-16le"}[encoding]
    for kind, value in VALID.items():
        hit = hits[(kind, value.lower() if kind in ("email", "domain") else value)]
        assert hit["offset"] == offsets[kind] and hit["encoding"] == expected_encoding, kind


def test_wrong_check_digits_are_not_reported() -> None:
    data, _ = planted("utf-8", INVALID)
    assert [(f.data["kind"], f.data["value"]) for f in found(data)] == []


def test_gbk_full_width_digits() -> None:
    data = "手机：１３８１２３４５６７８".encode("gbk")
    [hit] = found(data)
    assert (hit.data["kind"], hit.data["value"], hit.data["offset"], hit.data["encoding"]) == \
        ("cn-mobile", "13812345678", 6, "gbk")


def test_context_is_escaped_bytes_either_side() -> None:
    [hit] = found(b"\x00\x01card=4111111111111111\xff;")
    assert hit.data["context"] == "\\x00\\x01card=[4111111111111111]\\xff;"


def test_check_digit_functions() -> None:
    assert checkdigits.luhn("79927398713") and not checkdigits.luhn("79927398710")
    assert checkdigits.cn_resident_id("11010519491231002X") and not checkdigits.cn_resident_id("11010519491331002X")
    assert checkdigits.iban("DE89370400440532013000") and not checkdigits.iban("DE89370400440532013001")
    assert checkdigits.bech32_address("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq")
    assert not checkdigits.bech32_address("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdp")
    assert checkdigits.base58check_address("3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy")


def test_raw_media_offsets_across_chunks_and_histogram() -> None:
    data = bytearray(3 << 20)
    spots = [(1 << 20) - 5, (2 << 20) + 77, (2 << 20) + 500]  # the first straddles a chunk boundary
    for at in spots:
        data[at:at + 22] = b" bob@example.com "[:22].ljust(22)
    ev = Evidence.from_bytes(bytes(data))
    consumer = IndicatorsPlugin().media(ev, indicators_kinds=("email",))
    records = [r for offset, chunk in ev.chunks(1 << 20) for r in consumer.feed(offset, chunk)]
    records += list(consumer.close())
    emails = [r for r in records if isinstance(r, Finding) and r.kind == "indicator/email"]
    assert [r.data["offset"] for r in emails] == [at + 1 for at in spots]
    [histogram] = [r for r in records if isinstance(r, Finding) and r.kind == "indicator/histogram"]
    assert histogram.data == {"kind": "email", "values": [["bob@example.com", 3]]}


def test_scan_command_with_indicators_prints_findings_and_a_histogram(tmp_path: Path) -> None:
    (tmp_path / "ev").mkdir()
    (tmp_path / "ev" / "a.txt").write_bytes(b"mail bob@example.com or bob@example.com")
    (tmp_path / "r.yar").write_text("rule nothing { condition: false }")
    result = dftk("scan", tmp_path / "ev", "--rules", tmp_path / "r.yar", "--indicators", "--json")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["offset"] for r in rows if r["kind"] == "indicator/email"] == [5, 24]
    assert rows[-1] == {"kind": "indicator/histogram", "subject": "files", "indicator": "email",
                        "values": [["bob@example.com", 2]], "scope": "files"}
