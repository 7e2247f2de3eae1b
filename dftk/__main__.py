"""``python -m dftk``: the same as the ``dftk`` command."""

from dftk.cli import main

main()
