"""The few DER (ITU-T X.690) shapes dftk's key files hold: writing them, and reading them back strictly.

Only definite lengths in their shortest form and low tag numbers are accepted, so one value has exactly
one encoding: a key file that decodes also re-encodes to the same bytes.
"""

from __future__ import annotations

INTEGER = 0x02
BIT_STRING = 0x03
OCTET_STRING = 0x04
NULL = 0x05
OID = 0x06
SEQUENCE = 0x30


class DerError(ValueError):
    """Bytes that are not the DER structure expected."""


def tlv(tag: int, value: bytes) -> bytes:
    """One element: tag, length, value."""
    size = len(value)
    if size < 0x80:
        return bytes([tag, size]) + value
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + value


def sequence(*items: bytes) -> bytes:
    """A SEQUENCE of already encoded elements."""
    return tlv(SEQUENCE, b"".join(items))


def integer(value: int) -> bytes:
    """A non-negative INTEGER (a leading zero byte keeps the top bit from reading as a sign)."""
    return tlv(INTEGER, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def octet_string(value: bytes) -> bytes:
    """An OCTET STRING."""
    return tlv(OCTET_STRING, value)


def bit_string(value: bytes) -> bytes:
    """A BIT STRING of whole bytes (no unused bits)."""
    return tlv(BIT_STRING, b"\x00" + value)


def null() -> bytes:
    """NULL."""
    return tlv(NULL, b"")


def oid(dotted: str) -> bytes:
    """An OBJECT IDENTIFIER from its dotted form."""
    arcs = [int(a) for a in dotted.split(".")]
    body = bytearray()
    for arc in [arcs[0] * 40 + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body.extend(reversed(chunk))
    return tlv(OID, bytes(body))


def explicit(number: int, inner: bytes) -> bytes:
    """A context-specific constructed tag ``[number]`` around one element."""
    return tlv(0xA0 | number, inner)


def read(data: bytes) -> tuple[int, bytes, bytes]:
    """The first element of ``data``: its tag, its value and the bytes after it.

    Raises:
        DerError: truncated, a long tag, an indefinite or non-minimal length.
    """
    if len(data) < 2 or data[0] & 0x1F == 0x1F:
        raise DerError("truncated element or unsupported tag")
    tag, first = data[0], data[1]
    start, size = 2, first
    if first & 0x80:
        count = first & 0x7F
        length = data[2:2 + count]
        if count == 0 or len(length) != count or length[0] == 0:
            raise DerError("indefinite or non-minimal length")
        size, start = int.from_bytes(length, "big"), 2 + count
        if size < 0x80:
            raise DerError("non-minimal length")
    if len(data) < start + size:
        raise DerError("truncated element")
    return tag, data[start:start + size], data[start + size:]


def read_only(data: bytes, tag: int) -> bytes:
    """The value of the one element ``data`` holds, which must have ``tag`` and nothing after it.

    Raises:
        DerError: another tag, or bytes after the element.
    """
    found, value, rest = read(data)
    if found != tag or rest:
        raise DerError(f"expected one element with tag 0x{tag:02x}, found 0x{found:02x}"
                       + (" and trailing bytes" if rest else ""))
    return value


def items(value: bytes) -> list[tuple[int, bytes]]:
    """The ``(tag, value)`` of each element inside a constructed value (a SEQUENCE's content)."""
    found = []
    while value:
        tag, inner, value = read(value)
        found.append((tag, inner))
    return found


def expect(element: tuple[int, bytes], tag: int) -> bytes:
    """The value of an element from :func:`items`, which must have ``tag``.

    Raises:
        DerError: another tag.
    """
    if element[0] != tag:
        raise DerError(f"expected tag 0x{tag:02x}, found 0x{element[0]:02x}")
    return element[1]


def to_int(value: bytes) -> int:
    """A non-negative INTEGER's value.

    Raises:
        DerError: empty, negative or not in its shortest form.
    """
    if not value or value[0] & 0x80 or (len(value) > 1 and value[0] == 0 and not value[1] & 0x80):
        raise DerError("not a minimal non-negative INTEGER")
    return int.from_bytes(value, "big")


def to_oid(value: bytes) -> str:
    """An OBJECT IDENTIFIER's dotted form.

    Raises:
        DerError: empty, or an arc not in its shortest form.
    """
    if not value or value[-1] & 0x80:
        raise DerError("truncated OBJECT IDENTIFIER")
    arcs, arc, fresh = [], 0, True
    for byte in value:
        if fresh and byte == 0x80:
            raise DerError("non-minimal OBJECT IDENTIFIER arc")
        arc, fresh = (arc << 7) | (byte & 0x7F), not byte & 0x80
        if fresh:
            arcs.append(arc)
            arc = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(map(str, [first, arcs[0] - 40 * first, *arcs[1:]]))


def to_bytes(value: bytes) -> bytes:
    """A BIT STRING's bytes, which must be whole bytes.

    Raises:
        DerError: empty, or unused bits.
    """
    if not value or value[0] != 0:
        raise DerError("BIT STRING with unused bits")
    return value[1:]
