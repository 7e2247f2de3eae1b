"""Who signed, by X.509: a signing key's certificate checked against a lab's CA bundle, offline.

The chain is built from the leaf up through the certificates of the bundle (intermediates may be there
too) to a self-signed certificate of the bundle. Every link's signature is checked with its issuer's public
key (Ed25519, ECDSA, RSA: ``cryptography``'s ``verify_directly_issued_by``), every certificate must be
valid at the time asked about, and every issuer must be a CA (basic constraints, and key usage
keyCertSign when the certificate restricts its usage), so an examiner's own certificate in the bundle
cannot vouch for another key. SM2 certificates (signature SM2-with-SM3) are not supported.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.x509.oid import NameOID

from dftk.errors import DftkError, SignatureError
from dftk.report.keys import Identity, PublicKey

MAX_DEPTH = 8  # links from the leaf to the root; a bundle that loops never gets further
SM2_WITH_SM3 = "1.2.156.10197.1.501"


def verify_certificate(key: PublicKey, ca_file: Path, at: datetime) -> Identity:
    """The identity the key's certificate gives, once it chains to ``ca_file`` and is valid at ``at``.

    Args:
        key: a public key loaded with its certificate (dftk.report.keyfiles.load_public).
        ca_file: a PEM bundle: the trusted root(s) and any intermediate certificates.
        at: when the certificate must have been valid (the signing time); naive means UTC.

    Returns:
        The identity of the leaf's subject: CN as the name, O as the organisation.

    Raises:
        SignatureError: no certificate, an SM2 certificate, a certificate for another key, a chain that
            does not reach a root of the bundle, a signature that fails, a certificate not valid at ``at``.
        DftkError: the bundle cannot be read.
    """
    leaf = key.certificate
    if leaf is None:
        raise SignatureError(f"key {key.key_id[:16]}... comes with no certificate to verify")
    if key.algorithm == "sm2" or leaf.signature_algorithm_oid.dotted_string == SM2_WITH_SM3:
        raise SignatureError("SM2 certificates are not supported: only the key's own identity statement is")
    _check_key(leaf, key)
    when = at if at.tzinfo else at.replace(tzinfo=UTC)
    _check_chain(leaf, _bundle(ca_file), when, ca_file)
    return Identity(_attribute(leaf, NameOID.COMMON_NAME), _attribute(leaf, NameOID.ORGANIZATION_NAME),
                    key.key_id, key.algorithm, leaf.not_valid_before_utc.isoformat())


def _check_key(leaf: x509.Certificate, key: PublicKey) -> None:
    """The certificate must be for the signing key itself."""
    try:
        certified = leaf.public_key()
    except (UnsupportedAlgorithm, ValueError) as e:
        raise SignatureError(f"{_subject(leaf)} holds a key dftk cannot read") from e
    if not isinstance(certified, Ed25519PublicKey) or certified.public_bytes_raw() != key.raw:
        raise SignatureError(f"{_subject(leaf)} is for another key than {key.key_id[:16]}...")


def _check_chain(leaf: x509.Certificate, bundle: list[x509.Certificate], at: datetime, ca_file: Path) -> None:
    """Walks from the leaf to a self-signed CA of the bundle, checking each link."""
    current = leaf
    _check_time(current, at)
    for _ in range(MAX_DEPTH):
        issuer = _issuer(current, bundle, ca_file)
        _check_time(issuer, at)
        _check_ca(issuer)
        if issuer.subject == issuer.issuer and _signed_by(issuer, issuer):
            return
        current = issuer
    raise SignatureError(f"the chain of {_subject(leaf)} is longer than {MAX_DEPTH} certificates")


def _issuer(cert: x509.Certificate, bundle: list[x509.Certificate], ca_file: Path) -> x509.Certificate:
    """The certificate of the bundle whose key signed ``cert``."""
    named = [c for c in bundle if c.subject == cert.issuer]
    for candidate in named:
        if _signed_by(cert, candidate):
            return candidate
    if named:
        raise SignatureError(f"the signature on {_subject(cert)} does not verify with its issuer's key in {ca_file}")
    raise SignatureError(f"{_subject(cert)} is not issued by a certificate in {ca_file} (its issuer: "
                         f"{cert.issuer.rfc4514_string()})")


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether ``issuer`` names and signed ``cert``."""
    try:
        cert.verify_directly_issued_by(issuer)
    except (InvalidSignature, UnsupportedAlgorithm, ValueError, TypeError):
        return False
    return True


def _check_time(cert: x509.Certificate, at: datetime) -> None:
    """SignatureError unless ``cert`` is valid at ``at``."""
    if not cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
        raise SignatureError(f"{_subject(cert)} is not valid at {at.isoformat()} (valid from "
                             f"{cert.not_valid_before_utc.isoformat()} to {cert.not_valid_after_utc.isoformat()})")


def _check_ca(cert: x509.Certificate) -> None:
    """An issuer must be a CA, and allowed to sign certificates when its key usage is restricted."""
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    try:
        may_sign = cert.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    except x509.ExtensionNotFound:
        may_sign = True
    if not (is_ca and may_sign):
        raise SignatureError(f"{_subject(cert)} issued a certificate but is not a certificate authority")


def _bundle(ca_file: Path) -> list[x509.Certificate]:
    """The certificates of a PEM bundle."""
    try:
        return x509.load_pem_x509_certificates(ca_file.read_bytes())
    except FileNotFoundError as e:
        raise DftkError(f"{ca_file}: no such CA bundle") from e
    except OSError as e:
        raise DftkError(f"{ca_file}: cannot read the CA bundle: {e.strerror or e}") from e
    except ValueError as e:
        raise DftkError(f"{ca_file}: not a PEM bundle of certificates ({e})") from e


def _attribute(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> str | None:
    """The first value of a subject attribute (CN, O), if present."""
    values = cert.subject.get_attributes_for_oid(oid)
    if not values:
        return None
    value = values[0].value
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _subject(cert: x509.Certificate) -> str:
    """How messages name a certificate."""
    return f"the certificate '{cert.subject.rfc4514_string()}'"
