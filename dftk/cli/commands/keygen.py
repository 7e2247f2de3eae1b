"""``dftk keygen``: the signing key pair an examiner signs reports with, and the identity it states."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from dftk.report import signing


def passphrase(prompt: str, confirm: bool = False) -> bytes | None:
    """$DFTK_KEY_PASSPHRASE, else a prompt when a terminal is attached, else none."""
    if "DFTK_KEY_PASSPHRASE" in os.environ:
        return os.environ["DFTK_KEY_PASSPHRASE"].encode() or None
    if sys.stdin.isatty():
        value = str(click.prompt(prompt, hide_input=True, confirmation_prompt=confirm, default="",
                                 show_default=False))
        return value.encode() or None
    return None


@click.command()
@click.argument("keyfile", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--algorithm", type=click.Choice(signing.ALGORITHMS), default="ed25519", show_default=True,
              help="Ed25519, or SM2 (GB/T 32918, signatures with SM3) for labs that must use the SM suite.")
@click.option("--name", help="The examiner's name the public key states (signed by the key itself).")
@click.option("--org", "organisation", help="The examiner's organisation the public key states.")
def keygen(keyfile: Path, algorithm: str, name: str | None, organisation: str | None) -> None:
    """Create a signing key pair: KEYFILE (private, mode 0600) and KEYFILE.pub.

    The private key is encrypted with a passphrase when one is given ($DFTK_KEY_PASSPHRASE, or the prompt
    on a terminal; empty means unencrypted). With --name or --org, KEYFILE.pub also holds an identity
    statement signed by the key itself, so whoever verifies learns who signed. Give the .pub file and the
    key id to whoever verifies; `openssl pkey -pubin -in KEYFILE.pub` reads it.

    \b
    Example:
      dftk keygen ~/.dftk/examiner.key --name "Ada Lovelace" --org "Example Lab"
      DFTK_KEY_PASSPHRASE=... dftk keygen lab.key --algorithm sm2 --name 李伟 --org 某市公安局司法鉴定中心
    """
    secret = passphrase("Passphrase for the new key (empty: none)", confirm=True)
    public = signing.generate(keyfile, secret, algorithm, name, organisation)
    click.echo(f"private key  {keyfile} (mode 0600)")
    click.echo(f"public key   {signing.public_path(keyfile)}")
    click.echo(f"key id       {public.key_id}")
    click.echo(f"algorithm    {public.algorithm}")
    if public.identity is not None and public.identity.name:
        click.echo(f"name         {public.identity.name}")
    if public.identity is not None and public.identity.organisation:
        click.echo(f"organisation {public.identity.organisation}")
