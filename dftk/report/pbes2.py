"""Passphrase-encrypted PKCS#8 (RFC 5958 EncryptedPrivateKeyInfo, PBES2 of RFC 8018), for keys the
``cryptography`` package cannot serialise itself (SM2).

dftk writes PBKDF2-HMAC-SHA256 (16-byte salt, ``ITERATIONS`` rounds) with AES-256-CBC, the scheme
``openssl pkey -aes-256-cbc`` writes, so ``openssl pkey -in KEY -passin pass:...`` reads dftk's keys. It
reads PBKDF2 with HMAC-SHA1/224/256/384/512 and AES-128/192/256-CBC, which covers what OpenSSL 1.1 and 3
write by default.
"""

from __future__ import annotations

import os

from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from dftk.report import der

ITERATIONS = 600_000  # OWASP's 2023 figure for PBKDF2-HMAC-SHA256; a key is decrypted once per command
MAX_ITERATIONS = 10_000_000  # a file asking for more would hang the command: refused
PBES2 = "1.2.840.113549.1.5.13"
PBKDF2 = "1.2.840.113549.1.5.12"
PRFS: dict[str, type[hashes.HashAlgorithm]] = {
    "1.2.840.113549.2.7": hashes.SHA1, "1.2.840.113549.2.8": hashes.SHA224, "1.2.840.113549.2.9": hashes.SHA256,
    "1.2.840.113549.2.10": hashes.SHA384, "1.2.840.113549.2.11": hashes.SHA512}
HMAC_SHA1, HMAC_SHA256 = "1.2.840.113549.2.7", "1.2.840.113549.2.9"
AES_CBC = {"2.16.840.1.101.3.4.1.2": 16, "2.16.840.1.101.3.4.1.22": 24, "2.16.840.1.101.3.4.1.42": 32}
AES256_CBC = "2.16.840.1.101.3.4.1.42"


class UnsupportedEncryption(ValueError):
    """An encryption scheme this module does not read."""


class WrongPassphrase(ValueError):
    """The passphrase does not decrypt the key."""


def encrypt(info: bytes, passphrase: bytes) -> bytes:
    """An EncryptedPrivateKeyInfo (DER) holding the PrivateKeyInfo ``info`` (DER)."""
    salt, iv = os.urandom(16), os.urandom(16)
    key = _kdf(passphrase, salt, ITERATIONS, 32, hashes.SHA256)
    padder = padding.PKCS7(128).padder()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    sealed = encryptor.update(padder.update(info) + padder.finalize()) + encryptor.finalize()
    kdf = der.sequence(der.oid(PBKDF2), der.sequence(der.octet_string(salt), der.integer(ITERATIONS),
                                                     der.sequence(der.oid(HMAC_SHA256), der.null())))
    scheme = der.sequence(der.oid(AES256_CBC), der.octet_string(iv))
    return der.sequence(der.sequence(der.oid(PBES2), der.sequence(kdf, scheme)), der.octet_string(sealed))


def decrypt(encrypted: bytes, passphrase: bytes) -> bytes:
    """The PrivateKeyInfo (DER) inside an EncryptedPrivateKeyInfo (DER).

    Raises:
        UnsupportedEncryption: a scheme other than PBES2 with PBKDF2 and AES-CBC.
        WrongPassphrase: the passphrase does not decrypt it.
        der.DerError: the structure is malformed.
    """
    algorithm, sealed = der.items(der.read_only(encrypted, der.SEQUENCE))
    scheme, params = der.items(der.expect(algorithm, der.SEQUENCE))
    if der.to_oid(der.expect(scheme, der.OID)) != PBES2:
        raise UnsupportedEncryption("only PBES2 encryption is supported")
    kdf, cipher = der.items(der.expect(params, der.SEQUENCE))
    salt, rounds, prf = _pbkdf2(der.expect(kdf, der.SEQUENCE))
    cipher_oid, iv = der.items(der.expect(cipher, der.SEQUENCE))
    size = AES_CBC.get(der.to_oid(der.expect(cipher_oid, der.OID)))
    if size is None:
        raise UnsupportedEncryption("only AES-CBC encryption is supported")
    key = _kdf(passphrase, salt, rounds, size, prf)
    return _open(key, der.expect(iv, der.OCTET_STRING), der.expect(sealed, der.OCTET_STRING))


def _pbkdf2(kdf: bytes) -> tuple[bytes, int, type[hashes.HashAlgorithm]]:
    """Salt, rounds and PRF of a PBKDF2 AlgorithmIdentifier's content."""
    oid, params = der.items(kdf)
    if der.to_oid(der.expect(oid, der.OID)) != PBKDF2:
        raise UnsupportedEncryption("only PBKDF2 key derivation is supported")
    fields = der.items(der.expect(params, der.SEQUENCE))
    if len(fields) < 2:
        raise der.DerError("PBKDF2 parameters without salt or rounds")
    salt, rounds = der.expect(fields[0], der.OCTET_STRING), der.to_int(der.expect(fields[1], der.INTEGER))
    prf_oid = HMAC_SHA1  # RFC 8018's default when the field is absent
    for tag, value in fields[2:]:
        if tag == der.SEQUENCE:
            prf_oid = der.to_oid(der.expect((der.items(value) or [(0, b"")])[0], der.OID))
    if prf_oid not in PRFS:
        raise UnsupportedEncryption(f"PBKDF2 with PRF {prf_oid} is not supported")
    if not 0 < rounds <= MAX_ITERATIONS:
        raise UnsupportedEncryption(f"PBKDF2 with {rounds} rounds is refused")
    return salt, rounds, PRFS[prf_oid]


def _kdf(passphrase: bytes, salt: bytes, rounds: int, size: int, prf: type[hashes.HashAlgorithm]) -> bytes:
    """PBKDF2: ``size`` key bytes from the passphrase."""
    return PBKDF2HMAC(prf(), size, salt, rounds).derive(passphrase)


def _open(key: bytes, iv: bytes, sealed: bytes) -> bytes:
    """Decrypts and unpads; a wrong key shows as bad padding or as bytes that are not DER."""
    if len(iv) != 16 or not sealed or len(sealed) % 16:
        raise der.DerError("malformed AES-CBC parameters or ciphertext")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        plain = unpadder.update(decryptor.update(sealed) + decryptor.finalize()) + unpadder.finalize()
        der.read_only(plain, der.SEQUENCE)
    except ValueError as e:
        raise WrongPassphrase("wrong passphrase") from e
    return plain
