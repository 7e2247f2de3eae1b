"""Key files: writing a key pair, reading keys back (dftk's, OpenSSL's, certificates), the identity block.

Files (PEM, RFC 7468; ``openssl pkey`` reads each key as it is):

- ``KEYFILE`` (mode 0600): PKCS#8. Ed25519 as ``cryptography`` writes it; SM2 exactly as ``openssl genpkey
  -algorithm EC -pkeyopt ec_paramgen_curve:SM2`` does (dftk.report.sm2). With a passphrase, an
  ``ENCRYPTED PRIVATE KEY``: ``cryptography``'s best for Ed25519, PBES2 for SM2 (dftk.report.pbes2).
- ``KEYFILE.pub``: a ``PUBLIC KEY`` block (SubjectPublicKeyInfo: Ed25519 of RFC 8410, or SM2 as
  id-ecPublicKey with the curve 1.2.156.10197.1.301); then, when a name or an organisation was given, a
  ``DFTK IDENTITY`` block; then, when the examiner added one, a ``CERTIFICATE`` block for the same key.

The ``DFTK IDENTITY`` block holds, byte for byte::

    N (4 bytes, big-endian) || statement (N bytes) || signature (the rest)

where the statement is the canonical JSON (dftk.records.canonical_json, UTF-8) of ``{"algorithm",
"created", "key_id", "name", "organisation"}`` and the signature is the key's own over
``pae("application/vnd.dftk.identity+json", statement)``: the DSSE encoding with a type of its own, so no
report signature can pass for an identity statement or the other way round. A statement that does not
verify with the key before it, or names another key id or algorithm, is refused (SignatureError): a
forged identity is an attack, never a key without a name.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from dftk import clock
from dftk.errors import DftkError, SignatureError
from dftk.records import canonical_json
from dftk.report import der, pbes2, pem, sm2
from dftk.report.keys import ALGORITHMS, ENCRYPTED, PRIVATE, Identity, PrivateKey, PublicKey, pae, verifies

ED25519 = "1.3.101.112"
IDENTITY_TYPE = "application/vnd.dftk.identity+json"
PUBLIC, IDENTITY, CERTIFICATE = "PUBLIC KEY", "DFTK IDENTITY", "CERTIFICATE"


def public_path(keyfile: Path) -> Path:
    """Where a private key's public key is written: KEYFILE.pub."""
    return keyfile.with_name(keyfile.name + ".pub")


def generate(keyfile: Path, passphrase: bytes | None, algorithm: str = "ed25519", name: str | None = None,
             organisation: str | None = None) -> PublicKey:
    """Writes a new key pair: KEYFILE (private, mode 0600) and KEYFILE.pub, never over an existing file.

    Args:
        keyfile: where the private key goes.
        passphrase: encrypts the private key when given.
        algorithm: one of ALGORITHMS.
        name: the examiner's name the .pub states, if any.
        organisation: the examiner's organisation the .pub states, if any.

    Returns:
        The public key as KEYFILE.pub holds it.

    Raises:
        DftkError: an unknown algorithm, a key already there, or a file that cannot be written.
    """
    if algorithm not in ALGORITHMS:
        raise DftkError(f"unknown key algorithm {algorithm!r}; choose from {', '.join(ALGORITHMS)}")
    if keyfile.exists() or public_path(keyfile).exists():
        raise DftkError(f"{keyfile}: a key already exists there; refusing to overwrite it")
    secret = sm2.generate()[0] if algorithm == "sm2" else Ed25519PrivateKey.generate().private_bytes_raw()
    key = PrivateKey(algorithm, secret)
    if name or organisation:
        key = PrivateKey(algorithm, secret, _stated(key, name or None, organisation or None))
    _create(keyfile, key.pem(passphrase), 0o600)
    _create(public_path(keyfile), public_file(key.public()), 0o644)
    return key.public()


def public_file(key: PublicKey) -> bytes:
    """A .pub file's content: the public key, then its identity statement and its certificate, if any."""
    parts = [pem.encode(PUBLIC, key.info())]
    if key.statement is not None:
        parts.append(pem.encode(IDENTITY, key.statement))
    if key.certificate is not None:
        parts.append(key.certificate.public_bytes(serialization.Encoding.PEM))
    return b"".join(parts)


