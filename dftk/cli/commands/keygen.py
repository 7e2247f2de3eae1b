"""``dftk keygen``: the signing key pair an examiner signs reports with."""

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
def keygen(keyfile: Path) -> None:
    """Create an Ed25519 signing key pair: KEYFILE (private, mode 0600) and KEYFILE.pub.

    The private key is encrypted with a passphrase when one is given ($DFTK_KEY_PASSPHRASE, or the prompt
    on a terminal; empty means unencrypted). Give the .pub file and the key id to whoever verifies.

    \b
    Example:
      dftk keygen ~/.dftk/examiner.key
      DFTK_KEY_PASSPHRASE=... dftk keygen lab.key
    """
    identifier = signing.generate(keyfile, passphrase("Passphrase for the new key (empty: none)", confirm=True))
    click.echo(f"private key  {keyfile} (mode 0600)")
    click.echo(f"public key   {signing.public_path(keyfile)}")
    click.echo(f"key id       {identifier}")


