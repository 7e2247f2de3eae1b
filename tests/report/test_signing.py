"""Signing keys: Ed25519 and SM2 key files, OpenSSL interop both ways, identity statements, X.509, DSSE."""

from __future__ import annotations

import base64
import hashlib
import json
import stat
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID
from gmalg import SM2

from dftk.errors import DftkError, SignatureError
from dftk.report import signing
from helpers import dftk, require_tool

DATA = b"the exact bytes of report.json\n" * 100
KEYS = [("ed25519", None), ("ed25519", b"correct horse"), ("sm2", None), ("sm2", b"\xe5\xaf\x86\xe7\xa0\x81")]
DISTID = ["-pkeyopt", "distid:1234567812345678"]  # OpenSSL 3 signs with an empty SM2 id without it


def _flip(data: bytes, i: int) -> bytes:
    return data[:i] + bytes([data[i] ^ 1]) + data[i + 1:]


def _openssl(*args: str | Path, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([require_tool("openssl"), *map(str, args)], input=stdin, capture_output=True)


@pytest.fixture(params=["ed25519", "sm2"])
def algorithm(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.mark.parametrize(("algorithm", "passphrase"), KEYS)
def test_generate_load_sign_verify(tmp_path: Path, algorithm: str, passphrase: bytes | None) -> None:
    keyfile = tmp_path / "examiner.key"
    public = signing.generate(keyfile, passphrase, algorithm)
    assert stat.S_IMODE(keyfile.stat().st_mode) == 0o600
    assert (b"ENCRYPTED PRIVATE KEY" in keyfile.read_bytes()) == (passphrase is not None)
    private = signing.load_private(keyfile, passphrase)
    assert (private.algorithm, private.key_id, private.identity) == (algorithm, public.key_id, None)
    signature = private.sign(DATA)
    loaded = signing.load_public(signing.public_path(keyfile))
    assert (loaded.algorithm, loaded.key_id, loaded.identity, loaded.certificate) == (algorithm, public.key_id,
                                                                                      None, None)
    loaded.verify(signature, DATA)
    if algorithm == "sm2":  # gmalg's own SM2, with its own SM3, agrees
        r, s = decode_dss_signature(signature)
        assert SM2(pk=loaded.raw, uid=b"1234567812345678").verify(DATA, r.to_bytes(32, "big"), s.to_bytes(32, "big"))
    for i in (0, len(signature) // 2, len(signature) - 1):
        with pytest.raises(SignatureError, match="does not verify"):
            loaded.verify(_flip(signature, i), DATA)
    with pytest.raises(SignatureError):
        loaded.verify(signature, DATA + b" ")


@pytest.mark.parametrize(("algorithm", "passphrase"), [k for k in KEYS if k[1]])
def test_wrong_or_missing_passphrase_is_one_line(tmp_path: Path, algorithm: str, passphrase: bytes) -> None:
    signing.generate(tmp_path / "k.key", passphrase, algorithm)
    for given, reason in ((b"wrong", "wrong passphrase"), (None, "give its passphrase")):
        with pytest.raises(DftkError, match=reason) as caught:
            signing.load_private(tmp_path / "k.key", given)
        assert "\n" not in str(caught.value) and str(tmp_path / "k.key") in str(caught.value)


def test_missing_unknown_and_existing_key_files(tmp_path: Path) -> None:
    with pytest.raises(DftkError, match="no such key file"):
        signing.load_private(tmp_path / "absent.key", None)
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (tmp_path / "rsa.key").write_bytes(rsa_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    with pytest.raises(DftkError, match="not an Ed25519 or SM2 private key"):
        signing.load_private(tmp_path / "rsa.key", None)
    (tmp_path / "text.key").write_text("hello\n")
    with pytest.raises(DftkError, match="not a PEM private key"):
        signing.load_private(tmp_path / "text.key", None)
    (tmp_path / "rsa.pub").write_bytes(rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    with pytest.raises(DftkError, match="not an Ed25519 or SM2 public key"):
        signing.load_public(tmp_path / "rsa.pub")
    signing.generate(tmp_path / "k.key", None, "sm2")
    with pytest.raises(DftkError, match="not encrypted, but a passphrase was given"):
        signing.load_private(tmp_path / "k.key", b"pw")
    with pytest.raises(DftkError, match="refusing to overwrite"):
        signing.generate(tmp_path / "k.key", None, "ed25519")
    with pytest.raises(DftkError, match="unknown key algorithm"):
        signing.generate(tmp_path / "other.key", None, "rsa")


# --- OpenSSL, both ways -----------------------------------------------------------------------------


def test_a_dftk_sm2_signature_verifies_with_openssl(tmp_path: Path) -> None:
    signing.generate(tmp_path / "k.key", None, "sm2")
    (tmp_path / "msg").write_bytes(DATA)
    (tmp_path / "sig").write_bytes(signing.load_private(tmp_path / "k.key", None).sign(DATA))
    verify = ("pkeyutl", "-verify", "-pubin", "-inkey", tmp_path / "k.key.pub", "-rawin", "-digest", "sm3",
              *DISTID, "-sigfile", tmp_path / "sig", "-in", tmp_path / "msg")
    result = _openssl(*verify)
    assert result.returncode == 0 and b"Signature Verified Successfully" in result.stdout, result.stderr
    (tmp_path / "msg").write_bytes(DATA + b"x")
    assert _openssl(*verify).returncode != 0


def test_an_openssl_sm2_signature_verifies_with_dftk(tmp_path: Path) -> None:
    key, pub, msg, sig = (tmp_path / n for n in ("o.pem", "o.pub.pem", "msg", "sig"))
    assert _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:SM2", "-out", key).returncode == 0
    assert _openssl("pkey", "-in", key, "-pubout", "-out", pub).returncode == 0
    msg.write_bytes(DATA)
    signed = _openssl("pkeyutl", "-sign", "-inkey", key, "-rawin", "-digest", "sm3", *DISTID, "-in", msg,
                      "-out", sig)
    assert signed.returncode == 0, signed.stderr
    public = signing.load_public(pub)
    assert (public.algorithm, public.identity, public.certificate) == ("sm2", None, None)
    public.verify(sig.read_bytes(), DATA)
    with pytest.raises(SignatureError):
        public.verify(sig.read_bytes(), DATA[:-1])
    assert signing.load_private(key, None).key_id == public.key_id  # openssl's key file reads too


def test_openssl_reads_dftk_sm2_private_keys_and_signs_with_them(tmp_path: Path) -> None:
    for keyfile, passphrase in ((tmp_path / "plain.key", None), (tmp_path / "sealed.key", "s3cret 密码")):
        signing.generate(keyfile, passphrase.encode() if passphrase else None, "sm2", "李伟")
        given = ["-passin", f"pass:{passphrase}"] if passphrase else []
        out = _openssl("pkey", "-in", keyfile, *given, "-pubout")
        assert out.returncode == 0, out.stderr
        assert out.stdout == signing.public_file(signing.load_public(signing.public_path(keyfile))).split(
            b"-----BEGIN DFTK IDENTITY")[0]
        (tmp_path / "msg").write_bytes(DATA)
        signed = _openssl("pkeyutl", "-sign", "-inkey", keyfile, *given, "-rawin", "-digest", "sm3", *DISTID,
                          "-in", tmp_path / "msg", "-out", tmp_path / "sig")
        assert signed.returncode == 0, signed.stderr
        signing.load_public(signing.public_path(keyfile)).verify((tmp_path / "sig").read_bytes(), DATA)
    assert _openssl("pkey", "-in", tmp_path / "sealed.key", "-passin", "pass:wrong").returncode != 0


def test_openssl_generated_sm2_key_is_byte_identical_when_written_again(tmp_path: Path) -> None:
    """dftk writes an SM2 key exactly as openssl genpkey does: reading and re-encoding changes nothing."""
    key = tmp_path / "o.pem"
    assert _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:SM2", "-out", key).returncode == 0
    assert signing.load_private(key, None).pem(None) == key.read_bytes()


def test_ed25519_interop_with_openssl(tmp_path: Path) -> None:
    signing.generate(tmp_path / "k.key", None, "ed25519", "Ada Lovelace", "Example Lab")
    pub = _openssl("pkey", "-pubin", "-in", tmp_path / "k.key.pub", "-outform", "DER")
    assert pub.returncode == 0 and pub.stdout == signing.load_public(tmp_path / "k.key.pub").info()
    (tmp_path / "msg").write_bytes(DATA)
    (tmp_path / "sig").write_bytes(signing.load_private(tmp_path / "k.key", None).sign(DATA))
    verify = _openssl("pkeyutl", "-verify", "-pubin", "-inkey", tmp_path / "k.key.pub", "-rawin",
                      "-sigfile", tmp_path / "sig", "-in", tmp_path / "msg")
    assert verify.returncode == 0 and b"Signature Verified Successfully" in verify.stdout, verify.stderr
    sealed = tmp_path / "openssl.key"  # openssl's own encrypted Ed25519 key reads with dftk
    made = _openssl("genpkey", "-algorithm", "ed25519", "-aes-256-cbc", "-pass", "pass:pw", "-out", sealed)
    assert made.returncode == 0, made.stderr
    assert _openssl("pkey", "-in", sealed, "-passin", "pass:pw", "-pubout", "-out", tmp_path / "o.pub").returncode == 0
    key = signing.load_private(sealed, b"pw")
    signing.load_public(tmp_path / "o.pub").verify(key.sign(DATA), DATA)


# --- identity statements ----------------------------------------------------------------------------


def _identity_body(pub: Path) -> tuple[int, int]:
    """Where the base64 of the identity block starts and ends in the file."""
    text = pub.read_bytes()
    start = text.index(b"\n", text.index(b"-----BEGIN DFTK IDENTITY-----")) + 1
    return start, text.index(b"-----END DFTK IDENTITY-----")


def test_chinese_identity_round_trips(tmp_path: Path, algorithm: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DFTK_KEY_PASSPHRASE", "")
    result = dftk("keygen", tmp_path / "k.key", "--algorithm", algorithm, "--name", "李伟",
                  "--org", "某市公安局司法鉴定中心")
    assert result.exit_code == 0, result.output
    assert f"algorithm    {algorithm}" in result.output and "name         李伟" in result.output
    assert "organisation 某市公安局司法鉴定中心" in result.output
    public = signing.load_public(tmp_path / "k.key.pub")
    assert public.identity is not None and public.identity.to_json() == {
        "name": "李伟", "organisation": "某市公安局司法鉴定中心", "key_id": public.key_id, "algorithm": algorithm,
        "created": public.identity.created}
    assert public.identity.created.endswith("+00:00")
    assert signing.load_private(tmp_path / "k.key", None).identity == public.identity
    assert signing.public_file(public) == (tmp_path / "k.key.pub").read_bytes()


def test_every_edit_of_the_identity_block_is_refused(tmp_path: Path) -> None:
    signing.generate(tmp_path / "k.key", None, "ed25519", "李伟", "某市公安局")
    pub = tmp_path / "k.key.pub"
    original = pub.read_bytes()
    start, end = _identity_body(pub)
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    for i in [*range(start, end), start - 3, end + 5]:
        if original[i:i + 1] in (b"\n", b"="):
            continue
        replacement = alphabet[(alphabet.find(original[i:i + 1]) + 1) % 64] if i < end else ord("X")
        pub.write_bytes(original[:i] + bytes([replacement]) + original[i + 1:])
        with pytest.raises(SignatureError, match="identity statement does not verify"):
            signing.load_public(pub)
    pub.write_bytes(original[:start + 7] + b"!" + original[start + 8:])  # not base64 at all
    with pytest.raises(SignatureError):
        signing.load_public(pub)


def test_an_edited_sm2_identity_or_one_moved_to_another_key_is_refused(tmp_path: Path) -> None:
    signing.generate(tmp_path / "a.key", None, "sm2", "李伟", "某市公安局")
    signing.generate(tmp_path / "b.key", None, "sm2")
    pub = tmp_path / "a.key.pub"
    text = pub.read_bytes()
    start, end = _identity_body(pub)
    block = base64.b64decode(b"".join(text[start:end].split()))
    edited = block.replace("李伟".encode(), "李卫".encode())
    assert edited != block
    for body in (edited, _flip(block, len(block) - 1), block[:-1]):
        pub.write_bytes(text[:start] + base64.encodebytes(body) + text[end:])
        with pytest.raises(SignatureError, match="identity statement does not verify"):
            signing.load_public(pub)
    other = (tmp_path / "b.key.pub").read_bytes()
    (tmp_path / "b.key.pub").write_bytes(other + text[text.index(b"-----BEGIN DFTK IDENTITY"):])
    with pytest.raises(SignatureError, match="names another key"):
        signing.load_public(tmp_path / "b.key.pub")
    with pytest.raises(SignatureError):
        signing.load_private(tmp_path / "b.key", None)  # its .pub claims a stolen identity


def test_a_plain_openssl_public_key_has_no_identity(tmp_path: Path) -> None:
    key = tmp_path / "o.pem"
    assert _openssl("genpkey", "-algorithm", "ed25519", "-out", key).returncode == 0
    assert _openssl("pkey", "-in", key, "-pubout", "-out", tmp_path / "o.pub").returncode == 0
    public = signing.load_public(tmp_path / "o.pub")
    assert (public.algorithm, public.identity, public.certificate) == ("ed25519", None, None)
    assert signing.load_private(key, None).identity is None


# --- X.509 ------------------------------------------------------------------------------------------

ISSUERS: dict[str, Callable[[], Any]] = {
    "ed25519": Ed25519PrivateKey.generate, "ecdsa": lambda: ec.generate_private_key(ec.SECP256R1()),
    "rsa": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)}
NOW = datetime.now(UTC)


def _certificate(subject: str, issuer: str, public: Any, signer: Any, ca: bool, days: tuple[int, int] = (-1, 30),
                 org: str = "某市公安局") -> x509.Certificate:
    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)])

    builder = (x509.CertificateBuilder().subject_name(name(subject)).issuer_name(name(issuer)).public_key(public)
               .serial_number(x509.random_serial_number()).not_valid_before(NOW + timedelta(days=days[0]))
               .not_valid_after(NOW + timedelta(days=days[1]))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    return builder.sign(signer, None if isinstance(signer, Ed25519PrivateKey) else hashes.SHA256())


def _pem(path: Path, *certs: x509.Certificate) -> Path:
    path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs))
    return path


def _examiner(tmp_path: Path, name: str) -> Any:
    signing.generate(tmp_path / f"{name}.key", None, "ed25519", name)
    return signing.load_public(tmp_path / f"{name}.key.pub")


@pytest.mark.parametrize("kind", list(ISSUERS))
def test_a_certificate_chain_names_the_signer(tmp_path: Path, kind: str) -> None:
    root_key, middle_key, stranger_key = ISSUERS[kind](), ISSUERS[kind](), ISSUERS[kind]()
    root = _certificate("Lab Root CA", "Lab Root CA", root_key.public_key(), root_key, ca=True)
    middle = _certificate("Lab Issuing CA", "Lab Root CA", middle_key.public_key(), root_key, ca=True)
    examiner = _examiner(tmp_path, "ada")
    raw = Ed25519PublicKey.from_public_bytes(examiner.raw)
    leaf = _certificate("李伟", "Lab Issuing CA", raw, middle_key, ca=False)
    bundle = _pem(tmp_path / "ca.pem", root, middle)
    with (tmp_path / "ada.key.pub").open("ab") as pub:  # how an examiner publishes a certificate with the key
        pub.write(leaf.public_bytes(serialization.Encoding.PEM))
    for public in (signing.load_public(tmp_path / "ada.key.pub"), signing.load_public(_pem(tmp_path / "l.pem", leaf))):
        assert public.key_id == examiner.key_id and public.certificate == leaf
        assert signing.verify_certificate(public, bundle, NOW) == signing.Identity(
            "李伟", "某市公安局", examiner.key_id, "ed25519", leaf.not_valid_before_utc.isoformat())
    assert signing.load_public(tmp_path / "ada.key.pub").identity == examiner.identity  # both kept
    public = signing.load_public(tmp_path / "l.pem")
    stranger = _certificate("Lab Root CA", "Lab Root CA", stranger_key.public_key(), stranger_key, ca=True)
    lapsed = _certificate("李伟", "Lab Issuing CA", raw, middle_key, ca=False, days=(-10, -1))
    with pytest.raises(SignatureError, match="not valid at"):
        signing.verify_certificate(signing.PublicKey("ed25519", examiner.raw, certificate=lapsed), bundle, NOW)
    for ca, at, why in ((_pem(tmp_path / "other.pem", stranger, middle), NOW, "does not verify with its issuer"),
                        (_pem(tmp_path / "no.pem", stranger), NOW, "not issued by a certificate"),
                        (bundle, NOW + timedelta(days=31), "not valid at"),
                        (bundle, NOW - timedelta(days=2), "not valid at")):
        with pytest.raises(SignatureError, match=why):
            signing.verify_certificate(public, ca, at)


def test_a_certificate_for_another_key_or_from_a_non_ca_is_refused(tmp_path: Path) -> None:
    ca_key = Ed25519PrivateKey.generate()
    root = _certificate("Root", "Root", ca_key.public_key(), ca_key, ca=True)
    ada, bob = _examiner(tmp_path, "ada"), _examiner(tmp_path, "bob")
    ada_cert = _certificate("Ada", "Root", Ed25519PublicKey.from_public_bytes(ada.raw), ca_key, ca=False)
    with pytest.raises(SignatureError, match="for another key"):
        signing.verify_certificate(signing.PublicKey("ed25519", bob.raw, certificate=ada_cert), _pem(
            tmp_path / "ca.pem", root), NOW)
    with (tmp_path / "bob.key.pub").open("ab") as pub:
        pub.write(ada_cert.public_bytes(serialization.Encoding.PEM))
    with pytest.raises(SignatureError, match="for another key"):
        signing.load_public(tmp_path / "bob.key.pub")
    ada_key = serialization.load_pem_private_key((tmp_path / "ada.key").read_bytes(), None)
    bob_cert = _certificate("Bob", "Ada", Ed25519PublicKey.from_public_bytes(bob.raw), ada_key, ca=False)
    bob_certified = signing.PublicKey("ed25519", bob.raw, certificate=bob_cert)
    with pytest.raises(SignatureError, match="not a certificate authority"):  # an examiner cannot vouch for another
        signing.verify_certificate(bob_certified, _pem(tmp_path / "both.pem", root, ada_cert), NOW)
    with pytest.raises(SignatureError, match="no certificate"):
        signing.verify_certificate(bob, tmp_path / "ca.pem", NOW)


def test_an_sm2_certificate_loads_but_is_not_verified(tmp_path: Path) -> None:
    key = signing.generate(tmp_path / "sm2.key", None, "sm2")
    made = _openssl("req", "-x509", "-new", "-key", tmp_path / "sm2.key", "-sm3", "-sigopt", DISTID[1],
                    "-subj", "/CN=Li Wei/O=Lab", "-days", "2", "-out", tmp_path / "cert.pem")
    assert made.returncode == 0, made.stderr
    certified = signing.load_public(tmp_path / "cert.pem")
    assert certified.key_id == key.key_id and certified.certificate is not None
    with pytest.raises(SignatureError, match="SM2 certificates are not supported"):
        signing.verify_certificate(certified, _pem(tmp_path / "ca.pem", certified.certificate), NOW)


# --- DSSE -------------------------------------------------------------------------------------------


def test_envelopes_round_trip_and_name_the_key(tmp_path: Path, algorithm: str) -> None:
    signing.generate(tmp_path / "k.key", None, algorithm, "李伟")
    other = signing.generate(tmp_path / "other.key", None, "sm2" if algorithm == "ed25519" else "ed25519")
    key, public = signing.load_private(tmp_path / "k.key", None), signing.load_public(tmp_path / "k.key.pub")
    sealed = signing.envelope(DATA, signing.PAYLOAD_TYPE, key)
    assert sealed["signatures"][0]["keyid"] == public.key_id and sealed["payloadType"] == signing.PAYLOAD_TYPE
    raw = json.dumps(sealed).encode()
    payload, signer = signing.open_envelope(raw, [other, public], signing.PAYLOAD_TYPE)
    assert payload == DATA and signer.key_id == public.key_id and signer.identity == public.identity
    with pytest.raises(SignatureError, match="no signature by key"):
        signing.open_envelope(raw, [other], signing.PAYLOAD_TYPE)
    with pytest.raises(SignatureError, match="payload type"):
        signing.open_envelope(raw, [public], "application/vnd.dftk.other+json")
    with pytest.raises(SignatureError, match="not a valid DSSE envelope"):
        signing.open_envelope(raw[:-2], [public], signing.PAYLOAD_TYPE)
    sig = base64.b64decode(sealed["signatures"][0]["sig"])
    forged = dict(sealed, signatures=[{**sealed["signatures"][0], "sig": base64.b64encode(_flip(sig, 5)).decode()}])
    with pytest.raises(SignatureError, match="does not verify"):
        signing.open_envelope(json.dumps(forged).encode(), [public], signing.PAYLOAD_TYPE)


def test_ed25519_key_ids_are_unchanged(tmp_path: Path) -> None:
    """A report signed before SM2 existed names its key by the SHA-256 of the raw Ed25519 key."""
    public = signing.generate(tmp_path / "k.key", None)
    raw = serialization.load_pem_public_key((tmp_path / "k.key.pub").read_bytes())
    assert isinstance(raw, Ed25519PublicKey)
    assert public.key_id == hashlib.sha256(raw.public_bytes_raw()).hexdigest() == signing.key_id(public)
