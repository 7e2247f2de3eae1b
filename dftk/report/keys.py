"""Signing keys: Ed25519 and SM2 key pairs in memory, the identity a key states, and DSSE's encoding.

A :class:`PrivateKey` signs: Ed25519 (RFC 8032), or SM2 (GB/T 32918.2) with SM3 and the default user id
``1234567812345678``, its signature DER-encoded (dftk.report.sm2). A :class:`PublicKey` checks them. Its
``identity`` is set only when the key's own identity statement verified (dftk.report.keyfiles), its
``certificate`` when its file held one (checked by dftk.report.certificates).

The key id is the SHA-256 (hex) of the raw public key: Ed25519's 32 bytes (so reports signed before SM2
existed keep their key ids), SM2's uncompressed point ``04 || x || y`` (65 bytes).
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from dftk.errors import SignatureError
from dftk.report import pbes2, pem, sm2

ALGORITHMS = ("ed25519", "sm2")
PRIVATE, ENCRYPTED = "PRIVATE KEY", "ENCRYPTED PRIVATE KEY"


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSEv1 pre-authentication encoding: ``DSSEv1 SP len(type) SP type SP len(body) SP body``."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(payload), payload)


@dataclass(frozen=True)
class Identity:
    """Who a key belongs to: as the key's own statement says (a .pub file) or a certificate (its subject)."""

    name: str | None
    organisation: str | None
    key_id: str
    algorithm: str
    created: str  # ISO 8601, UTC

    def to_json(self) -> dict[str, Any]:
        """The identity as JSON values (the statement a .pub file signs)."""
        return dataclasses.asdict(self)


class PublicKey:
    """A public key: checks signatures. ``identity`` is set only when its self-signed statement verified."""

    def __init__(self, algorithm: str, raw: bytes, identity: Identity | None = None,
                 certificate: x509.Certificate | None = None, statement: bytes | None = None) -> None:
        """A checked raw key (Ed25519's 32 bytes, SM2's 65-byte point) and what its file held besides.

        Args:
            algorithm: one of ALGORITHMS.
            raw: the raw public key, already checked to be one.
            identity: the identity its statement gives, after that statement verified.
            certificate: the certificate the file held for this key.
            statement: the ``DFTK IDENTITY`` block's content, so the file can be written again.
        """
        self.algorithm, self.raw = algorithm, raw
        self.key_id = hashlib.sha256(raw).hexdigest()
        self.identity, self.certificate, self.statement = identity, certificate, statement

    def verify(self, signature: bytes, data: bytes) -> None:
        """Checks ``signature`` over ``data``.

        Raises:
            SignatureError: the signature is not this key's over these bytes.
        """
        if not verifies(self.algorithm, self.raw, signature, data):
            raise SignatureError(f"the signature by key {self.key_id[:16]}... does not verify: the data or the "
                                 "signature was altered")

    def info(self) -> bytes:
        """SubjectPublicKeyInfo (DER)."""
        if self.algorithm == "sm2":
            return sm2.public_key_info(self.raw)
        return Ed25519PublicKey.from_public_bytes(self.raw).public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


class PrivateKey:
    """A private key: signs. ``identity`` is the one its published .pub states, if any."""

    def __init__(self, algorithm: str, secret: bytes, published: PublicKey | None = None) -> None:
        """A key from its secret (Ed25519's 32-byte seed, SM2's 32-byte d).

        Args:
            algorithm: one of ALGORITHMS.
            secret: the raw private key.
            published: its public key as its .pub file gives it (identity, certificate).
        """
        self.algorithm, self._secret = algorithm, secret
        raw = (sm2.public_point(secret) if algorithm == "sm2"
               else Ed25519PrivateKey.from_private_bytes(secret).public_key().public_bytes_raw())
        if published is not None and (published.algorithm, published.raw) != (algorithm, raw):
            raise ValueError("the published public key is not this private key's")
        self._public = published or PublicKey(algorithm, raw)
        self.key_id = self._public.key_id
        self.identity = self._public.identity

    def sign(self, data: bytes) -> bytes:
        """The signature of ``data``: Ed25519's 64 bytes, or SM2's DER (SM3, user id 1234567812345678)."""
        if self.algorithm == "sm2":
            return sm2.sign(self._secret, self._public.raw, data)
        return Ed25519PrivateKey.from_private_bytes(self._secret).sign(data)

    def public(self) -> PublicKey:
        """Its public key, with the identity and certificate its .pub file gives."""
        return self._public

    def pem(self, passphrase: bytes | None) -> bytes:
        """The private key file's content (PKCS#8), encrypted when a passphrase is given."""
        if self.algorithm == "ed25519":
            encryption = (serialization.BestAvailableEncryption(passphrase) if passphrase
                          else serialization.NoEncryption())
            return Ed25519PrivateKey.from_private_bytes(self._secret).private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
        info = sm2.private_key_info(self._secret, self._public.raw)
        return pem.encode(ENCRYPTED, pbes2.encrypt(info, passphrase)) if passphrase else pem.encode(PRIVATE, info)


def verifies(algorithm: str, raw: bytes, signature: bytes, data: bytes) -> bool:
    """Whether ``signature`` is the raw public key's over ``data`` (never raises for a bad signature)."""
    if algorithm == "sm2":
        return sm2.verify(raw, signature, data)
    try:
        Ed25519PublicKey.from_public_bytes(raw).verify(signature, data)
    except InvalidSignature:
        return False
    return True
