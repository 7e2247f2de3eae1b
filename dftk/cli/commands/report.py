"""``dftk report`` and ``dftk verify``: signed reports anyone can check, offline."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import click

from dftk.case import custody, integrity
from dftk.case.store import CaseStore
from dftk.cli.commands.keygen import passphrase as _passphrase
from dftk.errors import DftkError
from dftk.report import signing
from dftk.report.manifest import ENVELOPE, MANIFEST, MANIFEST_TYPE, OUTSIDE, PUBLIC_KEY, build
from dftk.report.verify import TRUSTED_KEYS_ENV, Trust, verify_report
from dftk.report.writer import FORMATS, write_report
from dftk.text import terminal


def _formats(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(v.strip() for v in value.split(",") if v.strip()))
    unknown = [v for v in chosen if v not in FORMATS]
    if unknown:
        raise click.BadParameter(f"unknown format {unknown[0]!r}; choose from {', '.join(FORMATS)}")
    return chosen


@click.command()
@click.argument("case_dir", metavar="CASEDIR", type=click.Path(file_okay=False, path_type=Path))
@click.option("-o", "--output", "outdir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write the report into (new or empty, or holding an earlier report with --force).")
@click.option("--format", "formats", default=",".join(FORMATS), show_default=True, callback=_formats,
              help="Comma-separated: json (always written), html, case, dfxml, csv.")
@click.option("--sign", "keyfile", type=click.Path(dir_okay=False, path_type=Path),
              help="Sign with this private key (dftk keygen; Ed25519 or SM2): report.dsse.json signs the manifest "
                   "that lists every file, report.pub is the signer's public key and identity.")
@click.option("--deterministic", is_flag=True,
              help="Byte-identical output for the same case: no durations, report time from the case itself.")
@click.option("--force", is_flag=True, help="Replace an earlier report in the folder (the files its manifest lists).")
def report(case_dir: Path, outdir: Path, formats: tuple[str, ...], keyfile: Path | None, deterministic: bool,
           force: bool) -> None:
    """Render a case into a report: JSON, HTML, CASE/UCO, DFXML, CSV, and a manifest of them all, signed.

    report.json is the complete record (evidence and seals, runs, plugin versions and options, findings,
    problems, custody log). report.manifest.json lists every file written with its size, SHA-256 and SM3,
    and the custody head the report was made from; with --sign, report.dsse.json signs the manifest's
    exact bytes, and the signer (name, organisation, key id) and the signing time appear in report.json
    and in the HTML header. The case is verified first (custody chain, every run's digests) and a case that
    does not verify is refused (exit 3). Making the report is itself recorded in the custody log.
    SOURCE_DATE_EPOCH implies --deterministic (and sets only the report's own time).

    \b
    Example:
      dftk report cases/2026-001 -o reports/2026-001 --sign ~/.dftk/examiner.key
      dftk verify reports/2026-001 --key examiner.key.pub
    """
    deterministic = deterministic or bool(os.environ.get("SOURCE_DATE_EPOCH"))
    private = signing.load_private(keyfile, _passphrase(f"Passphrase for {keyfile}")) if keyfile else None
    signer = _signer(private) if private is not None else None
    with CaseStore.open(case_dir, create=False) as store, store.lock():
        list(integrity.close_abandoned(store, custody.examiner_name()))
        integrity.check(store)  # never certify a case whose history cannot be trusted
        _make_room(outdir, force)
        head, written = write_report(store, outdir, formats, deterministic, signer)
        manifest = outdir / MANIFEST
        manifest.write_bytes(build(outdir, written, head, head.get("signature")))
        if private is not None:
            written += _sign(outdir, manifest.read_bytes(), private)
        custody.append(store, "report.create", custody.examiner_name(), None,
                       report_sha256=_sha256(outdir / "report.json"), manifest_sha256=_sha256(manifest),
                       formats=list(formats), signed_by=private.key_id if private else None,
                       signer=head.get("signature"))
    for path in [*written, manifest]:
        click.echo(f"wrote  {path}")


def _signer(private: signing.PrivateKey) -> dict[str, Any]:
    identity = private.identity
    return {"algorithm": private.algorithm, "key_id": private.key_id,
            "name": identity.name if identity else None, "organisation": identity.organisation if identity else None}


def _make_room(outdir: Path, force: bool) -> None:
    """A new or empty folder; with --force, one holding an earlier report, whose listed files are removed
    (a stale signature or file of an earlier report must never sit beside a new one)."""
    if outdir.exists() and any(outdir.iterdir()):
        if not force:
            raise DftkError(f"{outdir}: output folder is not empty (--force replaces an earlier report there)")
        _remove_earlier(outdir)
    outdir.mkdir(parents=True, exist_ok=True)


def _remove_earlier(outdir: Path) -> None:
    try:
        listed = [entry["name"] for entry in json.loads((outdir / MANIFEST).read_bytes())["files"]]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise DftkError(f"{outdir}: not an earlier dftk report (no readable {MANIFEST}); not replaced") from e
    for name in [*listed, *OUTSIDE]:
        (outdir / name).unlink(missing_ok=True)
    for folder in sorted((p for p in outdir.rglob("*") if p.is_dir()), reverse=True):
        if not any(folder.iterdir()):
            folder.rmdir()  # emptied by the removal (csv/)
    left = [p for p in outdir.rglob("*") if p.is_file()]
    if left:
        raise DftkError(f"{left[0]}: not part of the earlier report; the folder is not replaced")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _sign(outdir: Path, manifest: bytes, private: signing.PrivateKey) -> list[Path]:
    envelope = outdir / ENVELOPE
    envelope.write_text(json.dumps(signing.envelope(manifest, MANIFEST_TYPE, private), indent=1, sort_keys=True)
                        + "\n")
    public = outdir / PUBLIC_KEY
    public.write_bytes(signing.public_file(private.public()))
    return [envelope, public]


@click.command()
@click.argument("target", type=click.Path(path_type=Path))
@click.option("--key", "keys", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A public key you trust the signer by (their .pub file or X.509 certificate; repeatable).")
@click.option("--trusted", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help=f"A folder of trusted public keys (*.pub); default ${TRUSTED_KEYS_ENV}.")
@click.option("--integrity-only", is_flag=True,
              help="Accept the public key beside the report: proves nothing changed since it was signed, not who "
                   "signed it (said in one line).")
@click.option("--ca", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Also require the signer's X.509 certificate to chain to this CA (PEM bundle).")
@click.option("--case", "case_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Also check that this case still holds the history the report was made from, and verifies.")
@click.option("--no-evidence", is_flag=True, help="Do not re-hash the evidence even when it is at hand.")
def verify(target: Path, keys: tuple[Path, ...], trusted: Path | None, integrity_only: bool, ca: Path | None,
           case_dir: Path | None, no_evidence: bool) -> None:
    """Verify a signed report, or an image against the hashes recorded for it.

    A report (a folder, or its report.dsse.json): the signature on its manifest by a key you trust (--key,
    --trusted; otherwise exit 3 unless --integrity-only), every file the manifest lists (size, SHA-256,
    SM3; none missing, none added), the custody chain, with --case that the case still holds that history
    and verifies, and, when at hand, the evidence re-sealed (a file only touched is a note; a changed one is
    named). An image: an E01's stored MD5/SHA1 recomputed over its media, or a raw or split raw image
    against its acquisition log (IMAGE.acquire.json). Prints each check; exit 0 when all hold, exit 3
    naming the first one that does not. docs/report.md says what each check proves and what it does not.

    \b
    Example:
      dftk verify reports/2026-001 --key examiner.key.pub --case cases/2026-001
      dftk verify disk.E01
    """
    if target.is_dir() or target.name.endswith(".dsse.json"):
        trust = Trust(keys, trusted, integrity_only, ca)
        lines = verify_report(target, trust, not no_evidence, case_dir)
    else:
        from dftk.acquire.verify import verify_image

        lines = verify_image(target)
    for line in lines:
        click.echo(terminal(line))
