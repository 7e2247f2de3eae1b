"""SM2 keys as OpenSSL writes them, and SM2 signatures (GB/T 32918.2) with SM3 and the default user id.

Encodings (the ones ``openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:SM2`` writes and reads):

- public key: SubjectPublicKeyInfo ``SEQUENCE { SEQUENCE { id-ecPublicKey, sm2 (1.2.156.10197.1.301) },
  BIT STRING 04||x||y }``; the point (65 bytes, uncompressed) is the key's raw form;
- private key: PKCS#8 PrivateKeyInfo ``SEQUENCE { INTEGER 0, <the same AlgorithmIdentifier>, OCTET STRING
  ECPrivateKey }`` where ECPrivateKey (RFC 5915) is ``SEQUENCE { INTEGER 1, OCTET STRING d (32 bytes),
  [1] BIT STRING 04||x||y }``;
- signature: DER ECDSA-Sig-Value ``SEQUENCE { INTEGER r, INTEGER s }`` over
  ``e = SM3(Z || message)``, ``Z = SM3(ENTL || "1234567812345678" || a || b || xG || yG || xA || yA)``.
  OpenSSL 3's command line signs with an empty id unless given ``-pkeyopt distid:1234567812345678``.

The curve arithmetic is gmalg's (pure Python). Its own SM2 class hashes with its pure-Python SM3, about
half a megabyte a second, so a report of some megabytes would take seconds to sign and to verify: its
SM2 core is given hashlib's SM3 (OpenSSL) instead, which is what that core's hash parameter is for.
"""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from gmalg.ellipticcurve import ECDLP
from gmalg.sm2 import SM2Core

from dftk.report import der

EC_PUBLIC_KEY = "1.2.840.10045.2.1"
CURVE = "1.2.156.10197.1.301"
DEFAULT_ID = b"1234567812345678"  # GB/T 32918.2's default user id, what GM/T 0009 says to use absent another

# The recommended curve of GB/T 32918.5-2017.
P = 0xFFFFFFFE_FFFFFFFF_FFFFFFFF_FFFFFFFF_FFFFFFFF_00000000_FFFFFFFF_FFFFFFFF
A = 0xFFFFFFFE_FFFFFFFF_FFFFFFFF_FFFFFFFF_FFFFFFFF_00000000_FFFFFFFF_FFFFFFFC
B = 0x28E9FA9E_9D9F5E34_4D5A9E4B_CF6509A7_F39789F5_15AB8F92_DDBCBD41_4D940E93
G = (0x32C4AE2C_1F198119_5F990446_6A39C994_8FE30BBF_F2660BE1_715A4589_334C74C7,
     0xBC3736A2_F4F6779C_59BDCEE3_6B692153_D0A9877C_C62A4740_02DF32E5_2139F0A0)
N = 0xFFFFFFFE_FFFFFFFF_FFFFFFFF_FFFFFFFF_7203DF6B_21C6052B_53BBF409_39D54123


class _SM3:
    """hashlib's SM3 behind the interface gmalg's cores call (reset, update, value, hash_length)."""

    def __init__(self) -> None:
        """A fresh SM3."""
        self._hash = hashlib.new("sm3")

    @classmethod
    def hash_length(cls) -> int:
        """SM3's digest size in bytes."""
        return 32

    def reset(self) -> None:
        """Starts a new digest."""
        self._hash = hashlib.new("sm3")

    def update(self, data: bytes) -> None:
        """Adds bytes to the digest."""
        self._hash.update(data)

    def value(self) -> bytes:
        """The digest of the bytes added since the last reset."""
        return self._hash.digest()


_CORE = SM2Core(ECDLP(P, A, B, G, N), _SM3())


def generate() -> tuple[bytes, bytes]:
    """A new key pair: the secret d (32 bytes, big-endian) and the public point (65 bytes)."""
    secret, point = _CORE.generate_keypair()
    return int(secret).to_bytes(32, "big"), _encode(point)


def public_point(secret: bytes) -> bytes:
    """The public point of the secret d."""
    return _encode(_CORE.generate_pk(int.from_bytes(secret, "big")))


def check_point(point: bytes) -> None:
    """Raises ValueError unless ``point`` is an uncompressed point of the curve's prime-order group."""
    if len(point) != 65 or point[0] != 4 or max(_decode(point)) >= P or not _CORE.verify_pk(_decode(point)):
        raise ValueError("not an uncompressed SM2 public key point on the curve")


def sign(secret: bytes, point: bytes, data: bytes) -> bytes:
    """The DER signature of ``data`` by the key (d, point), with the default user id."""
    r, s = _CORE.sign(data, int.from_bytes(secret, "big"), DEFAULT_ID, _decode(point))
    return encode_dss_signature(int(r), int(s))


def verify(point: bytes, signature: bytes, data: bytes) -> bool:
    """Whether ``signature`` (strict DER: ``cryptography`` refuses any other encoding) signs ``data`` with
    the default user id."""
    try:
        r, s = decode_dss_signature(signature)
    except ValueError:
        return False
    return bool(_CORE.verify(data, r, s, DEFAULT_ID, _decode(point)))


def algorithm_identifier() -> bytes:
    """The AlgorithmIdentifier of an SM2 key: id-ecPublicKey with the sm2 curve as its parameter."""
    return der.sequence(der.oid(EC_PUBLIC_KEY), der.oid(CURVE))


def public_key_info(point: bytes) -> bytes:
    """SubjectPublicKeyInfo (DER) of the point."""
    return der.sequence(algorithm_identifier(), der.bit_string(point))


def private_key_info(secret: bytes, point: bytes) -> bytes:
    """PKCS#8 PrivateKeyInfo (DER), byte for byte as ``openssl genpkey`` writes an SM2 key."""
    inner = der.sequence(der.integer(1), der.octet_string(secret), der.explicit(1, der.bit_string(point)))
    return der.sequence(der.integer(0), algorithm_identifier(), der.octet_string(inner))


def read_private(inner: bytes) -> tuple[bytes, bytes]:
    """The secret and the point of an ECPrivateKey (the OCTET STRING's content inside PrivateKeyInfo).

    Raises:
        ValueError: malformed, a secret out of range, or a stored point that is not the secret's.
    """
    fields = der.items(der.read_only(inner, der.SEQUENCE))
    if len(fields) < 2 or der.to_int(der.expect(fields[0], der.INTEGER)) != 1:
        raise ValueError("not an ECPrivateKey (version 1)")
    secret = der.expect(fields[1], der.OCTET_STRING).rjust(32, b"\x00")
    if len(secret) != 32 or not 1 <= int.from_bytes(secret, "big") <= N - 2:
        raise ValueError("the SM2 secret is out of range")
    point = public_point(secret)
    for tag, value in fields[2:]:
        if tag == 0xA1 and der.to_bytes(der.read_only(value, der.BIT_STRING)) != point:
            raise ValueError("the stored public key is not the private key's")
        if tag == 0xA0 and der.to_oid(der.read_only(value, der.OID)) != CURVE:
            raise ValueError("an EC key on another curve than SM2")
    return secret, point


def _encode(point: tuple[int, int]) -> bytes:
    """A point as 65 bytes: ``04 || x || y``."""
    x, y = point
    return b"\x04" + int(x).to_bytes(32, "big") + int(y).to_bytes(32, "big")


def _decode(point: bytes) -> tuple[int, int]:
    """``(x, y)`` of a 65-byte uncompressed point."""
    return int.from_bytes(point[1:33], "big"), int.from_bytes(point[33:65], "big")
