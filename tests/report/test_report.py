"""Signed reports: DSSE against the specification's vector, tamper detection, determinism, CASE validity."""

from __future__ import annotations

import base64
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from dftk.errors import DftkError, SignatureError
from dftk.report import manifest, signing
from dftk.report.manifest import MANIFEST_TYPE
from helpers import FIXTURES, dftk, require_tool


def test_pae_matches_the_dsse_specification_vector() -> None:
    assert signing.pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world")


def test_keygen_writes_a_private_key_only_its_owner_can_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DFTK_KEY_PASSPHRASE", "correct horse")
    result = dftk("keygen", tmp_path / "lab.key")
    assert result.exit_code == 0 and "key id" in result.output
    assert stat.S_IMODE((tmp_path / "lab.key").stat().st_mode) == 0o600
    assert b"ENCRYPTED" in (tmp_path / "lab.key").read_bytes()
    signing.load_private(tmp_path / "lab.key", b"correct horse")
    with pytest.raises(DftkError, match="passphrase"):
        signing.load_private(tmp_path / "lab.key", b"wrong")
    assert dftk("keygen", tmp_path / "lab.key").exit_code == 1  # never overwrites a key


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A case over a fixture image, reported and signed."""
    root = tmp_path_factory.mktemp("signed")
    os.environ["DFTK_KEY_PASSPHRASE"] = ""
    try:
        assert dftk("keygen", root / "k.key").exit_code == 0
        assert dftk("run", FIXTURES / "images" / "fat12.img", "--case", root / "case", "--plugin", "hashing",
                    "--plugin", "thumbnails").exit_code == 0
        result = dftk("report", root / "case", "-o", root / "out", "--sign", root / "k.key")
        assert result.exit_code == 0, result.output
    finally:
        del os.environ["DFTK_KEY_PASSPHRASE"]
    return root


def _copy(signed: Path, tmp_path: Path) -> Path:
    out = tmp_path / "out"
    shutil.copytree(signed / "out", out)
    return out


def test_an_intact_report_verifies(signed: Path) -> None:
    result = dftk("verify", signed / "out", "--key", signed / "k.key.pub")
    assert result.exit_code == 0, result.output + result.stderr
    for check in ("ok  signature", "ok  report.json", "ok  custody log", "ok  evidence", "verified"):
        assert check in result.output


def test_every_single_byte_flip_of_the_signature_fails(signed: Path) -> None:
    public = signing.load_public(signed / "k.key.pub")
    envelope = json.loads((signed / "out" / "report.dsse.json").read_text())
    sig = base64.b64decode(envelope["signatures"][0]["sig"])
    for i in range(len(sig)):
        flipped = base64.b64encode(sig[:i] + bytes([sig[i] ^ 1]) + sig[i + 1:]).decode()
        forged = dict(envelope, signatures=[{**envelope["signatures"][0], "sig": flipped}])
        with pytest.raises(SignatureError):
            signing.open_envelope(json.dumps(forged).encode(), [public], MANIFEST_TYPE)
    assert signing.open_envelope(json.dumps(envelope).encode(), [public], MANIFEST_TYPE)[1].key_id == public.key_id


def test_single_byte_flips_across_the_payload_fail(signed: Path) -> None:
    public = signing.load_public(signed / "k.key.pub")
    envelope = json.loads((signed / "out" / "report.dsse.json").read_text())
    payload = base64.b64decode(envelope["payload"])
    positions = sorted({0, len(payload) - 1, *range(0, len(payload), max(1, len(payload) // 300))})
    for i in positions:
        flipped = payload[:i] + bytes([payload[i] ^ 0x20]) + payload[i + 1:]
        forged = dict(envelope, payload=base64.b64encode(flipped).decode())
        with pytest.raises(SignatureError):
            signing.open_envelope(json.dumps(forged).encode(), [public], MANIFEST_TYPE)


def test_cli_exit_3_for_altered_report_json_and_envelope(signed: Path, tmp_path: Path) -> None:
    out = _copy(signed, tmp_path)
    report = (out / "report.json").read_bytes()
    (out / "report.json").write_bytes(report.replace(b'"hash/evidence"', b'"hash/evidencf"', 1))
    result = dftk("verify", out, "--key", signed / "k.key.pub")
    assert result.exit_code == 3 and f"{out / 'report.json'}: changed after signing" in result.stderr
    (out / "report.json").write_bytes(report)
    envelope = json.loads((out / "report.dsse.json").read_text())
    altered = base64.b64decode(envelope["payload"]).replace(b"report.json", b"report.jsoX")
    envelope["payload"] = base64.b64encode(altered).decode()
    (out / "report.dsse.json").write_text(json.dumps(envelope))
    result = dftk("verify", out, "--key", signed / "k.key.pub")
    assert result.exit_code == 3 and "does not verify" in result.stderr


def _resign(out: Path, report: dict[str, object]) -> None:
    """What a forger can do: edit, list the files again in a new manifest, sign it with their own key, and
    replace report.pub."""
    forger = signing.PrivateKey("ed25519", Ed25519PrivateKey.generate().private_bytes_raw())
    (out / "report.json").write_bytes(json.dumps(report, sort_keys=True).encode())
    files = [p for p in out.rglob("*") if p.is_file() and p.name not in manifest.OUTSIDE]
    listed = manifest.build(out, files, report, None)
    (out / manifest.MANIFEST).write_bytes(listed)
    (out / "report.dsse.json").write_text(json.dumps(signing.envelope(listed, MANIFEST_TYPE, forger)))
    (out / "report.pub").write_bytes(signing.public_file(forger.public()))


@pytest.mark.parametrize("field", ["examiner", "time", "command_line", "evidence_sha256", "action"])
def test_editing_any_custody_event_fails_even_when_re_signed(signed: Path, tmp_path: Path, field: str) -> None:
    out = _copy(signed, tmp_path)
    report = json.loads((out / "report.json").read_bytes())
    for seq in range(len(report["custody"]["events"])):
        events = report["custody"]["events"]
        original = events[seq][field]
        events[seq][field] = "2020-01-01T00:00:00+00:00" if field == "time" else f"{original}x"
        _resign(out, report)
        unpinned = dftk("verify", out)
        assert unpinned.exit_code == 3 and "no trusted key" in unpinned.stderr
        beside = dftk("verify", out, "--integrity-only")
        assert beside.exit_code == 3 and "custody log" in beside.stderr
        pinned = dftk("verify", out, "--key", signed / "k.key.pub")
        assert pinned.exit_code == 3 and "no signature by key" in pinned.stderr
        events[seq][field] = original


def test_changed_evidence_fails_verification(tmp_path: Path) -> None:
    image = tmp_path / "ext2.img"
    shutil.copy(FIXTURES / "images" / "ext2.img", image)
    os.environ["DFTK_KEY_PASSPHRASE"] = ""
    try:
        dftk("keygen", tmp_path / "k.key")
        dftk("run", image, "--case", tmp_path / "case", "--plugin", "hashing")
        dftk("report", tmp_path / "case", "-o", tmp_path / "out", "--sign", tmp_path / "k.key", "--format", "json")
    finally:
        del os.environ["DFTK_KEY_PASSPHRASE"]
    assert dftk("verify", tmp_path / "out", "--key", tmp_path / "k.key.pub").exit_code == 0
    with image.open("r+b") as f:
        f.seek(5000)
        f.write(b"X")
    result = dftk("verify", tmp_path / "out", "--key", tmp_path / "k.key.pub")
    assert result.exit_code == 3 and f"changed since the report: {image}: content changed" in result.stderr


def test_report_creation_is_a_custody_event(signed: Path) -> None:
    log = dftk("case", "log", signed / "case", "--json").output
    events = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert events[-1]["action"] == "report.create"
    details = json.loads(events[-1]["details"])
    assert len(details["report_sha256"]) == 64 and details["signed_by"]


def test_case_output_passes_case_validate(signed: Path) -> None:
    validate = require_tool("case_validate") if shutil.which("case_validate") else str(
        Path(sys.executable).with_name("case_validate"))
    result = subprocess.run([validate, str(signed / "out" / "report.case.jsonld")], capture_output=True, text=True,
                            check=False, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "Conforms: True" in result.stdout


def test_csv_per_kind_and_dfxml(signed: Path) -> None:
    rows = (signed / "out" / "csv" / "hash_file.csv").read_text(encoding="utf-8-sig").splitlines()
    assert rows[0].startswith("evidence_id,plugin,subject") and any("证据" in r for r in rows)
    dfxml = (signed / "out" / "report.dfxml").read_text()
    assert dfxml.count("<fileobject>") == len(rows) - 1


def test_report_has_a_histogram_per_indicator_kind(tmp_path: Path) -> None:
    (tmp_path / "ev").mkdir()
    (tmp_path / "ev" / "a.txt").write_text("mail alice@example.com, alice@example.com and bob@example.org\n")
    (tmp_path / "ev" / "b.txt").write_text("alice@example.com\n")
    assert dftk("run", tmp_path / "ev", "--case", tmp_path / "case", "--plugin", "indicators").exit_code == 0
    assert dftk("report", tmp_path / "case", "-o", tmp_path / "out", "--format", "json,html").exit_code == 0
    summary = json.loads((tmp_path / "out" / "report.json").read_text())["summary"]
    assert summary["histograms"]["indicator/email"] == [["alice@example.com", 3], ["bob@example.org", 1]]
    assert "Most frequent values" in (tmp_path / "out" / "report.html").read_text()
