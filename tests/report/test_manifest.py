"""A signed report covers every file it wrote and names who signed it (issue: tamper-evident end to end)."""

from __future__ import annotations

import base64
import json
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from dftk.case import custody
from dftk.case.store import CaseStore
from dftk.report import signing
from dftk.report.manifest import MANIFEST_TYPE
from helpers import FIXTURES, dftk, require_tool

NAME, ORG = "李伟", "某市公安局司法鉴定中心"


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A case over a fixture image, reported in every format and signed by an identified SM2 key."""
    root = tmp_path_factory.mktemp("manifest")
    image = root / "fat12.img"
    shutil.copy(FIXTURES / "images" / "fat12.img", image)
    os.environ["DFTK_KEY_PASSPHRASE"] = ""
    try:
        assert dftk("keygen", root / "k.key", "--algorithm", "sm2", "--name", NAME, "--org", ORG).exit_code == 0
        assert dftk("run", image, "--case", root / "case", "--plugin", "hashing").exit_code == 0
        result = dftk("report", root / "case", "-o", root / "out", "--sign", root / "k.key")
        assert result.exit_code == 0, result.output
    finally:
        del os.environ["DFTK_KEY_PASSPHRASE"]
    return root


def _copy(made: Path, tmp_path: Path) -> Path:
    shutil.copytree(made / "out", tmp_path / "out")
    return tmp_path / "out"


def _verify(out: Path, made: Path, *more: object) -> object:
    return dftk("verify", out, "--key", made / "k.key.pub", "--no-evidence", *more)


def test_the_signer_is_named_in_the_report_and_its_page(made: Path) -> None:
    report = json.loads((made / "out" / "report.json").read_text())
    assert report["signature"]["name"] == NAME and report["signature"]["organisation"] == ORG
    assert report["signature"]["algorithm"] == "sm2" and report["signature"]["signed_at"] == report["generated"]
    assert NAME in (made / "out" / "report.html").read_text() and ORG in (made / "out" / "report.html").read_text()
    result = _verify(made / "out", made)
    assert result.exit_code == 0, result.stderr
    assert f"signer {NAME}, {ORG}" in result.output and "ok  report.html" in result.output


@pytest.mark.parametrize("name", ["report.html", "report.case.jsonld", "csv/hash_file.csv", "report.dfxml"])
def test_an_edit_in_any_rendered_file_is_named(made: Path, tmp_path: Path, name: str) -> None:
    out = _copy(made, tmp_path)
    text = (out / name).read_bytes()
    edited = text.replace(b"root", b"r00t", 1) if b"root" in text else text.replace(b"a", b"b", 1)
    assert edited != text
    (out / name).write_bytes(edited)
    result = _verify(out, made)
    assert result.exit_code == 3 and f"{out / name}: changed after signing" in result.stderr


def test_a_missing_or_an_added_file_is_named(made: Path, tmp_path: Path) -> None:
    out = _copy(made, tmp_path)
    (out / "csv" / "notes.csv").write_text("planted\n")
    result = _verify(out, made)
    assert result.exit_code == 3 and "csv/notes.csv: in the report folder but not in the signed manifest" in (
        result.stderr)
    (out / "csv" / "notes.csv").unlink()
    (out / "report.dfxml").unlink()
    result = _verify(out, made)
    assert result.exit_code == 3 and "report.dfxml: listed in the signed manifest, missing" in result.stderr


def test_a_report_re_signed_with_another_key_needs_a_trusted_key(made: Path, tmp_path: Path) -> None:
    out = _copy(made, tmp_path)
    os.environ["DFTK_KEY_PASSPHRASE"] = ""
    try:
        dftk("keygen", tmp_path / "forger.key")
    finally:
        del os.environ["DFTK_KEY_PASSPHRASE"]
    forger = signing.load_private(tmp_path / "forger.key", None)
    listed = (out / "report.manifest.json").read_bytes()
    (out / "report.dsse.json").write_text(json.dumps(signing.envelope(listed, MANIFEST_TYPE, forger)))
    (out / "report.pub").write_bytes(signing.public_file(forger.public()))
    unpinned = dftk("verify", out, "--no-evidence")
    assert unpinned.exit_code == 3 and "no trusted key" in unpinned.stderr
    beside = dftk("verify", out, "--no-evidence", "--integrity-only")
    assert beside.exit_code == 3 and "another signing key" in beside.stderr  # the manifest names the real signer
    pinned = _verify(out, made)
    assert pinned.exit_code == 3 and "no signature by key" in pinned.stderr


def test_trusted_keys_folder_and_integrity_only(made: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "trusted").mkdir()
    shutil.copy(made / "k.key.pub", tmp_path / "trusted" / "lab.pub")
    assert dftk("verify", made / "out", "--no-evidence", "--trusted", tmp_path / "trusted").exit_code == 0
    monkeypatch.setenv("DFTK_TRUSTED_KEYS", str(tmp_path / "trusted"))
    assert dftk("verify", made / "out", "--no-evidence").exit_code == 0
    monkeypatch.delenv("DFTK_TRUSTED_KEYS")
    result = dftk("verify", made / "out", "--no-evidence", "--integrity-only")
    assert result.exit_code == 0 and "NOT authenticated" in result.output


def test_openssl_verifies_the_sm2_signature_on_the_manifest(made: Path, tmp_path: Path) -> None:
    openssl = require_tool("openssl")
    envelope = json.loads((made / "out" / "report.dsse.json").read_text())
    payload = base64.b64decode(envelope["payload"])
    (tmp_path / "signed").write_bytes(signing.pae(MANIFEST_TYPE, payload))
    (tmp_path / "sig").write_bytes(base64.b64decode(envelope["signatures"][0]["sig"]))
    done = subprocess.run([openssl, "pkeyutl", "-verify", "-pubin", "-inkey", str(made / "k.key.pub"), "-rawin",
                           "-digest", "sm3", "-pkeyopt", "distid:1234567812345678", "-in", str(tmp_path / "signed"),
                           "-sigfile", str(tmp_path / "sig")], capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "Verified Successfully" in done.stdout


def test_verify_with_the_case_catches_a_history_rewritten_after_the_report(made: Path, tmp_path: Path) -> None:
    shutil.copytree(made / "case", tmp_path / "case")
    assert _verify(made / "out", made, "--case", tmp_path / "case").exit_code == 0
    with CaseStore.open(tmp_path / "case", create=False) as store:
        events = list(custody.events(store))
    db = sqlite3.connect(tmp_path / "case" / "case.sqlite")
    db.executescript("DROP TRIGGER custody_no_update;")
    prev = custody.GENESIS
    for event in events:  # re-chained whole: the case alone cannot tell
        event["examiner"] = "forger" if event["seq"] == 1 else event["examiner"]
        event["prev_hash"] = prev
        event["hash"] = prev = custody.event_hash(event)
        db.execute("UPDATE custody SET examiner = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                   (event["examiner"], event["prev_hash"], event["hash"], event["seq"]))
    db.commit()
    db.executescript("CREATE TRIGGER custody_no_update BEFORE UPDATE ON custody "
                     "BEGIN SELECT RAISE(ABORT, 'the custody log is append-only'); END;")
    db.close()
    assert dftk("case", "log", tmp_path / "case").exit_code == 0  # what the case alone can prove
    result = _verify(made / "out", made, "--case", tmp_path / "case")
    assert result.exit_code == 3 and "no longer holds the history this report was made from" in result.stderr


def test_a_report_folder_is_never_mixed_with_an_earlier_one(made: Path, tmp_path: Path) -> None:
    shutil.copytree(made / "case", tmp_path / "case")
    out = _copy(made, tmp_path)
    again = dftk("report", tmp_path / "case", "-o", out, "--format", "json")
    assert again.exit_code == 1 and "not empty" in again.stderr
    assert dftk("report", tmp_path / "case", "-o", out, "--format", "json", "--force").exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == ["report.json", "report.manifest.json"]  # nothing stale left
    (out / "mine.txt").write_text("an examiner's own note")
    refused = dftk("report", tmp_path / "case", "-o", out, "--format", "json", "--force")
    assert refused.exit_code == 1 and "mine.txt: not part of the earlier report" in refused.stderr


def test_a_touched_evidence_file_verifies_with_a_note(made: Path) -> None:
    image = made / "fat12.img"
    before = image.stat()
    try:
        os.utime(image, (1_600_000_000, 1_600_000_000))
        result = dftk("verify", made / "out", "--key", made / "k.key.pub")
        assert result.exit_code == 0, result.stderr
        assert f"{image}: timestamps changed, content identical" in result.output
    finally:
        os.utime(image, ns=(before.st_atime_ns, before.st_mtime_ns))