def load_private(keyfile: Path, passphrase: bytes | None) -> PrivateKey:
    """The private key in KEYFILE, with the identity its KEYFILE.pub states when that file is there.

    Raises:
        DftkError: a missing file, a wrong or missing passphrase, a format dftk does not read.
        SignatureError: KEYFILE.pub states an identity that does not verify.
    """
    found = _blocks(keyfile, _read(keyfile, "key file"))
    block = pem.first(found, PRIVATE) or pem.first(found, ENCRYPTED)
    if block is None:
        raise DftkError(f"{keyfile}: not a PEM private key (PKCS#8 'PRIVATE KEY' or 'ENCRYPTED PRIVATE KEY')")
    info = _decrypt(keyfile, block, passphrase)
    try:
        algorithm, secret = _private_key_info(info)
    except ValueError as e:
        raise DftkError(f"{keyfile}: not an Ed25519 or SM2 private key ({e})") from e
    key = PrivateKey(algorithm, secret)
    if not public_path(keyfile).exists():
        return key
    published = load_public(public_path(keyfile))
    if published.key_id != key.key_id:
        raise DftkError(f"{public_path(keyfile)}: holds another key than {keyfile}")
    return PrivateKey(algorithm, secret, published)


def load_public(path: Path) -> PublicKey:
    """The public key in a dftk .pub file, a PEM public key (``openssl pkey -pubout``) or a certificate.

    Raises:
        DftkError: a missing file, or no Ed25519 or SM2 public key in it.
        SignatureError: an identity statement that does not verify, or a certificate for another key.
    """
    raw = _read(path, "public key file")
    found = _blocks(path, raw)
    block, cert = pem.first(found, PUBLIC), _certificate(path, pem.first(found, CERTIFICATE))
    certified = _public_key_info(path, _certificate_key_info(path, cert)) if cert is not None else None
    key = _public_key_info(path, block.data) if block is not None else certified
    if key is None:
        raise DftkError(f"{path}: no PEM public key or certificate in it")
    if certified is not None and certified != key:
        raise SignatureError(f"{path}: the certificate is for another key than the file's public key")
    statement = pem.first(found, IDENTITY)
    if statement is None and IDENTITY.encode() in raw:
        raise SignatureError(f"{path}: the identity statement does not verify (its PEM block is broken)")
    if statement is None:
        return PublicKey(*key, certificate=cert)
    return PublicKey(*key, _verified_identity(path, PublicKey(*key), statement.data), cert, statement.data)


def _stated(key: PrivateKey, name: str | None, organisation: str | None) -> PublicKey:
    """The key's public key with a new identity statement, signed by the key."""
    identity = Identity(name, organisation, key.key_id, key.algorithm, clock.now())
    statement = canonical_json(identity.to_json()).encode("utf-8")
    block = len(statement).to_bytes(4, "big") + statement + key.sign(pae(IDENTITY_TYPE, statement))
    return PublicKey(key.algorithm, key.public().raw, identity, None, block)


def _verified_identity(path: Path, key: PublicKey, block: bytes) -> Identity:
    """The identity a ``DFTK IDENTITY`` block states, once its signature by ``key`` verified."""
    size = int.from_bytes(block[:4], "big")
    statement, signature = block[4:4 + size], block[4 + size:]
    identity = _identity(statement) if len(block) > 4 + size else None
    if identity is None:
        why = "the statement is not an identity"
    elif (identity.key_id, identity.algorithm) != (key.key_id, key.algorithm):
        why = "it names another key"
    elif not verifies(key.algorithm, key.raw, signature, pae(IDENTITY_TYPE, statement)):
        why = "its signature is not the key's"
    else:
        return identity
    raise SignatureError(f"{path}: the identity statement does not verify ({why}): it was altered or forged")


def _identity(statement: bytes) -> Identity | None:
    """The identity a statement holds, when it is exactly the canonical JSON of one."""
    try:
        fields = json.loads(statement.decode("utf-8"))
        identity = Identity(**fields)
    except (ValueError, TypeError):
        return None
    texts = (identity.key_id, identity.algorithm, identity.created)
    optional = (identity.name, identity.organisation)
    well_formed = (all(isinstance(t, str) for t in texts) and all(t is None or isinstance(t, str) for t in optional)
                   and canonical_json(identity.to_json()).encode("utf-8") == statement)
    return identity if well_formed else None


def _decrypt(keyfile: Path, block: pem.Block, passphrase: bytes | None) -> bytes:
    """The PrivateKeyInfo a private key block holds, decrypted when it is encrypted."""
    if block.label == PRIVATE:
        if passphrase:
            raise DftkError(f"{keyfile}: the key is not encrypted, but a passphrase was given")
        return block.data
    if not passphrase:
        raise DftkError(f"{keyfile}: the key is encrypted; give its passphrase ($DFTK_KEY_PASSPHRASE or the prompt)")
    try:
        return pbes2.decrypt(block.data, passphrase)
    except pbes2.WrongPassphrase as e:
        raise DftkError(f"{keyfile}: cannot decrypt the private key: wrong passphrase") from e
    except ValueError as e:
        raise DftkError(f"{keyfile}: cannot decrypt the private key ({e})") from e


