"""How a report is signed and how anyone checks it, offline: DSSE envelopes by Ed25519 or SM2 keys.

DSSE (Dead Simple Signing Envelope) signs the pre-authentication encoding (PAE) of the payload type and
the exact payload bytes, so neither can be swapped::

    {"payload": base64(payload), "payloadType": TYPE,
     "signatures": [{"keyid": SHA-256 of the raw public key (hex), "sig": base64(signature)}]}

This module is the one signing interface the rest of dftk calls. Keys, their files and the identity a key
states are in dftk.report.keys and dftk.report.keyfiles; certificates in dftk.report.certificates; SM2
itself in dftk.report.sm2. Their public names are re-exported here.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

from dftk.errors import SignatureError
from dftk.report.certificates import verify_certificate
from dftk.report.keyfiles import generate, load_private, load_public, public_file, public_path
from dftk.report.keys import ALGORITHMS, Identity, PrivateKey, PublicKey, pae

PAYLOAD_TYPE = "application/vnd.dftk.report+json"

__all__ = ["ALGORITHMS", "PAYLOAD_TYPE", "Identity", "PrivateKey", "PublicKey", "envelope", "generate", "key_id",
           "load_private", "load_public", "open_envelope", "pae", "public_file", "public_path", "verify_certificate"]


def key_id(key: PublicKey | PrivateKey) -> str:
    """The key id a signature names: the SHA-256 (hex) of the raw public key."""
    return key.key_id


def envelope(payload: bytes, payload_type: str, key: PrivateKey) -> dict[str, Any]:
    """A DSSE envelope: ``key``'s signature over ``pae(payload_type, payload)``."""
    signature = key.sign(pae(payload_type, payload))
    return {
        "payload": base64.b64encode(payload).decode("ascii"),
        "payloadType": payload_type,
        "signatures": [{"keyid": key.key_id, "sig": base64.b64encode(signature).decode("ascii")}],
    }


def open_envelope(raw: bytes, keys: Sequence[PublicKey], payload_type: str) -> tuple[bytes, PublicKey]:
    """The payload of a DSSE envelope and the key whose signature on it verified.

    Args:
        raw: the envelope's JSON bytes.
        keys: the keys to accept a signature from; a signature names its key by key id.
        payload_type: the payload type the envelope must have.

    Raises:
        SignatureError: a malformed envelope, another payload type, no signature by any of ``keys``, or
            signatures by them that do not verify.
    """
    payload, found_type, signatures = _parse(raw)
    if found_type != payload_type:
        raise SignatureError(f"the envelope's payload type is {found_type!r}, not {payload_type!r}")
    by_id = {key.key_id: key for key in keys}
    named = [(by_id[s["keyid"]], s.get("sig")) for s in signatures
             if isinstance(s, dict) and isinstance(s.get("keyid"), str) and s["keyid"] in by_id]
    if not named:
        wanted = ", ".join(f"{k[:16]}..." for k in by_id) or "none given"
        raise SignatureError(f"no signature by key {wanted} in the envelope")
    for key, sig in named:
        if _verifies(key, sig, pae(found_type, payload)):
            return payload, key
    raise SignatureError(f"the signature by key {named[0][0].key_id[:16]}... does not verify: the payload or the "
                         "signature was altered")


def _parse(raw: bytes) -> tuple[bytes, str, list[Any]]:
    """Payload, payload type and signature entries of an envelope's JSON."""
    try:
        data = json.loads(raw)
        payload = base64.b64decode(data["payload"], validate=True)
        payload_type, signatures = data["payloadType"], data["signatures"]
    except (ValueError, KeyError, TypeError) as e:
        raise SignatureError(f"the envelope is not a valid DSSE envelope ({type(e).__name__}: {e})") from e
    if not isinstance(payload_type, str) or not isinstance(signatures, list):
        raise SignatureError("the envelope is not a valid DSSE envelope (payloadType or signatures malformed)")
    return payload, payload_type, signatures


def _verifies(key: PublicKey, sig: object, message: bytes) -> bool:
    """Whether an envelope's ``sig`` field (base64) is ``key``'s signature of ``message``."""
    try:
        key.verify(base64.b64decode(sig, validate=True) if isinstance(sig, str) else b"", message)
    except (SignatureError, ValueError):
        return False
    return True
