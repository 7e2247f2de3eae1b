"""``dftk report`` and ``dftk verify``: signed reports anyone can check, offline."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import click
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from dftk.case import custody, integrity
from dftk.case.store import CaseStore
from dftk.cli.commands.keygen import passphrase as _passphrase
from dftk.report import signing
from dftk.report.verify import verify_report
from dftk.report.writer import FORMATS, write_report


def _formats(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(v.strip() for v in value.split(",") if v.strip()))
    unknown = [v for v in chosen if v not in FORMATS]
    if unknown:
        raise click.BadParameter(f"unknown format {unknown[0]!r}; choose from {', '.join(FORMATS)}")
    return chosen


@click.command()
@click.argument("case_dir", metavar="CASEDIR", type=click.Path(file_okay=False, path_type=Path))
@click.option("-o", "--output", "outdir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write the report into.")
@click.option("--format", "formats", default=",".join(FORMATS), show_default=True, callback=_formats,
              help="Comma-separated: json (always written: it is what is signed), html, case, dfxml, csv.")
@click.option("--sign", "keyfile", type=click.Path(dir_okay=False, path_type=Path),
              help="Sign report.json with this Ed25519 private key (writes report.dsse.json and report.pub).")
@click.option("--deterministic", is_flag=True,
              help="Byte-identical output for the same case: no durations, report time from the case itself.")
def report(case_dir: Path, outdir: Path, formats: tuple[str, ...], keyfile: Path | None, deterministic: bool) -> None:
    """Render a case into a report: JSON, signed DSSE envelope, HTML, CASE/UCO, DFXML, CSV.

    report.json is the complete record (evidence and seals, runs, plugin versions and options, findings,
    problems, custody log). With --sign, report.dsse.json signs its exact bytes. Making the report is
    itself recorded in the custody log. SOURCE_DATE_EPOCH implies --deterministic.

    \b
    Example:
      dftk report cases/2026-001 -o reports/2026-001 --sign ~/.dftk/examiner.key
      dftk verify reports/2026-001 --key examiner.key.pub
    """
    deterministic = deterministic or bool(os.environ.get("SOURCE_DATE_EPOCH"))
    with CaseStore.open(case_dir, create=False) as store, store.lock():
        list(integrity.close_abandoned(store, custody.examiner_name()))
        integrity.check(store)  # never certify a case whose history cannot be trusted
        private = signing.load_private(keyfile, _passphrase(f"Passphrase for {keyfile}")) if keyfile else None
        outdir.mkdir(parents=True, exist_ok=True)
        written = write_report(store, outdir, formats, deterministic)
        payload = (outdir / "report.json").read_bytes()
        if private is not None:
            written += _sign(outdir, payload, private)
        custody.append(store, "report.create", custody.examiner_name(), None,
                       report_sha256=hashlib.sha256(payload).hexdigest(), formats=list(formats),
                       signed_by=signing.key_id(private.public_key()) if private else None)
    for path in written:
        click.echo(f"wrote  {path}")


def _sign(outdir: Path, payload: bytes, private: Ed25519PrivateKey) -> list[Path]:
    envelope = outdir / "report.dsse.json"
    envelope.write_text(json.dumps(signing.envelope(payload, private), indent=1, sort_keys=True) + "\n")
    public = outdir / "report.pub"
    public.write_bytes(signing.public_pem(private.public_key()))
    return [envelope, public]


@click.command()
@click.argument("target", type=click.Path(path_type=Path))
@click.option("--key", "key", type=click.Path(dir_okay=False, path_type=Path),
              help="The signer's public key (.pub). Without it, report.pub beside the report is used, which "
                   "proves integrity but not who signed.")
@click.option("--no-evidence", is_flag=True, help="Do not re-hash the evidence even when it is at hand.")
def verify(target: Path, key: Path | None, no_evidence: bool) -> None:
    """Verify a signed report, or an image against the hashes recorded for it.

    A report (a folder, or its report.dsse.json): the signature, the report's bytes, the custody chain
    and, when at hand, the evidence re-hashed. An image: an E01's stored MD5/SHA1 recomputed over its media,
    or a raw or split raw image against its acquisition log (IMAGE.acquire.json). Prints each check; exit 0
    when all hold, exit 3 naming the first one that does not.

    \b
    Example:
      dftk verify reports/2026-001 --key examiner.key.pub
      dftk verify disk.E01
    """
    if target.is_dir() or target.name.endswith(".dsse.json"):
        lines = verify_report(target, key, not no_evidence)
    else:
        from dftk.acquire.verify import verify_image

        lines = verify_image(target)
    for line in lines:
        click.echo(line)
