"""The manifest of a report folder: every file ``dftk report`` wrote, by name, size and hashes, with the
custody head the report was made from and who signs it. The signature (report.dsse.json) is over the
manifest's exact bytes, so it covers every file the manifest lists, and ``check`` refuses a folder where
any listed file changed or is missing, or where a file the manifest does not list was added.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from dftk.errors import SignatureError
from dftk.records import canonical_json

FORMAT = "dftk-report-manifest/1"
MANIFEST_TYPE = "application/vnd.dftk.report-manifest+json"  # the DSSE payload type of a signed manifest
MANIFEST = "report.manifest.json"
ENVELOPE = "report.dsse.json"
PUBLIC_KEY = "report.pub"
# Beside the files it lists: the manifest itself, its signature, and the signer's public key (which proves
# nothing on its own: a verifier pins the key it trusts).
OUTSIDE = (MANIFEST, ENVELOPE, PUBLIC_KEY)
_CHUNK = 4 << 20


def file_entry(folder: Path, path: Path) -> dict[str, Any]:
    """One file's name (relative to the folder, ``/``-separated), size and SHA-256 and SM3."""
    sha256, sm3, size = hashlib.sha256(), hashlib.new("sm3"), 0
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            sha256.update(chunk)
            sm3.update(chunk)
            size += len(chunk)
    return {"name": path.relative_to(folder).as_posix(), "size": size, "sha256": sha256.hexdigest(),
            "sm3": sm3.hexdigest()}


def build(folder: Path, files: Iterable[Path], head: dict[str, Any], signer: dict[str, Any] | None) -> bytes:
    """The manifest's bytes (canonical JSON): the files, the custody head, the signer and signing time."""
    entries = sorted((file_entry(folder, p) for p in files), key=lambda e: e["name"])
    return canonical_json({"format": FORMAT, "case": head["case"]["name"], "generated": head["generated"],
                           "custody": {"head": head["custody"]["head"], "count": head["custody"]["count"]},
                           "signature": signer, "files": entries}).encode()


def load(payload: bytes) -> dict[str, Any]:
    try:
        manifest: dict[str, Any] = json.loads(payload)
    except ValueError as e:
        raise SignatureError(f"the signed manifest is not JSON: {e}") from e
    if manifest.get("format") != FORMAT:
        raise SignatureError(f"the signed payload is not a dftk report manifest ({manifest.get('format')!r})")
    return manifest


def check(folder: Path, manifest: dict[str, Any]) -> Iterator[str]:
    """Yields one line per file that holds; raises SignatureError naming the first that does not."""
    listed = {entry["name"]: entry for entry in manifest["files"]}
    for name, entry in sorted(listed.items()):
        path = folder / name
        if not path.is_file():
            raise SignatureError(f"{path}: listed in the signed manifest, missing from the report folder")
        now = file_entry(folder, path)
        for key in ("size", "sha256", "sm3"):
            if key in entry and now[key] != entry[key]:
                raise SignatureError(f"{path}: changed after signing ({key} {now[key]}, signed {entry[key]})")
        yield f"ok  {name}: {now['size']} bytes, sha256 and sm3 as signed"
    present = (p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    extra = sorted(name for name in present if name not in listed and name not in OUTSIDE)
    if extra:
        raise SignatureError(f"{folder / extra[0]}: in the report folder but not in the signed manifest "
                             f"({len(extra)} such file(s))")
