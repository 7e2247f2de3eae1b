"""Check digits and checksums that tell a real identifier from a look-alike string of characters."""

from __future__ import annotations

import hashlib
from datetime import date

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32_CONST, _BECH32M_CONST = 1, 0x2BC830A3
# IBAN length per country (ISO 13616 registry), for the countries an examiner meets most.
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AT": 20, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29, "CH": 21, "CY": 28,
    "CZ": 24, "DE": 22, "DK": 18, "EE": 20, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GI": 23,
    "GL": 18, "GR": 27, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30,
    "KZ": 20, "LB": 28, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
    "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24,
    "RS": 22, "SA": 24, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "TN": 24, "TR": 26, "UA": 29, "VG": 24,
}


def luhn(digits: str) -> bool:
    """The Luhn (mod 10) check of a bank card number."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def card_number(digits: str) -> bool:
    """A plausible payment card number: 13 to 19 digits, a known issuer prefix and a valid Luhn digit."""
    if not 13 <= len(digits) <= 19 or len(set(digits)) == 1:
        return False
    known = digits[0] == "4" or digits[:2] in {"34", "37", "35", "36", "38", "30", "62", "65", "81"} \
        or 51 <= int(digits[:2]) <= 55 or 2221 <= int(digits[:4]) <= 2720 or digits[:4] == "6011"
    return known and luhn(digits)


def cn_resident_id(value: str) -> bool:
    """A Chinese resident identity number (GB 11643-1999): 18 characters, a real birth date, the check digit."""
    if len(value) != 18 or not value[:17].isdigit() or value[0] == "0":
        return False
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    if born.year < 1900 or born > date.today():  # noqa: DTZ011 - a birth date is a calendar date, not a moment
        return False
    check = _ID_CHECK[sum(int(d) * w for d, w in zip(value[:17], _ID_WEIGHTS, strict=True)) % 11]
    return value[17].upper() == check


def iban(value: str) -> bool:
    """An IBAN: the registered length of its country and the ISO 7064 mod-97 checksum."""
    value = value.replace(" ", "").upper()
    if IBAN_LENGTHS.get(value[:2]) != len(value) or not value.isalnum():
        return False
    moved = value[4:] + value[:4]
    return int("".join(str(int(ch, 36)) for ch in moved)) % 97 == 1


def base58check_address(value: str) -> bool:
    """A legacy Bitcoin address (P2PKH ``1...`` or P2SH ``3...``): 25 bytes whose double-SHA-256 checks."""
    number = 0
    for ch in value:
        index = _B58.find(ch)
        if index < 0:
            return False
        number = number * 58 + index
    try:
        raw = number.to_bytes(25, "big")
    except OverflowError:
        return False
    pad = len(value) - len(value.lstrip("1"))
    if raw[:pad] != b"\0" * pad or raw[0] not in (0x00, 0x05):
        return False
    return hashlib.sha256(hashlib.sha256(raw[:21]).digest()).digest()[:4] == raw[21:]


def _polymod(values: list[int]) -> int:
    generator = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= generator[i] if (top >> i) & 1 else 0
    return chk


def _convert_bits(data: list[int]) -> list[int] | None:
    acc = bits = 0
    out = []
    for value in data:
        acc = (acc << 5) | value
        bits += 5
        while bits >= 8:
            bits -= 8
            out.append((acc >> bits) & 0xFF)
    if bits >= 5 or (acc << (8 - bits)) & 0xFF:
        return None
    return out


def bech32_address(value: str) -> bool:
    """A SegWit Bitcoin address (BIP 173 bech32 for version 0, BIP 350 bech32m for later versions)."""
    if value.lower() != value and value.upper() != value:
        return False
    value = value.lower()
    hrp, _, rest = value.rpartition("1")
    if hrp != "bc" or len(rest) < 7 or any(c not in _BECH32 for c in rest):
        return False
    data = [_BECH32.index(c) for c in rest]
    check = _polymod([ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp] + data)
    version = data[0]
    if version > 16 or check != (_BECH32_CONST if version == 0 else _BECH32M_CONST):
        return False
    program = _convert_bits(data[1:-6])
    if program is None or not 2 <= len(program) <= 40:
        return False
    return version != 0 or len(program) in (20, 32)
