"""Ed25519 keys and DSSE envelopes: how a report is signed and how anyone checks it, offline.

DSSE (Dead Simple Signing Envelope) signs the pre-authentication encoding (PAE) of the payload type and
the exact payload bytes, so neither can be swapped. The key id is the SHA-256 of the raw public key.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from dftk.errors import DftkError, SignatureError

PAYLOAD_TYPE = "application/vnd.dftk.report+json"


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSEv1 pre-authentication encoding: ``DSSEv1 SP len(type) SP type SP len(body) SP body``."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(payload), payload)


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def public_path(keyfile: Path) -> Path:
    return keyfile.with_name(keyfile.name + ".pub")


def generate(keyfile: Path, passphrase: bytes | None) -> str:
    """Writes a new key pair (private key 0600, public key beside it as KEYFILE.pub); returns the key id."""
    if keyfile.exists() or public_path(keyfile).exists():
        raise DftkError(f"{keyfile}: a key already exists there; refusing to overwrite it")
    private = Ed25519PrivateKey.generate()
    encryption = (serialization.BestAvailableEncryption(passphrase) if passphrase
                  else serialization.NoEncryption())
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    fd = os.open(keyfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    public_path(keyfile).write_bytes(public_pem(private.public_key()))
    return key_id(private.public_key())


def public_pem(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_private(keyfile: Path, passphrase: bytes | None) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(keyfile.read_bytes(), password=passphrase)
    except FileNotFoundError as e:
        raise DftkError(f"{keyfile}: no such key file") from e
    except (ValueError, TypeError) as e:
        raise DftkError(f"{keyfile}: cannot load the private key (wrong or missing passphrase?)") from e
    if not isinstance(key, Ed25519PrivateKey):
        raise DftkError(f"{keyfile}: not an Ed25519 private key")
    return key


def load_public(path: Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except FileNotFoundError as e:
        raise DftkError(f"{path}: no such public key file") from e
    except ValueError as e:
        raise DftkError(f"{path}: not a PEM public key") from e
    if not isinstance(key, Ed25519PublicKey):
        raise DftkError(f"{path}: not an Ed25519 public key")
    return key


def envelope(payload: bytes, private: Ed25519PrivateKey) -> dict[str, Any]:
    """A DSSE envelope over the exact payload bytes."""
    signature = private.sign(pae(PAYLOAD_TYPE, payload))
    return {
        "payload": base64.b64encode(payload).decode("ascii"),
        "payloadType": PAYLOAD_TYPE,
        "signatures": [{"keyid": key_id(private.public_key()), "sig": base64.b64encode(signature).decode("ascii")}],
    }


def open_envelope(raw: bytes, public: Ed25519PublicKey) -> bytes:
    """Checks the envelope's signature with ``public`` and returns the payload bytes.

    Raises:
        SignatureError: malformed envelope, wrong payload type, unknown key or a signature that fails.
    """
    try:
        data = json.loads(raw)
        payload = base64.b64decode(data["payload"], validate=True)
        payload_type = data["payloadType"]
        signatures = data["signatures"]
    except (ValueError, KeyError, TypeError) as e:
        raise SignatureError(f"the envelope is not a valid DSSE envelope ({type(e).__name__}: {e})") from e
    if payload_type != PAYLOAD_TYPE:
        raise SignatureError(f"the envelope's payload type is {payload_type!r}, not {PAYLOAD_TYPE!r}")
    wanted = key_id(public)
    for signature in signatures:
        if not isinstance(signature, dict) or signature.get("keyid") != wanted:
            continue
        try:
            public.verify(base64.b64decode(signature["sig"], validate=True), pae(payload_type, payload))
        except (InvalidSignature, ValueError, KeyError, TypeError) as e:
            raise SignatureError(f"the signature by key {wanted[:16]}... does not verify: the report or the "
                                 "signature was altered") from e
        return payload
    raise SignatureError(f"no signature by key {wanted[:16]}... in the envelope")