def _private_key_info(info: bytes) -> tuple[str, bytes]:
    """``(algorithm, secret)`` of a PKCS#8 PrivateKeyInfo (DER); ValueError when it is neither key."""
    fields = der.items(der.read_only(info, der.SEQUENCE))
    if len(fields) < 3 or der.to_int(der.expect(fields[0], der.INTEGER)) not in (0, 1):
        raise der.DerError("not a PKCS#8 PrivateKeyInfo")
    algorithm = _algorithm(der.expect(fields[1], der.SEQUENCE))
    inner = der.expect(fields[2], der.OCTET_STRING)
    if algorithm == "sm2":
        return algorithm, sm2.read_private(inner)[0]
    seed = der.read_only(inner, der.OCTET_STRING)
    if len(seed) != 32:
        raise der.DerError("an Ed25519 private key is 32 bytes")
    return algorithm, seed


def _public_key_info(path: Path, info: bytes) -> tuple[str, bytes]:
    """``(algorithm, raw key)`` of a SubjectPublicKeyInfo (DER), the key checked to be one."""
    try:
        fields = der.items(der.read_only(info, der.SEQUENCE))
        if len(fields) != 2:
            raise der.DerError("not a SubjectPublicKeyInfo")
        algorithm = _algorithm(der.expect(fields[0], der.SEQUENCE))
        raw = der.to_bytes(der.expect(fields[1], der.BIT_STRING))
        if algorithm == "sm2":
            sm2.check_point(raw)
        else:
            Ed25519PublicKey.from_public_bytes(raw)
    except ValueError as e:
        raise DftkError(f"{path}: not an Ed25519 or SM2 public key ({e})") from e
    return algorithm, raw


def _algorithm(identifier: bytes) -> str:
    """``ed25519`` or ``sm2`` from an AlgorithmIdentifier's content; ValueError for any other."""
    oids = [der.to_oid(der.expect(f, der.OID)) if f[0] == der.OID else "" for f in der.items(identifier)]
    if oids == [ED25519]:
        return "ed25519"
    if oids == [sm2.EC_PUBLIC_KEY, sm2.CURVE]:
        return "sm2"
    raise ValueError(f"algorithm {' '.join(oids)} is neither Ed25519 nor SM2")


def _certificate(path: Path, block: pem.Block | None) -> x509.Certificate | None:
    """The certificate a ``CERTIFICATE`` block holds, if there is one."""
    if block is None:
        return None
    try:
        return x509.load_der_x509_certificate(block.data)
    except ValueError as e:
        raise DftkError(f"{path}: the certificate cannot be read ({e})") from e


def _certificate_key_info(path: Path, cert: x509.Certificate) -> bytes:
    """The certificate's SubjectPublicKeyInfo (DER), read from its to-be-signed part so that keys
    ``cryptography`` does not know (SM2) are found too."""
    try:
        fields = der.items(der.read_only(cert.tbs_certificate_bytes, der.SEQUENCE))
        first = 1 if fields[0][0] == 0xA0 else 0  # [0] version, absent from version 1 certificates
        return der.tlv(der.SEQUENCE, der.expect(fields[first + 5], der.SEQUENCE))
    except (ValueError, IndexError) as e:
        raise DftkError(f"{path}: the certificate's public key cannot be read ({e})") from e


def _read(path: Path, what: str) -> bytes:
    """A key file's bytes; DftkError naming the file when it cannot be read."""
    try:
        return path.read_bytes()
    except FileNotFoundError as e:
        raise DftkError(f"{path}: no such {what}") from e
    except OSError as e:
        raise DftkError(f"{path}: cannot read the {what}: {e.strerror or e}") from e


def _blocks(path: Path, raw: bytes) -> list[pem.Block]:
    """The PEM blocks of a key file; a damaged identity block is a SignatureError, anything else a DftkError."""
    try:
        return pem.blocks(raw)
    except pem.PemError as e:
        if e.label == IDENTITY:
            raise SignatureError(f"{path}: the identity statement does not verify ({e})") from e
        if IDENTITY.encode() in raw:  # a file that states an identity and is damaged: treated as forged
            raise SignatureError(f"{path}: {e}") from e
        raise DftkError(f"{path}: {e}") from e


def _create(path: Path, content: bytes, mode: int) -> None:
    """Writes a new file (never over one) with ``mode`` from the start, so no other user reads a secret."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError as e:
        raise DftkError(f"{path}: a file already exists there; refusing to overwrite it") from e
    except OSError as e:
        raise DftkError(f"{path}: cannot write the key: {e.strerror or e}") from e
    with os.fdopen(fd, "wb") as out:
        out.write(content)
